//! Report stage: the only code that writes to stdout or stderr.
//!
//! Commands hand their results (diagnostics, plans, graphs) to a renderer here;
//! every renderer produces a `String`, and the [`Printer`] writes it. A closed pipe
//! (`rune plan | head`) ends output quietly instead of failing the command.
//!
//! Clippy enforces the boundary: `print_stdout`, `print_stderr` (Cargo.toml) and
//! the `std::io::stdout`/`stderr` handles (clippy.toml) are denied everywhere else.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod actions;
pub mod diagnostics;
pub mod drift;
pub(crate) mod eps;
pub(crate) mod excerpt;
pub mod execution;
pub(crate) mod graph;
pub(crate) mod nodes;
pub(crate) mod plan;
pub mod progress;
pub(crate) mod refusal;
pub(crate) mod run;
pub(crate) mod save;

use std::io::Write;

/// Buffered stdout, as [`Printer::out_with`] lends it.
pub(crate) type Stdout = std::io::BufWriter<std::io::StdoutLock<'static>>;

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

    /// Stream a document to stdout as it is serialised, through a buffer: large
    /// JSON never exists as one string.
    pub fn out_with(&mut self, write: impl FnOnce(&mut Stdout) -> std::io::Result<()>) {
        if self.closed {
            return;
        }
        let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
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
                let d = crate::diagnostic::Diagnostic::new(
                    crate::diagnostic::Code::UnwritableStdout,
                    format!("cannot write to stdout: {e}"),
                );
                let sources = crate::source::SourceMap::default();
                let mut text = diagnostics::render_diagnostics(&[d], &sources, false);
                text.truncate(text.trim_end().len());
                text.push('\n');
                self.err(&text);
                crate::ExitStatus::Error
            }
            None => status,
        }
    }
}

/// Whether stderr is a terminal (for colour).
pub(crate) fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// Print clap's message for a command line it refused, or for `--help` and
/// `--version`, and say how the command ends: errors go to stderr (exit 2), help
/// and version to stdout (exit 0, or 2 when stdout cannot be written). Clap's
/// styling is kept where clap would show it: on a terminal, unless `NO_COLOR`.
pub(crate) fn clap_message(err: &clap::Error, printer: &mut Printer) -> crate::ExitStatus {
    use std::io::IsTerminal;
    let to_stderr = err.use_stderr();
    let terminal = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let rendered = err.render();
    let text = if use_color(crate::cli::ColorChoice::Auto, terminal) {
        rendered.ansi().to_string()
    } else {
        rendered.to_string()
    };
    if to_stderr {
        printer.err(&text);
        return crate::ExitStatus::Error;
    }
    printer.out(&text);
    printer.finish(crate::ExitStatus::Success)
}

/// `n word` or `n words`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Whether human output should be coloured, from the user's choice, `NO_COLOR`
/// and whether the stream is a terminal.
pub(crate) fn use_color(choice: crate::cli::ColorChoice, stream_is_terminal: bool) -> bool {
    match choice {
        crate::cli::ColorChoice::Always => true,
        crate::cli::ColorChoice::Never => false,
        crate::cli::ColorChoice::Auto => {
            stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}
