//! Matching a table's columns to a model's features by name, whatever their order.

use std::collections::{HashMap, HashSet};

use ndarray::{Array2, ArrayView2};

use crate::error::InputError;
use crate::table::{check_columns, Table};

/// What to do with input columns the model does not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraColumns {
    /// Fail with [`InputError::UnexpectedColumn`], to catch a misnamed column early.
    Reject,
    /// Drop them, so callers may send wider tables (ids, labels) than the model needs.
    Ignore,
}

/// Where each model feature is found in the input, computed once and applied to many matrices
/// (for example every chunk of a stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// For each feature, in feature order, the index of its input column.
    sources: Vec<usize>,
    /// Number of input columns the mapping was built for.
    n_input: usize,
}

impl ColumnMapping {
    /// Maps `input` column names to `features`. Fails with [`InputError::MissingColumn`] naming
    /// the first feature that `input` lacks, and with `Reject` with
    /// [`InputError::UnexpectedColumn`] naming the first input column that is not a feature.
    pub fn new(
        input: &[String],
        features: &[String],
        extra: ExtraColumns,
    ) -> Result<Self, InputError> {
        check_columns(input)?;
        let positions: HashMap<&str, usize> = input
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let sources = features
            .iter()
            .map(|feature| {
                positions
                    .get(feature.as_str())
                    .copied()
                    .ok_or_else(|| InputError::MissingColumn(feature.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if extra == ExtraColumns::Reject {
            let known: HashSet<&str> = features.iter().map(String::as_str).collect();
            if let Some(unexpected) = input.iter().find(|name| !known.contains(name.as_str())) {
                return Err(InputError::UnexpectedColumn(unexpected.clone()));
            }
        }
        Ok(Self {
            sources,
            n_input: input.len(),
        })
    }

    /// Whether the input already is in feature order with nothing extra, so applying is a copy.
    pub fn is_identity(&self) -> bool {
        self.sources.len() == self.n_input && self.sources.iter().enumerate().all(|(i, &s)| i == s)
    }

    /// The input's columns in feature order, as a new standard-layout matrix.
    ///
    /// # Panics
    ///
    /// If `values` does not have as many columns as the input names the mapping was built from:
    /// a caller bug (build the mapping from the same table's columns), never request data.
    pub fn apply(&self, values: ArrayView2<f64>) -> Array2<f64> {
        assert_eq!(
            values.ncols(),
            self.n_input,
            "ColumnMapping applied to a matrix of another width than its input"
        );
        if self.is_identity() {
            return values.as_standard_layout().into_owned();
        }
        let mut out = Array2::zeros((values.nrows(), self.sources.len()));
        for (mut to, from) in out.rows_mut().into_iter().zip(values.rows()) {
            for (cell, &source) in to.iter_mut().zip(&self.sources) {
                if let Some(value) = from.get(source) {
                    *cell = *value;
                }
            }
        }
        out
    }
}

/// A table's values with its columns in `features` order: the one-call form of
/// [`ColumnMapping`] for a single table.
pub fn align(
    table: &Table,
    features: &[String],
    extra: ExtraColumns,
) -> Result<Array2<f64>, InputError> {
    Ok(ColumnMapping::new(table.columns(), features, extra)?.apply(table.values().view()))
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn table() -> Table {
        Table::new(
            names(&["a", "b", "c"]),
            array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        )
        .unwrap()
    }

    #[test]
    fn when_order_differs_should_reorder_to_features() {
        let aligned = align(&table(), &names(&["c", "a", "b"]), ExtraColumns::Reject).unwrap();
        assert_eq!(aligned, array![[3.0, 1.0, 2.0], [6.0, 4.0, 5.0]]);
        assert!(aligned.is_standard_layout());
    }

    #[test]
    fn when_order_matches_should_be_identity_and_copy() {
        let features = names(&["a", "b", "c"]);
        let mapping = ColumnMapping::new(table().columns(), &features, ExtraColumns::Reject);
        let mapping = mapping.unwrap();
        assert!(mapping.is_identity());
        assert_eq!(mapping.apply(table().values().view()), table().values());
    }

    #[test]
    fn when_extra_columns_are_ignored_should_drop_them() {
        let features = names(&["c", "a"]);
        let mapping = ColumnMapping::new(table().columns(), &features, ExtraColumns::Ignore);
        let mapping = mapping.unwrap();
        assert!(!mapping.is_identity());
        assert_eq!(
            mapping.apply(table().values().view()),
            array![[3.0, 1.0], [6.0, 4.0]]
        );
    }

    #[test]
    fn when_prefix_of_columns_is_used_should_not_be_identity() {
        let mapping =
            ColumnMapping::new(table().columns(), &names(&["a", "b"]), ExtraColumns::Ignore);
        assert!(!mapping.unwrap().is_identity());
    }

    #[test]
    fn when_extra_columns_are_rejected_should_name_the_first() {
        let err = align(&table(), &names(&["b"]), ExtraColumns::Reject).unwrap_err();
        assert_eq!(err, InputError::UnexpectedColumn("a".into()));
        assert_eq!(
            err.to_string(),
            "unexpected column 'a' (the model does not use it)"
        );
    }

    #[test]
    fn when_a_feature_is_missing_should_name_the_first_missing() {
        let features = names(&["a", "x", "y"]);
        let err = align(&table(), &features, ExtraColumns::Ignore).unwrap_err();
        assert_eq!(err, InputError::MissingColumn("x".into()));
        assert_eq!(err.to_string(), "missing column 'x'");
    }

    #[test]
    fn when_input_names_repeat_should_refuse_to_guess() {
        let err = ColumnMapping::new(&names(&["a", "a"]), &names(&["a"]), ExtraColumns::Ignore);
        assert_eq!(err, Err(InputError::DuplicateColumn("a".into())));
    }

    #[test]
    fn when_view_is_not_standard_layout_should_still_copy_in_order() {
        let transposed = array![[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]];
        let mapping = ColumnMapping::new(
            &names(&["a", "b", "c"]),
            &names(&["a", "b", "c"]),
            ExtraColumns::Reject,
        )
        .unwrap();
        let copied = mapping.apply(transposed.t());
        assert_eq!(copied, array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert!(copied.is_standard_layout());
    }
}
