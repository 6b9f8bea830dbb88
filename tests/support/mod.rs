//! A small fluent builder for running the real `rune` binary in tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root (tests run with it as the working directory).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Say that the calling test skipped its check, and why. Written to the real
/// stderr, past the test harness's capture, so a skipped case shows in every run
/// (`note: skipped robustness::an_unreadable_file_...: running as root`).
#[allow(clippy::disallowed_methods)] // past the harness's capture, on purpose
pub(crate) fn skip(reason: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "note: skipped {test}: {reason}");
}

/// A `rune` invocation under construction.
pub(crate) struct Rune {
    command: Command,
    stdin: Option<Vec<u8>>,
}

/// What a finished invocation produced.
#[derive(Debug)]
pub(crate) struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one string, for snapshots.
    pub(crate) fn snapshot(&self) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Parse stdout as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Start building `rune ARGS...`, run from the repository root.
pub(crate) fn rune<I, S>(args: I) -> Rune
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_rune"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        // A CI that exports it would fix every plan's clock; tests that want it set it.
        .env_remove("SOURCE_DATE_EPOCH")
        .env("RUST_BACKTRACE", "0");
    Rune {
        command,
        stdin: None,
    }
}

impl Rune {
    /// Add arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command.args(args);
        self
    }

    /// Add one path argument.
    pub(crate) fn arg_path(mut self, path: impl AsRef<Path>) -> Self {
        self.command.arg(path.as_ref());
        self
    }

    /// Run in this directory instead of the repository root.
    pub(crate) fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Set an environment variable.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Self {
        self.command.env(key, value);
        self
    }

    /// Feed this to stdin.
    pub(crate) fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Run to completion.
    pub(crate) fn run(mut self) -> Output {
        use std::io::Write;
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("rune binary starts");
        if let Some(input) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let out = child.wait_with_output().expect("rune binary finishes");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A plan request for these targets (none: the whole catalog) at a fixed instant,
/// for tests that plan through the library.
pub(crate) fn plan_request(targets: &[&str]) -> rune::plan::Request {
    rune::plan::Request {
        targets: targets.iter().map(|t| t.to_string()).collect(),
        action: None,
        params: serde_json::Map::new(),
        at: "2026-01-01T00:00:00Z".parse().expect("valid instant"),
        clock: rune::plan::Clock::Fixed,
        acks: Vec::new(),
        reason: None,
    }
}
