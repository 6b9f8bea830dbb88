//! One file per subcommand, each wiring the stages together and returning an
//! [`ExitStatus`].

pub mod completions;
pub mod explain;
pub mod graph;
pub mod list_actions;
pub mod man;
pub mod plan;
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
        Command::Plan(args) => plan::run(&args, config, printer),
        Command::Graph(args) => graph::run(&args, config, printer),
        Command::ListActions(args) => list_actions::run(&args, config, printer),
        Command::Completions(args) => completions::run(&args, printer),
        Command::Man(args) => man::run(&args, printer),
    }
}
