//! Scoring profiles: NAB weighs true positives, false positives and false negatives differently
//! per application profile (standard, reward_low_FP_rate, reward_low_FN_rate), from
//! `config/profiles.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::NabError;
use crate::files::read_json;

/// A profile's weights, as NAB's `CostMatrix`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct CostMatrix {
    /// The reward of a detection at the very start of a window (earlier ones earn up to it).
    #[serde(rename = "tpWeight")]
    pub tp_weight: f64,
    /// The cost of a window without any detection.
    #[serde(rename = "fnWeight")]
    pub fn_weight: f64,
    /// The cost of a detection far from any window (nearer ones, just after a window, cost less).
    #[serde(rename = "fpWeight")]
    pub fp_weight: f64,
    /// Listed by NAB for symmetry; its scorer never uses it.
    #[serde(rename = "tnWeight")]
    pub tn_weight: f64,
}

/// A named scoring profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// NAB's name of the profile, as in the published score file names.
    pub name: String,
    /// Its weights.
    pub costs: CostMatrix,
}

#[derive(Deserialize)]
struct ProfileEntry {
    #[serde(rename = "CostMatrix")]
    cost_matrix: CostMatrix,
}

/// Loads `config/profiles.json`: every profile, by name.
pub fn load_profiles(path: &Path) -> Result<Vec<Profile>, NabError> {
    let raw: BTreeMap<String, ProfileEntry> = read_json(path)?;
    Ok(raw
        .into_iter()
        .map(|(name, entry)| Profile {
            name,
            costs: entry.cost_matrix,
        })
        .collect())
}
