//! The CSV row reader that both [`super::csv::parse_csv`] and [`super::stream::CsvChunks`] are
//! built on: reads the header, then one row at a time into numbers, counting rows globally.

use std::io::Read;

use ::csv::{ByteRecord, Reader, ReaderBuilder};

use super::values::shown;
use crate::error::InputError;
use crate::table::check_columns;

/// Reads a CSV header, then data rows as finite numbers, reusing one record buffer throughout.
pub(crate) struct CsvRows<R: Read> {
    reader: Reader<R>,
    record: ByteRecord,
    columns: Vec<String>,
    rows_read: usize,
    max_rows: usize,
}

impl<R: Read> CsvRows<R> {
    /// Reads and checks the header: at least one and at most `max_columns` columns, names unique
    /// and non-empty. Data rows past `max_rows` fail with [`InputError::TooLarge`].
    pub(crate) fn new(reader: R, max_columns: usize, max_rows: usize) -> Result<Self, InputError> {
        // The header is read as an ordinary record (not with `has_headers`) so that every row
        // number and every error is ours; `flexible` lets ragged rows reach our own check.
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut record = ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut record)
            .map_err(|e| malformed(format!("cannot read the header: {e}")))?;
        if !has_header {
            return Err(InputError::Empty("no header row".into()));
        }
        if record.len() > max_columns {
            return Err(InputError::TooLarge {
                what: "columns",
                limit: max_columns,
            });
        }
        let columns = header_names(&record)?;
        check_columns(&columns)?;
        Ok(Self {
            reader,
            record,
            columns,
            rows_read: 0,
            max_rows,
        })
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
        let more = self
            .reader
            .read_byte_record(&mut self.record)
            .map_err(|e| malformed(format!("cannot read row {row}: {e}")))?;
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
            value: shown(text),
        }),
        Err(_) => Err(InputError::NotNumeric {
            row,
            column: column.to_owned(),
            value: shown(text),
        }),
    }
}

fn malformed(message: String) -> InputError {
    InputError::Malformed {
        format: "CSV",
        message,
    }
}
