//! One file per subcommand, each wiring the stages together and returning an
//! [`ExitStatus`].

pub mod explain;
pub mod schema;
pub mod validate;

use crate::cli::Command;
use crate::config::Config;
use crate::report::Printer;
use crate::ExitStatus;

/// Run a parsed command.
pub fn dispatch(command: Command, config: &Config, printer: &mut Printer) -> ExitStatus {
    match command {
        Command::Validate(args) => validate::run(&args, config, printer),
        Command::Explain(args) => explain::run(&args, printer),
        Command::Schema(args) => schema::run(&args, printer),
        Command::Plan(_) | Command::Graph(_) | Command::ListActions(_) => {
            printer.err("error: this command is not available in this build\n");
            ExitStatus::Error
        }
    }
}
