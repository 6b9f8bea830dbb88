//! rune: a declarative lifecycle and workflow engine driven by catalog files.
//!
//! The modules follow the data flow: `loader` (files → `yaml` trees with spans),
//! `schema` (JSON Schema), `registry` (typed model), `graph` (dependency DAG),
//! `check` (lifecycle rules), then planning; `report` renders everything, and
//! `commands` wire the stages together for each subcommand.

pub mod catalog;
pub mod check;
pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod config;
pub mod diagnostic;
mod digest;
pub(crate) mod escape;
pub mod exec;
mod exit;
pub mod explain;
pub mod graph;
pub(crate) mod inventory;
pub mod loader;
pub(crate) mod location;
pub(crate) mod parallel;
pub(crate) mod params;
pub mod plan;
pub(crate) mod policy;
pub(crate) mod pretty_json;
pub mod registry;
pub mod report;
pub(crate) mod request;
pub mod schema;
pub mod source;
pub mod yaml;

use std::ffi::OsString;

pub use exit::ExitStatus;

/// Run rune with these arguments (the first is the program name).
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitStatus {
    run_with_leftovers(args).0
}

/// [`run`], handing back what the command built instead of freeing it.
pub fn run_with_leftovers(
    args: impl IntoIterator<Item = OsString>,
) -> (ExitStatus, commands::Leftovers) {
    let mut leftovers = commands::Leftovers::default();
    let mut printer = report::Printer::new();
    let cli = match cli::Cli::parse_args(args.into_iter().collect()) {
        Ok(cli) => cli,
        // Clap's own words for a malformed command line (and `--help`, `--version`),
        // written by the report stage like every other output.
        Err(err) => return (report::clap_message(&err, &mut printer), leftovers),
    };
    let config = config::Config::from_args(&cli.global, cli.command.color());
    let status = commands::dispatch(cli.command, &config, &mut printer, &mut leftovers);
    (printer.finish(status), leftovers)
}
