//! `rune graph`: print the module dependency graph (DOT, Mermaid or JSON).

use crate::cli::{GraphArgs, GraphFormat};
use crate::config::Config;
use crate::report::graph::{render_dot, render_json, render_mermaid};
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune graph`.
pub(crate) fn run(
    args: &GraphArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let paths = config.catalog_paths(&args.paths);
    let channel = crate::report::refusal::Channel {
        json: args.format == GraphFormat::Json,
        color: config.color_stderr,
    };
    let checked = match crate::catalog::load_valid(&paths) {
        Ok(checked) => checked,
        Err(checked) => {
            let status = super::refuse_catalog(&checked, channel, printer);
            leftovers.keep(checked);
            return status;
        }
    };
    super::show_warnings(&checked, config, printer);
    let (registry, graph) = (&checked.registry, &checked.graph);
    printer.out(&match args.format {
        GraphFormat::Dot => render_dot(registry, graph),
        GraphFormat::Mermaid => render_mermaid(registry, graph),
        GraphFormat::Json => render_json(registry, graph),
    });
    leftovers.keep(checked);
    ExitStatus::Success
}
