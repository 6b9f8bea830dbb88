//! rune: a declarative lifecycle and workflow engine driven by catalog files.
//!
//! The modules follow the data flow: `loader` (files → `yaml` trees with spans),
//! `schema` (JSON Schema), `registry` (typed model), `graph` (dependency DAG),
//! `check` (lifecycle rules), then planning; `report` renders everything, and
//! `commands` wire the stages together for each subcommand.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod exit;
pub mod explain;
pub mod graph;
pub mod loader;
pub mod location;
pub mod params;
pub mod plan;
pub mod policy;
pub mod registry;
pub mod report;
pub mod schema;
pub mod source;
pub mod yaml;

use std::ffi::OsString;

use clap::Parser;

pub use exit::ExitStatus;

/// Run rune with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitStatus {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let printed = err.print();
            if err.use_stderr() {
                return ExitStatus::Error;
            }
            // `--help` and `--version` go to stdout, which can fail like any output.
            return match printed {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    report::Printer::new().err(&format!("error: cannot write to stdout: {e}\n"));
                    ExitStatus::Error
                }
                _ => ExitStatus::Success,
            };
        }
    };
    let config = config::Config::from_args(&cli.global, cli.command.color());
    let mut printer = report::Printer::new();
    let status = commands::dispatch(cli.command, &config, &mut printer);
    printer.finish(status)
}
