//! Anomaly windows: the labelled `[start, end]` spans NAB rewards detections in, loaded from
//! `labels/combined_windows.json`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::NabError;
use crate::files::read_json;
use crate::timestamp::Timestamp;

/// One labelled anomaly window; both limits are timestamps of the series and are inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The window's first timestamp.
    pub start: Timestamp,
    /// The window's last timestamp.
    pub end: Timestamp,
}

impl Window {
    /// Whether `time` lies in the window, limits included (NAB's per-row label).
    pub fn contains(&self, time: Timestamp) -> bool {
        self.start <= time && time <= self.end
    }
}

/// Loads NAB's window labels: for each file (`category/name.csv`), its windows in label order.
pub fn load_windows(path: &Path) -> Result<BTreeMap<String, Vec<Window>>, NabError> {
    let raw: BTreeMap<String, Vec<[String; 2]>> = read_json(path)?;
    raw.into_iter()
        .map(|(file, limits)| {
            let windows = limits
                .iter()
                .map(|[start, end]| {
                    Ok(Window {
                        start: start.parse()?,
                        end: end.parse()?,
                    })
                })
                .collect::<Result<Vec<_>, NabError>>()?;
            Ok((file, windows))
        })
        .collect()
}
