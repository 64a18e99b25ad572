//! JSON tables, in either of two shapes: `{"columns": [...], "rows": [[...]]}` or an array of
//! records `[{"column": number}]`.

use serde_json::{Map, Value};

use super::values::{shown, table_from_row_major};
use crate::error::InputError;
use crate::table::{check_header, check_values, Limits, Table};

/// The shapes a JSON table may take, repeated in every shape error.
const SHAPES: &str = r#"expected {"columns": ["a", "b"], "rows": [[1, 2], [3, 4]]} or an array of records [{"a": 1, "b": 2}, {"a": 3, "b": 4}]"#;

/// Parses a JSON table from bytes, so requests and uploads can carry JSON.
///
/// See [`table_from_json_value`] for the accepted shapes and rules.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Table, InputError> {
    if bytes.trim_ascii().is_empty() {
        return Err(InputError::Empty("no JSON value".into()));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    table_from_json_value(&value, limits)
}

/// Reads a table from an already parsed JSON value, for requests that embed the table in a larger
/// body (as its `data` field).
///
/// Accepts `{"columns": ["a", "b"], "rows": [[1, 2], [3, 4]]}` (no other fields) or records
/// `[{"a": 1, "b": 2}, {"a": 3, "b": 4}]`, whose columns are the first record's keys in order and
/// which must all have exactly those keys. Every value must be a JSON number. Rows are counted
/// from 1, and every error names the row and column, never a value. `limits` bound the rows,
/// columns, values and the bytes of a column name.
pub fn table_from_json_value(value: &Value, limits: &Limits) -> Result<Table, InputError> {
    match value {
        Value::Object(fields) => from_columns_and_rows(fields, limits),
        Value::Array(records) => from_records(records, limits),
        other => Err(malformed(format!("{SHAPES}; found {}", kind(other)))),
    }
}

/// The `{"columns": [...], "rows": [[...]]}` shape.
fn from_columns_and_rows(
    fields: &Map<String, Value>,
    limits: &Limits,
) -> Result<Table, InputError> {
    if let Some(unknown) = fields.keys().find(|k| *k != "columns" && *k != "rows") {
        return Err(malformed(format!(
            "unknown field '{}'; {SHAPES}",
            shown(unknown)
        )));
    }
    let field = |name: &str| {
        fields
            .get(name)
            .ok_or_else(|| malformed(format!("missing field '{name}'; {SHAPES}")))
    };
    let (names, rows) = (field("columns")?, field("rows")?);

    let names = names
        .as_array()
        .ok_or_else(|| malformed("'columns' must be an array of strings".into()))?;
    check_column_count(names.len(), limits)?;
    let columns = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            name.as_str().map(str::to_owned).ok_or_else(|| {
                malformed(format!(
                    "'columns' must be an array of strings; column {} is {}",
                    i + 1,
                    kind(name)
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_header(&columns, limits)?;

    let rows = rows
        .as_array()
        .ok_or_else(|| malformed("'rows' must be an array of arrays of numbers".into()))?;
    check_row_count(rows.len(), columns.len(), limits)?;
    let mut values = Vec::new();
    for (row, cells) in (1..).zip(rows) {
        let cells = cells.as_array().ok_or_else(|| {
            malformed(format!(
                "row {row} must be an array of numbers; found {}",
                kind(cells)
            ))
        })?;
        if cells.len() != columns.len() {
            return Err(InputError::RaggedRow {
                row,
                found: cells.len(),
                expected: columns.len(),
            });
        }
        for (cell, column) in cells.iter().zip(&columns) {
            values.push(number(cell, row, column)?);
        }
    }
    table_from_row_major(columns, values)
}

/// The `[{"column": number}]` shape.
fn from_records(records: &[Value], limits: &Limits) -> Result<Table, InputError> {
    let Some(first) = records.first() else {
        return Err(InputError::Empty("no rows".into()));
    };
    let first = first
        .as_object()
        .ok_or_else(|| malformed(format!("{SHAPES}; found an array of {}", kind(first))))?;
    check_column_count(first.len(), limits)?;
    let columns: Vec<String> = first.keys().cloned().collect();
    check_header(&columns, limits)?;
    check_row_count(records.len(), columns.len(), limits)?;

    let mut values = Vec::new();
    for (row, record) in (1..).zip(records) {
        let record = record.as_object().ok_or_else(|| {
            malformed(format!(
                "row {row} must be an object like the first record; found {}",
                kind(record)
            ))
        })?;
        for column in &columns {
            let cell = record.get(column).ok_or_else(|| InputError::MissingKey {
                row,
                column: column.clone(),
            })?;
            values.push(number(cell, row, column)?);
        }
        // Every column is present and keys are unique, so a longer record has an extra key.
        if record.len() != columns.len() {
            if let Some(extra) = record.keys().find(|k| !first.contains_key(*k)) {
                return Err(InputError::UnexpectedKey {
                    row,
                    column: shown(extra),
                });
            }
        }
    }
    table_from_row_major(columns, values)
}

/// One JSON cell as a finite number.
fn number(cell: &Value, row: usize, column: &str) -> Result<f64, InputError> {
    match cell.as_f64() {
        Some(value) if value.is_finite() => Ok(value),
        Some(_) => Err(InputError::NotFinite {
            row,
            column: column.to_owned(),
        }),
        None => Err(InputError::NotNumeric {
            row,
            column: column.to_owned(),
        }),
    }
}

fn check_column_count(n: usize, limits: &Limits) -> Result<(), InputError> {
    if n == 0 {
        return Err(InputError::Empty("no columns".into()));
    }
    if n > limits.max_columns {
        return Err(InputError::TooLarge {
            what: "columns",
            limit: limits.max_columns,
        });
    }
    Ok(())
}

/// Checks the row count, and that `n` rows of `columns` values are within the limits.
fn check_row_count(n: usize, columns: usize, limits: &Limits) -> Result<(), InputError> {
    if n == 0 {
        return Err(InputError::Empty("no rows".into()));
    }
    if n > limits.max_rows {
        return Err(InputError::TooLarge {
            what: "rows",
            limit: limits.max_rows,
        });
    }
    check_values(n, columns, limits.max_values)
}

/// What a value is, for shape errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn malformed(message: String) -> InputError {
    InputError::Malformed {
        format: "JSON",
        message,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Result<Table, InputError> {
        parse_json(text.as_bytes(), &Limits::default())
    }

    fn values(table: &Table) -> Vec<f64> {
        table.values().iter().copied().collect()
    }

    fn small_limits() -> Limits {
        Limits {
            max_rows: 2,
            max_columns: 2,
            ..Limits::default()
        }
    }

    fn not_numeric(row: usize, column: &str) -> InputError {
        InputError::NotNumeric {
            row,
            column: column.into(),
        }
    }

    fn malformed_message(err: InputError) -> String {
        match err {
            InputError::Malformed {
                format: "JSON",
                message,
            } => message,
            other => panic!("expected malformed JSON, got {other:?}"),
        }
    }

    #[test]
    fn when_columns_and_rows_are_valid_should_keep_order_and_values() {
        let table = parse(r#"{"columns":["b","a"],"rows":[[1,2],[3.5,-4e2]]}"#).unwrap();
        assert_eq!(table.columns(), ["b", "a"]);
        assert_eq!(values(&table), [1.0, 2.0, 3.5, -400.0]);
    }

    #[test]
    fn when_records_are_valid_should_take_the_first_records_key_order() {
        let table = parse(r#"[{"z":1,"a":2},{"a":4,"z":3}]"#).unwrap();
        assert_eq!(table.columns(), ["z", "a"]);
        assert_eq!(values(&table), [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn when_table_is_embedded_in_a_request_should_read_the_value() {
        let body = json!({"threshold": 0.9, "data": {"columns": ["a"], "rows": [[7]]}});
        let table = table_from_json_value(&body["data"], &Limits::default()).unwrap();
        assert_eq!(values(&table), [7.0]);
    }

    #[test]
    fn when_input_is_blank_should_say_empty() {
        let err = parse("  \n").unwrap_err();
        assert_eq!(err.to_string(), "input is empty: no JSON value");
    }

    #[test]
    fn when_json_is_invalid_should_say_where() {
        let err = parse(r#"{"columns": ["a"], "rows": [[1,]]}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed JSON: trailing comma at line 1 column 32"
        );
    }

    #[test]
    fn when_number_overflows_should_say_malformed() {
        let err = parse(r#"[{"a": 1e999}]"#).unwrap_err();
        assert!(malformed_message(err).starts_with("number out of range"));
    }

    #[test]
    fn when_top_level_is_not_a_table_should_list_accepted_shapes() {
        let err = parse("42").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"malformed JSON: expected {"columns": ["a", "b"], "rows": [[1, 2], [3, 4]]} or an array of records [{"a": 1, "b": 2}, {"a": 3, "b": 4}]; found a number"#
        );
    }

    #[test]
    fn when_array_holds_arrays_should_list_accepted_shapes() {
        let message = malformed_message(parse("[[1,2],[3,4]]").unwrap_err());
        assert_eq!(message, format!("{SHAPES}; found an array of an array"));
    }

    #[test]
    fn when_object_has_an_unknown_field_should_name_it() {
        let err = parse(r#"{"columns":["a"],"rows":[[1]],"extra":true}"#).unwrap_err();
        assert_eq!(
            malformed_message(err),
            format!("unknown field 'extra'; {SHAPES}")
        );
    }

    #[test]
    fn when_object_lacks_rows_should_say_so() {
        let err = parse(r#"{"columns":["a"]}"#).unwrap_err();
        assert_eq!(
            malformed_message(err),
            format!("missing field 'rows'; {SHAPES}")
        );
    }

    #[test]
    fn when_a_column_name_is_not_a_string_should_name_its_position() {
        let err = parse(r#"{"columns":["a",2],"rows":[[1,2]]}"#).unwrap_err();
        assert_eq!(
            malformed_message(err),
            "'columns' must be an array of strings; column 2 is a number"
        );
    }

    #[test]
    fn when_row_is_ragged_should_name_row_and_counts() {
        let err = parse(r#"{"columns":["a","b"],"rows":[[1,2],[3]]}"#).unwrap_err();
        assert_eq!(
            err,
            InputError::RaggedRow {
                row: 2,
                found: 1,
                expected: 2
            }
        );
    }

    #[test]
    fn when_value_is_not_a_number_should_name_row_and_column_but_not_the_value() {
        assert_eq!(
            parse(r#"{"columns":["a","b"],"rows":[[1,null]]}"#).unwrap_err(),
            not_numeric(1, "b")
        );
        assert_eq!(
            parse(r#"[{"a":1},{"a":true}]"#).unwrap_err(),
            not_numeric(2, "a")
        );
        let err = parse(r#"[{"a":"secret-token"}]"#).unwrap_err();
        assert_eq!(err, not_numeric(1, "a"));
        assert_eq!(
            err.to_string(),
            "row 1, column 'a': the value is not a number"
        );
        assert_eq!(parse(r#"[{"a":[1]}]"#).unwrap_err(), not_numeric(1, "a"));
    }

    #[test]
    fn when_a_row_or_record_has_the_wrong_shape_should_name_its_kind_not_its_content() {
        let err = parse(r#"{"columns":["a"],"rows":[[1],{"a":"secret"}]}"#).unwrap_err();
        assert_eq!(
            malformed_message(err),
            "row 2 must be an array of numbers; found an object"
        );
        let err = parse(r#"[{"a":1},["secret"]]"#).unwrap_err();
        assert_eq!(
            malformed_message(err),
            "row 2 must be an object like the first record; found an array"
        );
    }

    #[test]
    fn when_values_or_names_exceed_the_limits_should_say_which() {
        let limits = Limits {
            max_values: 3,
            ..Limits::default()
        };
        let err = parse_json(br#"{"columns":["a","b"],"rows":[[1,2],[3,4]]}"#, &limits);
        assert_eq!(
            err.unwrap_err().to_string(),
            "too many values (rows x columns): more than 3"
        );
        let long = "n".repeat(257);
        let err = parse(&format!(r#"[{{"a":1,"{long}":2}}]"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the name of column 2 is longer than 256 bytes"
        );
    }

    #[test]
    fn when_record_lacks_a_key_should_name_row_and_column() {
        let err = parse(r#"[{"a":1,"b":2},{"a":3}]"#).unwrap_err();
        assert_eq!(
            err,
            InputError::MissingKey {
                row: 2,
                column: "b".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "row 2 has no key 'b' (every record needs the first record's keys)"
        );
    }

    #[test]
    fn when_record_has_an_extra_key_should_name_row_and_column() {
        let err = parse(r#"[{"a":1},{"a":2},{"c":4,"a":3}]"#).unwrap_err();
        assert_eq!(
            err,
            InputError::UnexpectedKey {
                row: 3,
                column: "c".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "row 3 has key 'c', which the first record does not have"
        );
    }

    #[test]
    fn when_there_are_no_rows_or_columns_should_say_empty() {
        assert_eq!(
            parse("[]").unwrap_err(),
            InputError::Empty("no rows".into())
        );
        assert_eq!(
            parse("[{}]").unwrap_err(),
            InputError::Empty("no columns".into())
        );
        assert_eq!(
            parse(r#"{"columns":[],"rows":[]}"#).unwrap_err(),
            InputError::Empty("no columns".into())
        );
        assert_eq!(
            parse(r#"{"columns":["a"],"rows":[]}"#).unwrap_err(),
            InputError::Empty("no rows".into())
        );
    }

    #[test]
    fn when_column_names_repeat_or_are_blank_should_say_which() {
        assert_eq!(
            parse(r#"{"columns":["a","a"],"rows":[[1,2]]}"#).unwrap_err(),
            InputError::DuplicateColumn("a".into())
        );
        assert_eq!(
            parse(r#"[{"a":1," ":2}]"#).unwrap_err(),
            InputError::EmptyColumnName(2)
        );
    }

    #[test]
    fn when_limits_are_exceeded_should_say_too_large() {
        let too_many_rows = br#"{"columns":["a"],"rows":[[1],[2],[3]]}"#;
        assert_eq!(
            parse_json(too_many_rows, &small_limits()).unwrap_err(),
            InputError::TooLarge {
                what: "rows",
                limit: 2
            }
        );
        let too_many_columns = br#"[{"a":1,"b":2,"c":3}]"#;
        assert_eq!(
            parse_json(too_many_columns, &small_limits()).unwrap_err(),
            InputError::TooLarge {
                what: "columns",
                limit: 2
            }
        );
    }
}
