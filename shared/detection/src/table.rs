//! The numeric table every parser produces and every detector consumes.

use ndarray::Array2;

use crate::error::InputError;

/// Limits on tabular input, so a request can never make the parser allocate without bound: in
/// rows, columns and values, and in bytes of one record, of the header and of a column name
/// (so one huge line is refused after about that many bytes, not buffered whole). Build them
/// from the defaults: `Limits { max_rows: 10, ..Limits::default() }` (or `..Limits::DEFAULT`
/// in a constant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most data rows accepted (not applied to streams, which are read chunk by chunk).
    pub max_rows: usize,
    /// Most columns accepted.
    pub max_columns: usize,
    /// Most values (rows x columns) in one table: what a table costs in memory, whatever its
    /// shape (not applied to streams, whose chunks are bounded on their own).
    pub max_values: usize,
    /// Most bytes in one CSV data record, its separators, quotes and line break included.
    pub max_record_bytes: usize,
    /// Most bytes in the CSV header record.
    pub max_header_bytes: usize,
    /// Most bytes in one column name.
    pub max_column_name_bytes: usize,
}

impl Limits {
    /// The defaults: a million rows; 10,000 columns (wide public data sets have 1,555 features);
    /// 16 Mi values (128 MiB of numbers); records of 1 MiB (10,000 columns of 100 bytes), a
    /// header of 256 KiB, and names of 256 bytes.
    pub const DEFAULT: Self = Self {
        max_rows: 1_000_000,
        max_columns: 10_000,
        max_values: 16 << 20,
        max_record_bytes: 1 << 20,
        max_header_bytes: 256 << 10,
        max_column_name_bytes: 256,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Named numeric columns over an `n_rows x n_columns` matrix of finite values.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    columns: Vec<String>,
    values: Array2<f64>,
}

impl Table {
    /// Builds a table, checking that names are unique and non-empty, that they match the matrix
    /// width and that every value is finite.
    pub fn new(columns: Vec<String>, values: Array2<f64>) -> Result<Self, InputError> {
        check_columns(&columns)?;
        if columns.len() != values.ncols() {
            return Err(InputError::RaggedRow {
                row: 1,
                found: values.ncols(),
                expected: columns.len(),
            });
        }
        if let Some(((row, col), _)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(InputError::NotFinite {
                row: row + 1,
                column: columns.get(col).cloned().unwrap_or_default(),
            });
        }
        Ok(Self { columns, values })
    }

    /// Column names, in matrix order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The values, one row per record.
    pub fn values(&self) -> &Array2<f64> {
        &self.values
    }

    /// Number of data rows.
    pub fn n_rows(&self) -> usize {
        self.values.nrows()
    }

    /// Splits the table into its names and matrix.
    pub fn into_parts(self) -> (Vec<String>, Array2<f64>) {
        (self.columns, self.values)
    }
}

/// Checks a parsed header against `limits`: at most `max_columns` names, none longer than
/// `max_column_name_bytes`; then [`check_columns`].
pub fn check_header(columns: &[String], limits: &Limits) -> Result<(), InputError> {
    if columns.len() > limits.max_columns {
        return Err(InputError::TooLarge {
            what: "columns",
            limit: limits.max_columns,
        });
    }
    if let Some(i) = columns
        .iter()
        .position(|c| c.len() > limits.max_column_name_bytes)
    {
        return Err(InputError::TooLong {
            what: format!("the name of column {}", i + 1),
            limit: limits.max_column_name_bytes,
        });
    }
    check_columns(columns)
}

/// Fails unless `rows x columns` values are at most `max_values` ([`Limits::max_values`]).
pub fn check_values(rows: usize, columns: usize, max_values: usize) -> Result<(), InputError> {
    if rows.saturating_mul(columns) > max_values {
        Err(InputError::TooLarge {
            what: "values (rows x columns)",
            limit: max_values,
        })
    } else {
        Ok(())
    }
}

/// Checks column names: none empty, none repeated.
pub fn check_columns(columns: &[String]) -> Result<(), InputError> {
    let mut seen = std::collections::HashSet::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        if c.trim().is_empty() {
            return Err(InputError::EmptyColumnName(i + 1));
        }
        if !seen.insert(c.as_str()) {
            return Err(InputError::DuplicateColumn(c.clone()));
        }
    }
    Ok(())
}
