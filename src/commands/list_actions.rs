//! `rune list-actions`: the actions the catalogs offer, with their parameters.

use crate::cli::{ListActionsArgs, OutputFormat};
use crate::config::Config;
use crate::report::actions::{render_human, render_json, Listed};
use crate::report::plan::render_problems;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune list-actions`.
pub fn run(args: &ListActionsArgs, config: &Config, printer: &mut Printer) -> ExitStatus {
    let paths = config.catalog_paths(&args.paths);
    let checked = match super::plan::load_valid(&paths, config, printer) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let registry = &checked.registry;
    if let Some(name) = &args.module {
        if let Err(d) = crate::plan::find_module(registry, name, "--module") {
            printer.err(&render_problems(
                &[d],
                &checked.sources,
                config.color_stderr,
            ));
            return ExitStatus::Error;
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
    printer.out(&match args.format {
        OutputFormat::Human => render_human(&actions),
        OutputFormat::Json => render_json(&actions),
    });
    ExitStatus::Success
}
