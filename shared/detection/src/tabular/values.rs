//! Value handling shared by the CSV and JSON parsers: showing a key or column name in an error
//! message and turning row-major numbers into a [`Table`]. Cell values are never shown: errors
//! reach logs and job records.

use ndarray::Array2;

use crate::error::InputError;
use crate::table::Table;

/// Most characters of a key or name that an error message repeats, so one huge key cannot make
/// a huge error response.
pub(crate) const SHOWN_CHARS: usize = 40;

/// A key's text as an error message shows it: at most [`SHOWN_CHARS`] characters, then `...`.
pub(crate) fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}...", text.get(..end).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Builds a table from `values` holding whole rows of `columns.len()` numbers, one after another.
pub(crate) fn table_from_row_major(
    columns: Vec<String>,
    values: Vec<f64>,
) -> Result<Table, InputError> {
    let n_columns = columns.len();
    let n_rows = values.len().checked_div(n_columns).unwrap_or(0);
    let matrix =
        Array2::from_shape_vec((n_rows, n_columns), values).map_err(|e| InputError::Malformed {
            format: "table",
            message: format!("values do not fill {n_rows} rows of {n_columns} columns: {e}"),
        })?;
    Table::new(columns, matrix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_text_is_short_should_show_it_whole() {
        assert_eq!(shown("abc"), "abc");
        assert_eq!(shown(&"x".repeat(SHOWN_CHARS)), "x".repeat(SHOWN_CHARS));
    }

    #[test]
    fn when_text_is_long_should_cut_it_at_a_char_boundary() {
        let text = "é".repeat(SHOWN_CHARS + 5);
        assert_eq!(shown(&text), format!("{}...", "é".repeat(SHOWN_CHARS)));
    }

    #[test]
    fn when_values_fill_rows_should_build_the_table() {
        let table = table_from_row_major(vec!["a".into(), "b".into()], vec![1.0, 2.0, 3.0, 4.0]);
        let table = table.ok();
        assert_eq!(table.as_ref().map(Table::n_rows), Some(2));
        assert_eq!(
            table.map(|t| t.values().iter().copied().collect::<Vec<_>>()),
            Some(vec![1.0, 2.0, 3.0, 4.0])
        );
    }
}
