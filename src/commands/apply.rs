//! `rune apply`: execute a plan (from the selectors, or a saved plan file).

use crate::cli::ApplyArgs;
use crate::config::Config;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune apply`.
pub(crate) fn run(
    _args: &ApplyArgs,
    _config: &Config,
    printer: &mut Printer,
    _leftovers: &mut super::Leftovers,
) -> ExitStatus {
    printer.err("error: rune apply is being built\n");
    ExitStatus::Error
}
