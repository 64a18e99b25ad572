//! The numeric table every parser produces and every detector consumes.

use ndarray::Array2;

use crate::error::InputError;

/// Limits on tabular input, so a request can never make the parser allocate without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most data rows accepted.
    pub max_rows: usize,
    /// Most columns accepted.
    pub max_columns: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rows: 1_000_000,
            max_columns: 1_000,
        }
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
        if let Some(((row, col), v)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(InputError::NotFinite {
                row: row + 1,
                column: columns.get(col).cloned().unwrap_or_default(),
                value: v.to_string(),
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
