//! Streaming CSV: a file larger than memory read as a sequence of bounded tables.

use std::io::Read;

use super::csv_rows::CsvRows;
use super::values::table_from_row_major;
use crate::error::InputError;
use crate::table::{Limits, Table};

/// Most values a chunk reserves up front, so a huge `chunk_rows` does not reserve memory that
/// the input may never fill.
const MAX_RESERVED_VALUES: usize = 1 << 20;

/// Values per chunk a caller of [`CsvChunks::with_chunk_values`] may use to keep every chunk
/// (and the work on it) small whatever the width: 1 Mi values, 8 MiB of numbers, so a chunk of
/// 10,000 columns has about 100 rows and one of 10 columns about 100,000.
pub const MAX_CHUNK_VALUES: usize = 1 << 20;

/// Reads a CSV of any length as tables of at most `chunk_rows` rows each, in constant memory, so
/// files larger than RAM can be scored chunk by chunk.
///
/// Cells follow the rules of [`super::csv::parse_csv`], and row numbers in errors count from the
/// start of the file, not of the chunk. `limits.max_rows` is **not** applied (a stream is meant to
/// be unbounded); the columns, the bytes of the header, of a column name and of every record
/// are, and no chunk holds more than `limits.max_values` values. An input with a header but no
/// data row yields one [`InputError::Empty`]. After the first error the iterator ends.
pub struct CsvChunks<R: Read> {
    rows: CsvRows<R>,
    chunk_rows: usize,
    done: bool,
}

impl<R: Read> CsvChunks<R> {
    /// Reads and checks the header; chunks have `chunk_rows` rows (0 is taken as 1), fewer if
    /// they would hold more than `limits.max_values` values.
    pub fn new(reader: R, chunk_rows: usize, limits: &Limits) -> Result<Self, InputError> {
        Self::with_chunk_values(reader, chunk_rows, limits.max_values, limits)
    }

    /// Like [`CsvChunks::new`], with chunks of at most `chunk_values` values (rows x columns,
    /// and `limits.max_values`) besides `chunk_rows` rows, so a wide file comes in chunks of
    /// fewer rows: `CsvChunks::with_chunk_values(reader, 16_384, MAX_CHUNK_VALUES, &limits)`.
    /// A chunk always has at least one row.
    pub fn with_chunk_values(
        reader: R,
        chunk_rows: usize,
        chunk_values: usize,
        limits: &Limits,
    ) -> Result<Self, InputError> {
        let rows = CsvRows::new(reader, limits)?.unbounded_rows();
        let width = rows.columns().len().max(1);
        let by_values = chunk_values.min(limits.max_values) / width;
        Ok(Self {
            chunk_rows: chunk_rows.min(by_values).max(1),
            rows,
            done: false,
        })
    }

    /// Rows per chunk (the last may have fewer).
    pub fn chunk_rows(&self) -> usize {
        self.chunk_rows
    }

    /// Column names from the header, in file order, so callers can align before the first chunk.
    pub fn columns(&self) -> &[String] {
        self.rows.columns()
    }

    /// Data rows read so far, to report progress.
    pub fn rows_read(&self) -> usize {
        self.rows.rows_read()
    }

    /// The same chunks, each with its rows' text as written, so a caller can echo the input
    /// without formatting the numbers again.
    pub fn with_text(self) -> TextChunks<R> {
        TextChunks { chunks: self }
    }

    /// The next chunk (with its rows' text into `text` when given); `None` at the end, and
    /// after the first error.
    fn advance(&mut self, text: Option<&mut RowsText>) -> Option<Result<Table, InputError>> {
        if self.done {
            return None;
        }
        let chunk = self.next_chunk(text).transpose();
        if !matches!(chunk, Some(Ok(_))) {
            self.done = true;
        }
        chunk
    }

    /// Reads the next chunk, or `None` at the end of the input.
    fn next_chunk(&mut self, mut text: Option<&mut RowsText>) -> Result<Option<Table>, InputError> {
        let width = self.rows.columns().len();
        let mut values = Vec::with_capacity(
            self.chunk_rows
                .saturating_mul(width)
                .min(MAX_RESERVED_VALUES),
        );
        let mut n_rows = 0;
        while n_rows < self.chunk_rows && self.rows.read_row(&mut values)? {
            if let Some(text) = text.as_deref_mut() {
                self.rows.append_row_text(&mut text.bytes);
                text.ends.push(text.bytes.len());
            }
            n_rows += 1;
        }
        if n_rows == 0 {
            return Ok(None);
        }
        table_from_row_major(self.rows.columns().to_vec(), values).map(Some)
    }
}

impl<R: Read> Iterator for CsvChunks<R> {
    type Item = Result<Table, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.advance(None)
    }
}

/// The rows of one chunk as they were written: cells trimmed and joined by commas, without the
/// line break.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowsText {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl RowsText {
    /// Row `i` of the chunk (empty past the last).
    pub fn row(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(usize::MAX),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(0);
        self.bytes.get(start..end).unwrap_or_default()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// [`CsvChunks`] with each chunk's rows' text (see [`CsvChunks::with_text`]).
pub struct TextChunks<R: Read> {
    chunks: CsvChunks<R>,
}

impl<R: Read> TextChunks<R> {
    /// Column names from the header, in file order.
    pub fn columns(&self) -> &[String] {
        self.chunks.columns()
    }
}

impl<R: Read> Iterator for TextChunks<R> {
    type Item = Result<(Table, RowsText), InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut text = RowsText::default();
        let chunk = self.chunks.advance(Some(&mut text))?;
        Some(chunk.map(|table| (table, text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tabular::test_support::LongLine;

    fn chunks(text: &str, chunk_rows: usize) -> Vec<Result<Table, InputError>> {
        CsvChunks::new(text.as_bytes(), chunk_rows, &Limits::default())
            .unwrap()
            .collect()
    }

    fn rows_per_chunk(results: &[Result<Table, InputError>]) -> Vec<Result<usize, InputError>> {
        results
            .iter()
            .map(|r| r.as_ref().map(Table::n_rows).map_err(Clone::clone))
            .collect()
    }

    #[test]
    fn when_text_is_kept_should_echo_each_row_as_written_beside_its_numbers() {
        let input = "a,b\n1.50, 2\n\"3\",4e2\n-0,7\n";
        let chunks: Vec<(Table, RowsText)> =
            CsvChunks::new(input.as_bytes(), 2, &Limits::default())
                .unwrap()
                .with_text()
                .map(Result::unwrap)
                .collect();
        assert_eq!(chunks.len(), 2);
        let (table, text) = &chunks[0];
        assert_eq!(table.n_rows(), 2);
        assert_eq!(text.len(), 2);
        assert_eq!(text.row(0), b"1.50,2");
        assert_eq!(text.row(1), b"3,4e2");
        assert_eq!(text.row(2), b"");
        assert_eq!(chunks[1].1.row(0), b"-0,7");
        assert_eq!(chunks[1].0.values()[[0, 1]], 7.0);
    }

    #[test]
    fn when_rows_do_not_divide_evenly_should_yield_a_short_last_chunk() {
        let results = chunks("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n", 2);
        assert_eq!(rows_per_chunk(&results), [Ok(2), Ok(2), Ok(1)]);
        let last = results.last().unwrap().as_ref().unwrap();
        assert_eq!(last.columns(), ["a", "b"]);
        assert_eq!(
            last.values().iter().copied().collect::<Vec<_>>(),
            [9.0, 10.0]
        );
    }

    #[test]
    fn when_rows_divide_evenly_should_yield_no_empty_chunk() {
        assert_eq!(rows_per_chunk(&chunks("a\n1\n2\n", 1)), [Ok(1), Ok(1)]);
    }

    #[test]
    fn when_chunk_rows_is_zero_should_use_one() {
        assert_eq!(rows_per_chunk(&chunks("a\n1\n2\n", 0)), [Ok(1), Ok(1)]);
    }

    #[test]
    fn when_header_is_read_should_expose_the_columns() {
        let stream = CsvChunks::new("x, y\n".as_bytes(), 10, &Limits::default()).unwrap();
        assert_eq!(stream.columns(), ["x", "y"]);
    }

    #[test]
    fn when_input_is_empty_should_fail_on_creation() {
        let err = CsvChunks::new(&b""[..], 10, &Limits::default()).err();
        assert_eq!(err, Some(InputError::Empty("no header row".into())));
    }

    #[test]
    fn when_only_header_should_yield_one_empty_error() {
        assert_eq!(
            rows_per_chunk(&chunks("a\n", 10)),
            [Err(InputError::Empty(
                "no data rows after the header".into()
            ))]
        );
    }

    #[test]
    fn when_later_chunk_has_a_bad_cell_should_name_the_global_row_and_stop() {
        let results = chunks("a\n1\n2\n3\nx\n5\n6\n", 2);
        assert_eq!(
            rows_per_chunk(&results),
            [
                Ok(2),
                Err(InputError::NotNumeric {
                    row: 4,
                    column: "a".into(),
                })
            ]
        );
    }

    #[test]
    fn when_stream_is_longer_than_max_rows_should_still_read_it() {
        let limits = Limits {
            max_rows: 1,
            max_columns: 1,
            ..Limits::default()
        };
        let stream = CsvChunks::new("a\n1\n2\n3\n".as_bytes(), 2, &limits).unwrap();
        let rows: usize = stream.map(|c| c.map(|t| t.n_rows()).unwrap_or(0)).sum();
        assert_eq!(rows, 3);
    }

    #[test]
    fn when_header_exceeds_max_columns_should_fail_on_creation() {
        let limits = Limits {
            max_rows: 1,
            max_columns: 1,
            ..Limits::default()
        };
        let err = CsvChunks::new("a,b\n1,2\n".as_bytes(), 2, &limits).err();
        assert_eq!(
            err,
            Some(InputError::TooLarge {
                what: "columns",
                limit: 1
            })
        );
    }

    #[test]
    fn when_a_streamed_line_is_50_mb_should_refuse_it_after_reading_about_the_record_limit() {
        let mut input = LongLine::new(b"a,b\n1,2\n3,4\n", 50 << 20);
        let results: Vec<_> = CsvChunks::new(&mut input, 1, &Limits::default())
            .unwrap()
            .collect();
        assert_eq!(
            rows_per_chunk(&results),
            [
                Ok(1),
                Ok(1),
                Err(InputError::TooLong {
                    what: "row 3".into(),
                    limit: 1 << 20
                })
            ]
        );
        assert!(input.at < (1 << 20) + 64 * 1024, "read {} bytes", input.at);
    }

    #[test]
    fn when_chunk_values_are_bounded_should_give_wide_tables_fewer_rows_per_chunk() {
        let header: Vec<String> = (0..100).map(|j| format!("c{j}")).collect();
        let row = vec!["1"; 100].join(",");
        let text = format!("{}\n{}", header.join(","), format!("{row}\n").repeat(25));
        let chunks =
            CsvChunks::with_chunk_values(text.as_bytes(), 16_384, 1_000, &Limits::default())
                .unwrap();
        assert_eq!(chunks.chunk_rows(), 10);
        let results: Vec<_> = chunks.collect();
        assert_eq!(rows_per_chunk(&results), [Ok(10), Ok(10), Ok(5)]);
        // At least one row per chunk, however wide.
        let one = CsvChunks::with_chunk_values(text.as_bytes(), 16_384, 7, &Limits::default());
        assert_eq!(one.unwrap().chunk_rows(), 1);
        // `new` keeps every chunk within the table value limit.
        let limits = Limits {
            max_values: 250,
            ..Limits::default()
        };
        assert_eq!(
            CsvChunks::new(text.as_bytes(), 16_384, &limits)
                .unwrap()
                .chunk_rows(),
            2
        );
        let recommended =
            CsvChunks::with_chunk_values(text.as_bytes(), 16_384, MAX_CHUNK_VALUES, &limits);
        assert_eq!(recommended.unwrap().chunk_rows(), 2);
        let recommended = CsvChunks::with_chunk_values(
            text.as_bytes(),
            16_384,
            MAX_CHUNK_VALUES,
            &Limits::default(),
        );
        assert_eq!(recommended.unwrap().chunk_rows(), (1 << 20) / 100);
    }

    #[test]
    fn when_chunks_are_read_should_count_rows() {
        let mut stream = CsvChunks::new("a\n1\n2\n3\n".as_bytes(), 2, &Limits::default()).unwrap();
        assert_eq!(stream.rows_read(), 0);
        let _ = stream.next();
        assert_eq!(stream.rows_read(), 2);
    }
}
