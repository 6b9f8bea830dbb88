//! Report stage: the only code that writes to stdout or stderr.
//!
//! Commands hand their results (diagnostics, plans, graphs) to a renderer here;
//! every renderer produces a `String`, and the [`Printer`] writes it. A closed pipe
//! (`rune plan | head`) ends output quietly instead of failing the command.

pub mod actions;
pub mod diagnostics;
pub mod excerpt;
pub mod graph;
pub mod plan;
pub mod save;

use std::io::Write;

/// Writes rendered output to stdout and stderr.
///
/// A reader that goes away (`EPIPE`) ends stdout quietly; any other failure to
/// write stdout (a full disk, `> /dev/full`) is kept and turned into exit code 2
/// by [`Printer::finish`], since the output the user asked for is not there.
#[derive(Debug, Default)]
pub struct Printer {
    closed: bool,
    failure: Option<std::io::Error>,
}

impl Printer {
    /// A printer for this process's stdout and stderr.
    pub fn new() -> Self {
        Printer::default()
    }

    /// Write to stdout.
    #[allow(clippy::print_stdout)]
    pub fn out(&mut self, text: &str) {
        if self.closed {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout
            .write_all(text.as_bytes())
            .and_then(|_| stdout.flush())
        {
            self.closed = true;
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                self.failure = Some(e);
            }
        }
    }

    /// Stream to stdout: for documents too large to hold twice. The writer is not
    /// buffered; `write` buffers as it needs.
    pub fn out_with(&mut self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
        if self.closed {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = write(&mut stdout).and_then(|_| stdout.flush()) {
            self.closed = true;
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                self.failure = Some(e);
            }
        }
    }

    /// Write to stderr. Nothing is left to report a failure to, so none is.
    pub fn err(&mut self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }

    /// The command's exit status, or [`ExitStatus::Error`](crate::ExitStatus::Error)
    /// with a message when stdout could not be written.
    pub fn finish(&mut self, status: crate::ExitStatus) -> crate::ExitStatus {
        match self.failure.take() {
            Some(e) => {
                self.err(&format!("error: cannot write to stdout: {e}\n"));
                crate::ExitStatus::Error
            }
            None => status,
        }
    }
}

/// Whether human output should be coloured, from the user's choice, `NO_COLOR`
/// and whether the stream is a terminal.
pub fn use_color(choice: crate::cli::ColorChoice, stream_is_terminal: bool) -> bool {
    match choice {
        crate::cli::ColorChoice::Always => true,
        crate::cli::ColorChoice::Never => false,
        crate::cli::ColorChoice::Auto => {
            stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
