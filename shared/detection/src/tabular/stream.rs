//! Streaming CSV: a file larger than memory read as a sequence of bounded tables.

use std::io::Read;

use super::csv_rows::CsvRows;
use super::values::table_from_row_major;
use crate::error::InputError;
use crate::table::{Limits, Table};

/// Most values a chunk reserves up front, so a huge `chunk_rows` does not reserve memory that
/// the input may never fill.
const MAX_RESERVED_VALUES: usize = 1 << 20;

/// Reads a CSV of any length as tables of at most `chunk_rows` rows each, in constant memory, so
/// files larger than RAM can be scored chunk by chunk.
///
/// Cells follow the rules of [`super::csv::parse_csv`], and row numbers in errors count from the
/// start of the file, not of the chunk. `limits.max_rows` is **not** applied (a stream is meant to
/// be unbounded); `limits.max_columns` is. An input with a header but no data row yields one
/// [`InputError::Empty`]. After the first error the iterator ends.
pub struct CsvChunks<R: Read> {
    rows: CsvRows<R>,
    chunk_rows: usize,
    done: bool,
}

impl<R: Read> CsvChunks<R> {
    /// Reads and checks the header; `chunk_rows` of 0 is taken as 1.
    pub fn new(reader: R, chunk_rows: usize, limits: &Limits) -> Result<Self, InputError> {
        Ok(Self {
            rows: CsvRows::new(reader, limits.max_columns, usize::MAX)?,
            chunk_rows: chunk_rows.max(1),
            done: false,
        })
    }

    /// Column names from the header, in file order, so callers can align before the first chunk.
    pub fn columns(&self) -> &[String] {
        self.rows.columns()
    }

    /// Data rows read so far, to report progress.
    pub fn rows_read(&self) -> usize {
        self.rows.rows_read()
    }

    /// Reads the next chunk, or `None` at the end of the input.
    fn next_chunk(&mut self) -> Result<Option<Table>, InputError> {
        let width = self.rows.columns().len();
        let mut values = Vec::with_capacity(
            self.chunk_rows
                .saturating_mul(width)
                .min(MAX_RESERVED_VALUES),
        );
        let mut n_rows = 0;
        while n_rows < self.chunk_rows && self.rows.read_row(&mut values)? {
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
        if self.done {
            return None;
        }
        let chunk = self.next_chunk().transpose();
        if !matches!(chunk, Some(Ok(_))) {
            self.done = true;
        }
        chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    value: "x".into()
                })
            ]
        );
    }

    #[test]
    fn when_stream_is_longer_than_max_rows_should_still_read_it() {
        let limits = Limits {
            max_rows: 1,
            max_columns: 1,
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
    fn when_chunks_are_read_should_count_rows() {
        let mut stream = CsvChunks::new("a\n1\n2\n3\n".as_bytes(), 2, &Limits::default()).unwrap();
        assert_eq!(stream.rows_read(), 0);
        let _ = stream.next();
        assert_eq!(stream.rows_read(), 2);
    }
}
