//! Reading NAB's files: its few CSV files are plain (no quoting, no embedded commas), so they are
//! read by hand, by column name, without a CSV dependency; its JSON files go through serde_json.

use std::path::{Path, PathBuf};

use crate::error::NabError;

/// A CSV file read whole: its header and its non-empty rows, split on commas.
pub(crate) struct CsvText {
    path: PathBuf,
    header: Vec<String>,
    /// (1-based line number, cells) of every data row.
    rows: Vec<(usize, Vec<String>)>,
}

impl CsvText {
    /// Reads `path`, requiring every row to have as many cells as the header.
    pub(crate) fn read(path: &Path) -> Result<Self, NabError> {
        let text = std::fs::read_to_string(path).map_err(|source| NabError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim_end_matches('\r')))
            .filter(|(_, line)| !line.is_empty());
        let header: Vec<String> = match lines.next() {
            Some((_, line)) => line.split(',').map(|cell| cell.trim().to_owned()).collect(),
            None => return Err(csv_error(path, 1, "the file is empty".to_owned())),
        };
        let mut rows = Vec::new();
        for (line_number, line) in lines {
            let cells: Vec<String> = line.split(',').map(|cell| cell.trim().to_owned()).collect();
            if cells.len() != header.len() {
                return Err(csv_error(
                    path,
                    line_number,
                    format!("{} cells, expected {}", cells.len(), header.len()),
                ));
            }
            rows.push((line_number, cells));
        }
        Ok(Self {
            path: path.to_owned(),
            header,
            rows,
        })
    }

    /// The index of the column named `name`.
    pub(crate) fn column(&self, name: &str) -> Result<usize, NabError> {
        self.header
            .iter()
            .position(|cell| cell == name)
            .ok_or_else(|| csv_error(&self.path, 1, format!("no column '{name}'")))
    }

    /// The number of data rows.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Every row's cell in column `column`, parsed with `parse`, which names what it expected.
    pub(crate) fn parse_column<T>(
        &self,
        column: usize,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, NabError> {
        self.rows
            .iter()
            .map(|(line, cells)| {
                let cell = cells.get(column).map(String::as_str).unwrap_or_default();
                parse(cell).map_err(|message| csv_error(&self.path, *line, message))
            })
            .collect()
    }

    /// Every row's cells, with its line number, for row-by-row records.
    pub(crate) fn rows(&self) -> impl Iterator<Item = (usize, &[String])> {
        self.rows
            .iter()
            .map(|(line, cells)| (*line, cells.as_slice()))
    }

    /// An error about line `line` of this file.
    pub(crate) fn error(&self, line: usize, message: String) -> NabError {
        csv_error(&self.path, line, message)
    }
}

fn csv_error(path: &Path, line: usize, message: String) -> NabError {
    NabError::Csv {
        path: path.to_owned(),
        line,
        message,
    }
}

/// Parses a number cell, naming the cell when it is not one.
pub(crate) fn parse_f64(cell: &str) -> Result<f64, String> {
    cell.parse()
        .map_err(|_| format!("'{cell}' is not a number"))
}

/// Parses a count cell, naming the cell when it is not one.
pub(crate) fn parse_usize(cell: &str) -> Result<usize, String> {
    cell.parse().map_err(|_| format!("'{cell}' is not a count"))
}

/// Reads and parses a JSON file.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, NabError> {
    let text = std::fs::read_to_string(path).map_err(|source| NabError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| NabError::Json {
        path: path.to_owned(),
        source,
    })
}
