//! Harness for the end-to-end tests: the real function binaries served by `cargo lambda watch`
//! on 127.0.0.1 and a free port, a minimal HTTP client, and the tools the tests need from PyPI
//! (`cargo-lambda`, schemathesis' `st`), which `make test` installs into `.venv-tools`.
//!
//! Test support only: a broken environment panics with a message saying what to install.

#![allow(clippy::restriction)] // test code: it may unwrap, expect, panic and index

pub mod contract;
pub mod http;
pub mod tools;
pub mod watch;

use std::path::PathBuf;

/// The workspace root (where `Cargo.toml`, `openapi.yaml` and `data/` are).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the workspace")
        .to_path_buf()
}
