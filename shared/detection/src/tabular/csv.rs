//! Whole-input CSV parsing: a header row of column names, then rows of numbers.

use std::io::Read;

use super::csv_rows::CsvRows;
use super::values::table_from_row_major;
use crate::error::InputError;
use crate::table::{Limits, Table};

/// Parses a CSV with a header row into a [`Table`], so requests and uploads can carry CSV.
///
/// Cells are trimmed, may be quoted, and must be finite numbers; a UTF-8 byte order mark is
/// ignored. Fails with [`InputError::TooLarge`] as soon as `limits` are exceeded, without reading
/// the rest. Every error names the row (data rows counted from 1) and column.
pub fn parse_csv<R: Read>(reader: R, limits: &Limits) -> Result<Table, InputError> {
    let mut rows = CsvRows::new(reader, limits.max_columns, limits.max_rows)?;
    let mut values = Vec::new();
    while rows.read_row(&mut values)? {}
    table_from_row_major(rows.into_columns(), values)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::*;

    fn parse(text: &str) -> Result<Table, InputError> {
        parse_csv(text.as_bytes(), &Limits::default())
    }

    fn values(table: &Table) -> Vec<f64> {
        table.values().iter().copied().collect()
    }

    fn not_numeric(row: usize, column: &str, value: &str) -> InputError {
        InputError::NotNumeric {
            row,
            column: column.into(),
            value: value.into(),
        }
    }

    fn not_finite(row: usize, column: &str, value: &str) -> InputError {
        InputError::NotFinite {
            row,
            column: column.into(),
            value: value.into(),
        }
    }

    /// Endless `1,2\n` rows: a parser that reads on past its row limit never returns.
    struct EndlessRows {
        at: usize,
    }

    impl Read for EndlessRows {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            const ROW: &[u8] = b"1,2\n";
            for byte in buf.iter_mut() {
                *byte = ROW.get(self.at % ROW.len()).copied().unwrap_or(b'\n');
                self.at += 1;
            }
            Ok(buf.len())
        }
    }

    #[test]
    fn when_csv_is_valid_should_keep_column_order_and_values() {
        let table = parse("a,b\n1,2\n3.5,-4e2\n").unwrap();
        assert_eq!(table.columns(), ["a", "b"]);
        assert_eq!(table.n_rows(), 2);
        assert_eq!(values(&table), [1.0, 2.0, 3.5, -400.0]);
    }

    #[test]
    fn when_cells_have_spaces_quotes_bom_and_crlf_should_parse_them() {
        let table = parse("\u{feff} a ,\"b\"\r\n 1 ,\" 2 \"\r\n").unwrap();
        assert_eq!(table.columns(), ["a", "b"]);
        assert_eq!(values(&table), [1.0, 2.0]);
    }

    #[test]
    fn when_last_line_has_no_newline_should_read_it() {
        assert_eq!(values(&parse("a\n1\n2").unwrap()), [1.0, 2.0]);
    }

    #[test]
    fn when_input_is_empty_should_say_there_is_no_header() {
        let err = parse("").unwrap_err();
        assert_eq!(err, InputError::Empty("no header row".into()));
        assert_eq!(err.to_string(), "input is empty: no header row");
    }

    #[test]
    fn when_only_header_should_say_there_are_no_rows() {
        let err = parse("a,b\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "input is empty: no data rows after the header"
        );
    }

    #[test]
    fn when_row_is_ragged_should_name_row_and_counts() {
        let err = parse("a,b\n1,2\n3\n").unwrap_err();
        assert_eq!(
            err,
            InputError::RaggedRow {
                row: 2,
                found: 1,
                expected: 2
            }
        );
        assert_eq!(err.to_string(), "row 2 has 1 values; expected 2");
    }

    #[test]
    fn when_row_has_too_many_values_should_name_row_and_counts() {
        let err = parse("a,b\n1,2,3\n").unwrap_err();
        assert_eq!(
            err,
            InputError::RaggedRow {
                row: 1,
                found: 3,
                expected: 2
            }
        );
    }

    #[test]
    fn when_cell_is_not_a_number_should_name_row_column_and_value() {
        let err = parse("a,b\n1,2\n3,abc\n").unwrap_err();
        assert_eq!(err, not_numeric(2, "b", "abc"));
        assert_eq!(err.to_string(), "row 2, column 'b': 'abc' is not a number");
    }

    #[test]
    fn when_cell_is_empty_should_report_an_empty_value() {
        let err = parse("a,b\n1,\n").unwrap_err();
        assert_eq!(err, not_numeric(1, "b", ""));
        assert_eq!(err.to_string(), "row 1, column 'b': '' is not a number");
    }

    #[test]
    fn when_cell_is_long_should_truncate_it_in_the_error() {
        let long = "z".repeat(100);
        let err = parse(&format!("a\n{long}\n")).unwrap_err();
        assert_eq!(err, not_numeric(1, "a", &format!("{}...", "z".repeat(40))));
    }

    #[test]
    fn when_cell_is_nan_or_infinite_should_say_not_finite() {
        assert_eq!(parse("a\nNaN\n").unwrap_err(), not_finite(1, "a", "NaN"));
        assert_eq!(
            parse("a\n1\n-inf\n").unwrap_err(),
            not_finite(2, "a", "-inf")
        );
        let err = parse("a\n1e999\n").unwrap_err();
        assert_eq!(err, not_finite(1, "a", "1e999"));
        assert_eq!(
            err.to_string(),
            "row 1, column 'a': 1e999 is not a finite number"
        );
    }

    #[test]
    fn when_column_names_repeat_should_name_the_duplicate() {
        let err = parse("a,b,a\n1,2,3\n").unwrap_err();
        assert_eq!(err, InputError::DuplicateColumn("a".into()));
        assert_eq!(err.to_string(), "column 'a' appears more than once");
    }

    #[test]
    fn when_column_name_is_blank_should_name_its_position() {
        let err = parse("a, ,c\n1,2,3\n").unwrap_err();
        assert_eq!(err, InputError::EmptyColumnName(2));
        assert_eq!(err.to_string(), "column 2 has an empty name");
    }

    #[test]
    fn when_header_has_too_many_columns_should_fail_before_reading_rows() {
        let limits = Limits {
            max_rows: 10,
            max_columns: 2,
        };
        let err = parse_csv("a,b,c\nx\n".as_bytes(), &limits).unwrap_err();
        assert_eq!(
            err,
            InputError::TooLarge {
                what: "columns",
                limit: 2
            }
        );
        assert_eq!(err.to_string(), "too many columns: more than 2");
    }

    #[test]
    fn when_rows_reach_the_limit_should_accept_them() {
        let limits = Limits {
            max_rows: 2,
            max_columns: 2,
        };
        assert!(parse_csv("a\n1\n2\n".as_bytes(), &limits).is_ok());
    }

    #[test]
    fn when_rows_exceed_the_limit_should_stop_reading_at_once() {
        let limits = Limits {
            max_rows: 1000,
            max_columns: 2,
        };
        let input = b"a,b\n".chain(EndlessRows { at: 0 });
        let err = parse_csv(input, &limits).unwrap_err();
        assert_eq!(
            err,
            InputError::TooLarge {
                what: "rows",
                limit: 1000
            }
        );
        assert_eq!(err.to_string(), "too many rows: more than 1000");
    }

    #[test]
    fn when_cell_is_not_utf8_should_say_malformed_csv() {
        let err = parse_csv(&b"a\n\xff\n"[..], &Limits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed CSV: row 1, column 'a': not valid UTF-8"
        );
    }

    #[test]
    fn when_header_is_not_utf8_should_say_malformed_csv() {
        let err = parse_csv(&b"a,\xc3\n1,2\n"[..], &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            InputError::Malformed {
                format: "CSV",
                message: "header, column 2: not valid UTF-8".into()
            }
        );
    }

    #[test]
    fn when_reading_fails_should_say_which_row() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let err = parse_csv(b"a\n1\n".chain(Failing), &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            InputError::Malformed {
                format: "CSV",
                message: "cannot read row 2: disk gone".into()
            }
        );
    }
}
