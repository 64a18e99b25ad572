//! Finding the external tools a test needs; missing ones skip the test with a message, or fail it
//! when `NOMALY_REQUIRE_TOOLS=1` (set by `make test`, so CI never skips silently).

use std::path::PathBuf;

/// The executable `name` on `PATH`, if any.
pub fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// The tool `name`, or `None` after printing why the test is skipped; panics instead when
/// `NOMALY_REQUIRE_TOOLS=1`. `install` says how to get it.
pub fn require(name: &str, install: &str) -> Option<PathBuf> {
    if let Some(path) = on_path(name) {
        return Some(path);
    }
    let message = format!("{name} is not on PATH (install it with: {install}; `make test` does)");
    if std::env::var("NOMALY_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    None
}
