//! Parsers from CSV and JSON bytes into [`crate::Table`].

pub mod align;
mod byte_limit;
pub mod csv;
mod csv_rows;
pub mod json;
pub mod stream;
#[cfg(test)]
mod test_support;
mod values;

pub use self::align::{align, ColumnMapping, ExtraColumns};
pub use self::csv::parse_csv;
pub use self::json::{parse_json, table_from_json_value};
pub use self::stream::{CsvChunks, RowsText, TextChunks, MAX_CHUNK_VALUES};
