//! `cargo lambda watch` serving the workspace's functions on 127.0.0.1 and a free port, on a
//! local store in a temp directory, its output captured to a file; stopped (the whole process
//! group: watch, cargo and the function instances) when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{http, workspace_root};

/// How long the server may take to answer its first `/health` (functions are built beforehand,
/// so this is start-up, not compilation).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running `cargo lambda watch`.
pub struct WatchServer {
    child: Child,
    port: u16,
    log: PathBuf,
    data_dir: tempfile::TempDir,
}

impl WatchServer {
    /// Builds the function binaries, starts `cargo lambda watch` on a free loopback port with
    /// `extra_env` as function environment (through an env file: `--env-var` splits values at
    /// commas, and JSON values have them), and waits for `/health` to answer.
    pub fn start(cargo_lambda: &Path, extra_env: &[(&str, &str)]) -> Self {
        let root = workspace_root();
        build_functions(&root);
        let data = tempfile::tempdir().expect("a temp dir for the local store");
        let log = data.path().join("watch.log");
        let port = free_port();
        let mut command = Command::new(cargo_lambda);
        command
            .current_dir(&root)
            .args(["lambda", "watch", "--ignore-changes", "--invoke-address"])
            .arg("127.0.0.1")
            .arg("--invoke-port")
            .arg(port.to_string())
            .arg("--env-var")
            .arg(format!("NOMALY_DATA_DIR={}", data.path().display()));
        if !extra_env.is_empty() {
            let env_file = data.path().join("functions.env");
            let lines: String = extra_env
                .iter()
                .map(|(key, value)| format!("{key}='{value}'\n"))
                .collect();
            std::fs::write(&env_file, lines).expect("the functions' env file");
            command.arg("--env-file").arg(&env_file);
        }
        let out = File::create(&log).expect("the watch log file");
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .process_group(0);
        let child = command.spawn().expect("cargo lambda watch starts");
        let mut server = Self {
            child,
            port,
            log,
            data_dir: data,
        };
        server.wait_until_healthy();
        server
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The local store's directory (`NOMALY_DATA_DIR`), where the functions also write
    /// `alerts.jsonl` and `dead-letters.jsonl`.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Everything watch and the functions printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_healthy(&mut self) {
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("cargo lambda watch exited with {status}:\n{}", self.log());
            }
            if let Ok(reply) = http::call(self.port, "GET", "/health", None) {
                if reply.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "cargo lambda watch did not answer /health within {START_TIMEOUT:?}:\n{}",
            self.log()
        );
    }
}

impl Drop for WatchServer {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = kill(&["-TERM", "--", &group]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (function instances included).
        let _ = kill(&["-KILL", "--", &group]);
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now (the OS picks it; watch binds it a moment later).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Builds the four function binaries the way `cargo lambda watch` runs them, so its first
/// request finds them ready instead of compiling for a minute.
fn build_functions(root: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build", "--locked", "--bin", "health", "--bin", "detect", "--bin", "train", "--bin",
            "backup", "--bin", "keys",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the functions failed");
}

/// `kill` with `args`, quietly (the group may already be gone).
fn kill(args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}
