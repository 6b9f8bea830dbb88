//! `rune graph`: print the module dependency graph (DOT, Mermaid or JSON).

use crate::cli::{GraphArgs, GraphFormat};
use crate::config::Config;
use crate::report::graph::{render_dot, render_mermaid, write_json};
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
    match args.format {
        GraphFormat::Dot => printer.out(&render_dot(registry, graph)),
        GraphFormat::Mermaid => printer.out(&render_mermaid(registry, graph)),
        GraphFormat::Json => printer.out_with(|w| write_json(registry, graph, w)),
    }
    leftovers.keep(checked);
    ExitStatus::Success
}
