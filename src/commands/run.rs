//! `rune run ACTION`: one action request through validation, policy and mediation.

use crate::cli::RunArgs;
use crate::config::Config;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune run`.
pub(crate) fn run(
    _args: &RunArgs,
    _config: &Config,
    printer: &mut Printer,
    _leftovers: &mut super::Leftovers,
) -> ExitStatus {
    printer.err("error: rune run is being built\n");
    ExitStatus::Error
}
