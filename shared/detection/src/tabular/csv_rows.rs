//! The CSV row reader that both [`super::csv::parse_csv`] and [`super::stream::CsvChunks`] are
//! built on: reads the header, then one row at a time into numbers, counting rows globally and
//! bounding every record in bytes before it is buffered whole.

use std::io::Read;

use ::csv::{ByteRecord, Reader, ReaderBuilder};

use super::byte_limit::ByteLimit;
use crate::error::InputError;
use crate::table::{check_header, check_values, Limits};

/// Bytes the CSV reader reads ahead of the record it parses (its buffer): the slack a record's
/// byte limit allows the underlying reader.
const READ_AHEAD: usize = 8 << 10;

/// Reads a CSV header, then data rows as finite numbers, reusing one record buffer throughout.
pub(crate) struct CsvRows<R: Read> {
    reader: Reader<ByteLimit<R>>,
    record: ByteRecord,
    columns: Vec<String>,
    rows_read: usize,
    max_rows: usize,
    max_values: usize,
    max_record_bytes: usize,
}

impl<R: Read> CsvRows<R> {
    /// Reads and checks the header: at most `limits.max_header_bytes`, at least one and at
    /// most `limits.max_columns` columns, names unique, non-empty and at most
    /// `limits.max_column_name_bytes`. Data rows past `limits.max_rows` (or `max_values`
    /// values) fail with [`InputError::TooLarge`], records longer than `max_record_bytes` with
    /// [`InputError::TooLong`].
    pub(crate) fn new(reader: R, limits: &Limits) -> Result<Self, InputError> {
        // The header is read as an ordinary record (not with `has_headers`) so that every row
        // number and every error is ours; `flexible` lets ragged rows reach our own check.
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(READ_AHEAD)
            .from_reader(ByteLimit::new(reader));
        let mut record = ByteRecord::new();
        let has_header = read_bounded(&mut reader, &mut record, limits.max_header_bytes)
            .map_err(|e| e.into_input_error("the header"))?;
        if !has_header {
            return Err(InputError::Empty("no header row".into()));
        }
        if record.len() > limits.max_columns {
            return Err(InputError::TooLarge {
                what: "columns",
                limit: limits.max_columns,
            });
        }
        let columns = header_names(&record)?;
        check_header(&columns, limits)?;
        Ok(Self {
            reader,
            record,
            columns,
            rows_read: 0,
            max_rows: limits.max_rows,
            max_values: limits.max_values,
            max_record_bytes: limits.max_record_bytes,
        })
    }

    /// The same reader without a bound on the rows and values read (a stream's chunks are
    /// bounded on their own); records stay bounded in bytes.
    pub(crate) fn unbounded_rows(self) -> Self {
        Self {
            max_rows: usize::MAX,
            max_values: usize::MAX,
            ..self
        }
    }

    /// Column names from the header, trimmed, in file order.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Gives up the reader, keeping the column names.
    pub(crate) fn into_columns(self) -> Vec<String> {
        self.columns
    }

    /// Number of data rows read so far.
    pub(crate) fn rows_read(&self) -> usize {
        self.rows_read
    }

    /// Appends the row just read, as it was written (cells trimmed of ASCII whitespace and
    /// unquoted, joined by commas), to `out`. Every cell parsed as a finite number, so none holds
    /// a comma, a quote or a line break.
    pub(crate) fn append_row_text(&self, out: &mut Vec<u8>) {
        for (i, cell) in self.record.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(cell.trim_ascii());
        }
    }

    /// Appends the next row's numbers to `out` and returns `true`, or returns `false` at the end
    /// of the input. An input without any data row is [`InputError::Empty`]. On error `out` may
    /// hold part of the row.
    pub(crate) fn read_row(&mut self, out: &mut Vec<f64>) -> Result<bool, InputError> {
        let row = self.rows_read.saturating_add(1);
        let more = read_bounded(&mut self.reader, &mut self.record, self.max_record_bytes)
            .map_err(|e| e.into_input_error(&format!("row {row}")))?;
        if !more {
            if self.rows_read == 0 {
                return Err(InputError::Empty("no data rows after the header".into()));
            }
            return Ok(false);
        }
        if row > self.max_rows {
            return Err(InputError::TooLarge {
                what: "rows",
                limit: self.max_rows,
            });
        }
        check_values(row, self.columns.len(), self.max_values)?;
        self.rows_read = row;
        if self.record.len() != self.columns.len() {
            return Err(InputError::RaggedRow {
                row,
                found: self.record.len(),
                expected: self.columns.len(),
            });
        }
        for (cell, column) in self.record.iter().zip(&self.columns) {
            out.push(parse_cell(cell, row, column)?);
        }
        Ok(true)
    }
}

/// Why a bounded read failed: the record was too long, or the CSV reader's own error.
enum ReadFailure {
    TooLong(usize),
    Csv(String),
}

impl ReadFailure {
    /// The input error of reading `what` (`the header`, `row 3`).
    fn into_input_error(self, what: &str) -> InputError {
        match self {
            Self::TooLong(limit) => InputError::TooLong {
                what: what.to_owned(),
                limit,
            },
            Self::Csv(message) => malformed(format!("cannot read {what}: {message}")),
        }
    }
}

/// Reads the next record into `record`, refusing one longer than `limit` bytes (its line
/// break included) after reading at most about `limit` bytes of it.
fn read_bounded<R: Read>(
    reader: &mut Reader<ByteLimit<R>>,
    record: &mut ByteRecord,
    limit: usize,
) -> Result<bool, ReadFailure> {
    let start = reader.position().byte();
    reader
        .get_mut()
        .allow(start, limit.saturating_add(READ_AHEAD).saturating_add(1));
    match reader.read_byte_record(record) {
        Ok(more) => {
            let end = reader.position().byte();
            if end.saturating_sub(start) > limit as u64 {
                Err(ReadFailure::TooLong(limit))
            } else {
                Ok(more)
            }
        }
        Err(_) if reader.get_ref().hit() => Err(ReadFailure::TooLong(limit)),
        Err(e) => Err(ReadFailure::Csv(e.to_string())),
    }
}

/// The header's names, trimmed, without a UTF-8 byte order mark.
fn header_names(record: &ByteRecord) -> Result<Vec<String>, InputError> {
    record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let name = std::str::from_utf8(field)
                .map_err(|_| malformed(format!("header, column {}: not valid UTF-8", i + 1)))?;
            Ok(name.trim_start_matches('\u{feff}').trim().to_owned())
        })
        .collect()
}

/// One CSV cell as a finite number; surrounding ASCII whitespace is ignored.
fn parse_cell(cell: &[u8], row: usize, column: &str) -> Result<f64, InputError> {
    let text = std::str::from_utf8(cell.trim_ascii())
        .map_err(|_| malformed(format!("row {row}, column '{column}': not valid UTF-8")))?;
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(InputError::NotFinite {
            row,
            column: column.to_owned(),
        }),
        Err(_) => Err(InputError::NotNumeric {
            row,
            column: column.to_owned(),
        }),
    }
}

fn malformed(message: String) -> InputError {
    InputError::Malformed {
        format: "CSV",
        message,
    }
}
