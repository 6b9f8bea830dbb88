//! `rune validate`: load and check catalogs, report every problem.

use crate::catalog;
use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::config::Config;
use crate::report::diagnostics::{passes, render_github, write_json_report, write_sarif};
use crate::report::refusal::render_validation;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune validate`.
pub(crate) fn run(
    args: &ValidateArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let paths = config.catalog_paths(&args.paths);
    // The instant expiry is judged at, by the plans' clock rule; a malformed one is
    // reported with the catalog's diagnostics rather than stopping validation.
    let (at, bad_instant) = match crate::request::instant_at(
        args.at.as_deref(),
        config,
        crate::request::Purpose::DryRun,
    ) {
        Ok((at, _)) => (Some(at), None),
        Err(d) => (None, Some(d)),
    };
    let mut checked = catalog::load_and_check_at(&paths, at, None);
    checked.diagnostics.extend(bad_instant);
    // Nodes a catalog file defines are checked as an inventory's are (the copy
    // of each such file the inventory reader adds renders its spans).
    let files =
        crate::inventory::catalog_texts(checked.sources.files().take(checked.catalog_files));
    if let Err(nodes) = crate::inventory::load(&[], &files, &mut checked.sources) {
        checked.diagnostics.extend(nodes);
        checked.diagnostics =
            crate::diagnostic::finish(std::mem::take(&mut checked.diagnostics), &checked.sources);
    }
    let summary = checked.summary();
    let diagnostics = &checked.diagnostics;
    match args.format {
        // Human diagnostics go to stderr, like a compiler's; machine formats to stdout.
        DiagnosticFormat::Human => printer.err(&render_validation(
            diagnostics,
            &checked.sources,
            summary,
            config.color_stderr,
            args.deny_warnings,
        )),
        DiagnosticFormat::Json => printer.out_with(|w| {
            write_json_report(
                diagnostics,
                &checked.sources,
                summary,
                args.deny_warnings,
                w,
            )
        }),
        DiagnosticFormat::Github => printer.out(&render_github(diagnostics, &checked.sources)),
        DiagnosticFormat::Sarif => {
            printer.out_with(|w| write_sarif(diagnostics, &checked.sources, w))
        }
    }
    // A bad `--at` or SOURCE_DATE_EPOCH is a usage error, as for plans.
    let usage = checked
        .diagnostics
        .iter()
        .any(crate::diagnostic::Diagnostic::is_usage);
    let status = if checked.has_io_errors() || usage {
        ExitStatus::Error
    } else if !passes(diagnostics, args.deny_warnings) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    };
    leftovers.keep(checked);
    status
}
