//! `rune graph`: print the module dependency graph, or with `--workflow` a
//! workflow's step DAG (DOT, Mermaid, JSON or text).

use crate::cli::{GraphArgs, GraphFormat};
use crate::config::Config;
use crate::report::graph::{
    render_dot, render_mermaid, render_text, render_workflow_dot, render_workflow_mermaid,
    render_workflow_text, write_json, write_workflow_json,
};
use crate::report::refusal::Refused;
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
    let checked = match super::load_catalog(&paths, channel, config, printer, leftovers) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let (registry, graph) = (&checked.registry, &checked.graph);
    if let Some(name) = &args.workflow {
        let found = crate::plan::workflow::find_workflow(registry, name, "--workflow")
            .map_err(|d| (Refused::Usage, vec![d]))
            .and_then(|w| {
                let workflow = &registry.workflows[w];
                // A valid catalog's workflows are DAGs; the check is kept so a
                // drawing is never made of one that is not.
                crate::plan::workflow::step_waves(workflow)
                    .map(|waves| (workflow, waves))
                    .map_err(|d| (Refused::InvalidRequest, d))
            });
        let status = match found {
            Ok((workflow, waves)) => {
                match args.format {
                    GraphFormat::Dot => printer.out(&render_workflow_dot(workflow, &waves)),
                    GraphFormat::Mermaid => printer.out(&render_workflow_mermaid(workflow, &waves)),
                    GraphFormat::Json => {
                        printer.out_with(|w| write_workflow_json(workflow, &waves, w))
                    }
                    GraphFormat::Text => printer.out(&render_workflow_text(workflow, &waves)),
                }
                ExitStatus::Success
            }
            Err((kind, d)) => crate::request::refuse(printer, &checked, kind, d, channel),
        };
        leftovers.keep(checked);
        return status;
    }
    match args.format {
        GraphFormat::Dot => printer.out(&render_dot(registry, graph)),
        GraphFormat::Mermaid => printer.out(&render_mermaid(registry, graph)),
        GraphFormat::Json => printer.out_with(|w| write_json(registry, graph, w)),
        GraphFormat::Text => printer.out(&render_text(registry, graph)),
    }
    leftovers.keep(checked);
    ExitStatus::Success
}
