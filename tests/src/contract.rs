//! The contract check: schemathesis (`st`, from PyPI) generates requests from `openapi.yaml`
//! (valid and invalid) against the running functions and checks every answer against the spec:
//! no server error, documented status, content type, headers and body schema. Settings and the
//! justification of every disabled check are in `tests/contract/`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::workspace_root;

/// Test cases generated per operation and phase: bounded so the run stays under a minute.
pub const MAX_EXAMPLES: u32 = 25;
/// Fixed seed, so CI runs the same cases every time.
pub const SEED: u32 = 1;
/// The run is stopped after this long.
pub const TIME_LIMIT: Duration = Duration::from_secs(600);

/// What a schemathesis run reported.
#[derive(Debug)]
pub struct ContractRun {
    /// Whether every check passed.
    pub passed: bool,
    /// Its report.
    pub output: String,
    /// Requests answered by the emulator's own 500 and dropped by the hooks (see hooks.py).
    pub emulator_failures: Vec<String>,
}

/// Runs schemathesis against `base_url`, every request carrying `Authorization: Bearer {token}`.
pub fn run(st: &Path, base_url: &str, token: &str) -> ContractRun {
    let root = workspace_root();
    let scratch = tempfile::tempdir().expect("a temp dir");
    let emulator_file = scratch.path().join("emulator-failures.txt");
    let report = scratch.path().join("report.txt");
    let mut child = Command::new(st)
        .current_dir(&root)
        .env("SCHEMATHESIS_HOOKS", root.join("tests/contract/hooks.py"))
        .env("NOMALY_EMULATOR_FAILURES", &emulator_file)
        .arg("--config-file")
        .arg(root.join("tests/contract/schemathesis.toml"))
        .args(["run", "openapi.yaml", "--url", base_url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--seed", &SEED.to_string()])
        .args(["--workers", "1", "--request-timeout", "60", "--no-color"])
        .args(["--generation-database", "none"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&report).expect("report file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("st starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("st runs") {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut output = std::fs::read_to_string(&report).unwrap_or_default();
    if status.is_none() {
        output.push_str(&format!("\nstopped after {TIME_LIMIT:?}"));
    }
    ContractRun {
        passed: status.is_some_and(|s| s.success()),
        output,
        emulator_failures: std::fs::read_to_string(&emulator_file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect(),
    }
}
