//! Whole-input CSV parsing: a header row of column names, then rows of numbers.

use std::io::Read;

use super::csv_rows::CsvRows;
use super::values::table_from_row_major;
use crate::error::InputError;
use crate::table::{Limits, Table};

/// Parses a CSV with a header row into a [`Table`], so requests and uploads can carry CSV.
///
/// Cells are trimmed, may be quoted, and must be finite numbers; a UTF-8 byte order mark is
/// ignored. Fails with [`InputError::TooLarge`] or [`InputError::TooLong`] as soon as `limits`
/// are exceeded, without reading the rest (a record too long is refused after about
/// `max_record_bytes` of it). Every error names the row (data rows counted from 1) and column,
/// never a cell's value.
pub fn parse_csv<R: Read>(reader: R, limits: &Limits) -> Result<Table, InputError> {
    let mut rows = CsvRows::new(reader, limits)?;
    let mut values = Vec::new();
    while rows.read_row(&mut values)? {}
    table_from_row_major(rows.into_columns(), values)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::*;
    use crate::tabular::test_support::LongLine;

    fn parse(text: &str) -> Result<Table, InputError> {
        parse_csv(text.as_bytes(), &Limits::default())
    }

    fn values(table: &Table) -> Vec<f64> {
        table.values().iter().copied().collect()
    }

    fn not_numeric(row: usize, column: &str) -> InputError {
        InputError::NotNumeric {
            row,
            column: column.into(),
        }
    }

    fn not_finite(row: usize, column: &str) -> InputError {
        InputError::NotFinite {
            row,
            column: column.into(),
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
    fn when_cell_is_not_a_number_should_name_row_and_column_but_not_the_value() {
        let err = parse("a,b\n1,2\n3,secret-token\n").unwrap_err();
        assert_eq!(err, not_numeric(2, "b"));
        assert_eq!(
            err.to_string(),
            "row 2, column 'b': the value is not a number"
        );
    }

    #[test]
    fn when_cell_is_empty_should_say_it_is_not_a_number() {
        assert_eq!(parse("a,b\n1,\n").unwrap_err(), not_numeric(1, "b"));
    }

    #[test]
    fn when_cell_is_nan_or_infinite_should_say_not_finite() {
        assert_eq!(parse("a\nNaN\n").unwrap_err(), not_finite(1, "a"));
        assert_eq!(parse("a\n1\n-inf\n").unwrap_err(), not_finite(2, "a"));
        let err = parse("a\n1e999\n").unwrap_err();
        assert_eq!(err, not_finite(1, "a"));
        assert_eq!(
            err.to_string(),
            "row 1, column 'a': the value is not a finite number"
        );
    }

    #[test]
    fn when_a_line_is_50_mb_should_refuse_it_after_reading_about_the_record_limit() {
        let mut input = LongLine::new(b"a\n1\n", 50 << 20);
        let err = parse_csv(&mut input, &Limits::default()).unwrap_err();
        assert_eq!(
            err,
            InputError::TooLong {
                what: "row 2".into(),
                limit: 1 << 20
            }
        );
        assert_eq!(err.to_string(), "row 2 is longer than 1048576 bytes");
        assert!(input.at < (1 << 20) + 64 * 1024, "read {} bytes", input.at);
    }

    #[test]
    fn when_a_record_is_just_over_the_limit_should_refuse_it_and_at_the_limit_accept_it() {
        let limits = Limits {
            max_record_bytes: 8,
            ..Limits::default()
        };
        assert!(parse_csv("a\n1234567\n".as_bytes(), &limits).is_ok());
        assert_eq!(
            parse_csv("a\n12345678\n".as_bytes(), &limits).unwrap_err(),
            InputError::TooLong {
                what: "row 1".into(),
                limit: 8
            }
        );
        // A quoted record spanning lines counts whole.
        let quoted = "a\n\"1\n\n\n\n\n\n\n\n\"\n";
        assert!(matches!(
            parse_csv(quoted.as_bytes(), &limits),
            Err(InputError::TooLong { .. })
        ));
    }

    #[test]
    fn when_the_header_or_a_name_is_too_long_should_say_which() {
        let mut input = LongLine::new(b"", 10 << 20);
        let err = parse_csv(&mut input, &Limits::default()).unwrap_err();
        assert_eq!(err.to_string(), "the header is longer than 262144 bytes");
        assert!(
            input.at < (256 << 10) + 64 * 1024,
            "read {} bytes",
            input.at
        );
        let long_name = format!("a,{}\n1,2\n", "n".repeat(257));
        assert_eq!(
            parse(&long_name).unwrap_err().to_string(),
            "the name of column 2 is longer than 256 bytes"
        );
    }

    #[test]
    fn when_a_table_has_1555_columns_should_parse_it() {
        let header: Vec<String> = (0..1555).map(|j| format!("feature_{j}")).collect();
        let row = vec!["0.5"; 1555].join(",");
        let text = format!("{}\n{row}\n{row}\n", header.join(","));
        let table = parse(&text).unwrap();
        assert_eq!((table.n_rows(), table.columns().len()), (2, 1555));
    }

    #[test]
    fn when_values_exceed_the_limit_should_stop_reading_at_once() {
        let limits = Limits {
            max_values: 10,
            ..Limits::default()
        };
        let input = b"a,b\n".chain(EndlessRows { at: 0 });
        assert_eq!(
            parse_csv(input, &limits).unwrap_err().to_string(),
            "too many values (rows x columns): more than 10"
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
            ..Limits::default()
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
            ..Limits::default()
        };
        assert!(parse_csv("a\n1\n2\n".as_bytes(), &limits).is_ok());
    }

    #[test]
    fn when_rows_exceed_the_limit_should_stop_reading_at_once() {
        let limits = Limits {
            max_rows: 1000,
            max_columns: 2,
            ..Limits::default()
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
