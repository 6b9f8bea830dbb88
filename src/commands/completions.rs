//! `rune completions SHELL`: the completion script, generated from the same clap
//! definition as the parser, so it cannot drift from the commands and flags.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune completions`.
pub(crate) fn run(args: &CompletionsArgs, printer: &mut Printer) -> ExitStatus {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rune", &mut script);
    // clap writes text it builds from our (UTF-8) definitions.
    printer.out(&String::from_utf8_lossy(&script));
    ExitStatus::Success
}
