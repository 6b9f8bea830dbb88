//! One file per subcommand, each wiring the stages together and returning an
//! [`ExitStatus`].

pub(crate) mod apply;
pub(crate) mod completions;
pub(crate) mod diff;
pub(crate) mod explain;
pub(crate) mod graph;
pub(crate) mod list_actions;
pub(crate) mod list_nodes;
pub(crate) mod man;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod run_nodes;
pub(crate) mod schema;
pub(crate) mod validate;

use crate::catalog::CheckedCatalog;
use crate::cli::Command;
use crate::config::Config;
use crate::report::Printer;
use crate::ExitStatus;

/// What a command built and no longer needs, handed back instead of dropped: the
/// caller decides whether freeing it is worth the time (see `main.rs`).
#[derive(Default)]
pub struct Leftovers(Vec<Box<dyn std::any::Any>>);

impl Leftovers {
    /// Hand `value` back to the caller.
    pub fn keep<T: 'static>(&mut self, value: T) {
        self.0.push(Box::new(value));
    }
}

/// Run a parsed command.
pub(crate) fn dispatch(
    command: Command,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut Leftovers,
) -> ExitStatus {
    match command {
        Command::Validate(args) => validate::run(&args, config, printer, leftovers),
        Command::Explain(args) => explain::run(&args, config.color_stderr, printer),
        Command::Schema(args) => schema::run(&args, config.color_stderr, printer),
        Command::Plan(args) => plan::run(&args, config, printer, leftovers),
        Command::Apply(args) => apply::run(&args, config, printer, leftovers),
        Command::Diff(args) => diff::run(&args, config, printer, leftovers),
        Command::Run(args) => run::run(&args, config, printer, leftovers),
        Command::Graph(args) => graph::run(&args, config, printer, leftovers),
        Command::ListActions(args) => list_actions::run(&args, config, printer, leftovers),
        Command::ListNodes(args) => list_nodes::run(&args, config, printer),
        Command::Completions(args) => completions::run(&args, printer),
        Command::Man(args) => man::run(&args, config.color_stderr, printer),
    }
}

/// Load and check the catalogs at `paths`, showing a valid catalog's warnings; a
/// catalog that cannot be used is refused here (see [`refuse_catalog`]), and kept
/// in `leftovers` so its memory is freed where the caller frees everything.
fn load_catalog(
    paths: &[std::path::PathBuf],
    channel: crate::report::refusal::Channel,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut Leftovers,
) -> Result<Box<CheckedCatalog>, ExitStatus> {
    match crate::catalog::load_valid(paths) {
        Ok(checked) => {
            show_warnings(&checked, config, printer);
            Ok(Box::new(checked))
        }
        Err(checked) => {
            let status = refuse_catalog(&checked, channel, printer);
            leftovers.keep(checked);
            Err(status)
        }
    }
}

/// Report a catalog that [`crate::catalog::load_valid`] refused: unreadable (exit 2)
/// or invalid (exit 1).
fn refuse_catalog(
    checked: &CheckedCatalog,
    channel: crate::report::refusal::Channel,
    printer: &mut Printer,
) -> ExitStatus {
    use crate::report::refusal::{self, Refusal, Refused};
    let refusal = Refusal {
        kind: if checked.has_io_errors() {
            Refused::Unreadable
        } else {
            Refused::InvalidCatalog
        },
        diagnostics: checked.diagnostics.clone(),
        sources: &checked.sources,
        summary: checked.summary(),
    };
    refusal::report(printer, refusal, channel)
}

/// Show a valid catalog's warnings on stderr, above the command's output.
fn show_warnings(checked: &CheckedCatalog, config: &Config, printer: &mut Printer) {
    if !checked.diagnostics.is_empty() {
        printer.err(&crate::report::plan::render_problems(
            &checked.diagnostics,
            &checked.sources,
            config.color_stderr,
        ));
    }
}
