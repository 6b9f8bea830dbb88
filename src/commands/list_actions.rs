//! `rune list-actions`: the actions the catalogs offer, with their parameters.

use crate::cli::{ListActionsArgs, OutputFormat, RuneOutput};
use crate::config::Config;
use crate::report::actions::{render_human, write_json, Listed};
use crate::report::refusal::{self, Refusal, Refused};
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune list-actions`.
pub(crate) fn run(
    args: &ListActionsArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let paths = config.catalog_paths(&args.paths);
    let channel = crate::report::refusal::Channel {
        json: args.format == OutputFormat::Json || args.output.is_some(),
        color: config.color_stderr,
    };
    let checked = match super::load_catalog(&paths, channel, config, printer, leftovers) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let registry = &checked.registry;
    if let Some(name) = &args.module {
        if let Err(d) = crate::plan::find_module(registry, name, "--module") {
            let refusal = Refusal {
                kind: Refused::Usage,
                diagnostics: vec![d],
                sources: &checked.sources,
                summary: checked.summary(),
            };
            let status = refusal::report(printer, refusal, channel);
            leftovers.keep(checked);
            return status;
        }
    }
    let mut actions: Vec<Listed<'_>> = registry
        .actions()
        .filter(|(m, _)| args.module.as_ref().is_none_or(|n| m.name.value == *n))
        .collect();
    actions.sort_by(|a, b| {
        (a.1.name.value.as_str(), a.0.name.value.as_str())
            .cmp(&(b.1.name.value.as_str(), b.0.name.value.as_str()))
    });
    match (args.output, args.format) {
        (Some(RuneOutput::Json), _) => printer.out_with(|w| write_json(&actions, false, w)),
        (Some(RuneOutput::Pretty), _) | (None, OutputFormat::Json) => {
            printer.out_with(|w| write_json(&actions, true, w))
        }
        (None, OutputFormat::Human) => printer.out(&render_human(&actions)),
    }
    leftovers.keep(checked);
    ExitStatus::Success
}
