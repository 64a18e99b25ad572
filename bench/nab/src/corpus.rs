//! The NAB corpus: every data file's timestamps and values with its labelled windows, the input
//! a detector runs on and the ground truth the scorer checks it against.

use std::path::{Path, PathBuf};

use crate::error::NabError;
use crate::files::{parse_f64, CsvText};
use crate::score::FileInput;
use crate::timestamp::Timestamp;
use crate::windows::{load_windows, Window};

/// One series of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusFile {
    /// NAB's name of the file, `category/name.csv` (as in the labels and score tables).
    pub name: String,
    /// The rows' timestamps, in file order (NAB pairs them with a detector's scores by row).
    pub timestamps: Vec<Timestamp>,
    /// The rows' values, for a detector to run on.
    pub values: Vec<f64>,
    /// The labelled anomaly windows, in label order.
    pub windows: Vec<Window>,
}

impl CorpusFile {
    /// Pairs this file with a detector's scores (one per row) for scoring.
    pub fn input<'a>(&'a self, scores: &'a [f64]) -> FileInput<'a> {
        FileInput {
            name: &self.name,
            windows: &self.windows,
            timestamps: &self.timestamps,
            scores,
        }
    }
}

/// Every series of a NAB data folder, sorted by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// The files, sorted by name.
    pub files: Vec<CorpusFile>,
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, NabError> {
    let io = |source| NabError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|entry| entry.path()).map_err(io))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Corpus {
    /// Loads `<root>/data/<category>/<name>.csv` and `<root>/labels/combined_windows.json`;
    /// every data file must have a (possibly empty) window list and every labelled file data.
    pub fn load(root: &Path) -> Result<Self, NabError> {
        let mut windows = load_windows(&root.join("labels").join("combined_windows.json"))?;
        let mut files = Vec::new();
        for category in sorted_entries(&root.join("data"))? {
            if !category.is_dir() {
                continue;
            }
            for path in sorted_entries(&category)? {
                if path.extension().is_none_or(|ext| ext != "csv") {
                    continue;
                }
                let name = format!("{}/{}", file_name(&category), file_name(&path));
                let csv = CsvText::read(&path)?;
                let timestamps = csv.parse_column(csv.column("timestamp")?, |cell| {
                    cell.parse().map_err(|error: NabError| error.to_string())
                })?;
                let values = csv.parse_column(csv.column("value")?, parse_f64)?;
                let file_windows = windows
                    .remove(&name)
                    .ok_or_else(|| NabError::UnlabelledFile(name.clone()))?;
                files.push(CorpusFile {
                    name,
                    timestamps,
                    values,
                    windows: file_windows,
                });
            }
        }
        if let Some(name) = windows.into_keys().next() {
            return Err(NabError::UnknownLabelledFile(name));
        }
        Ok(Self { files })
    }

    /// The file named `name` (`category/name.csv`), if the corpus holds it.
    pub fn file(&self, name: &str) -> Option<&CorpusFile> {
        self.files.iter().find(|file| file.name == name)
    }

    /// Pairs every file with its score series (`scores[i]` for `files[i]`), for corpus scoring.
    pub fn inputs<'a>(&'a self, scores: &'a [Vec<f64>]) -> Result<Vec<FileInput<'a>>, NabError> {
        if scores.len() != self.files.len() {
            return Err(NabError::FileCountMismatch {
                files: self.files.len(),
                scores: scores.len(),
            });
        }
        Ok(self
            .files
            .iter()
            .zip(scores)
            .map(|(file, scores)| file.input(scores))
            .collect())
    }
}
