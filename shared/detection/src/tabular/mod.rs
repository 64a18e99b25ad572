//! Parsers from CSV and JSON bytes into [`crate::Table`].

pub mod align;
pub mod csv;
mod csv_rows;
pub mod json;
pub mod stream;
mod values;

pub use self::align::{align, ColumnMapping, ExtraColumns};
pub use self::csv::parse_csv;
pub use self::json::{parse_json, table_from_json_value};
pub use self::stream::{CsvChunks, RowsText, TextChunks};
