//! `rune diff A B`: two saved plans compared by meaning.
//!
//! Wiring only: read both plans the way `rune apply` reads one (a key twice is
//! refused), compare them (`plan::drift`), and, when B's catalogs are still on
//! disk exactly as B recorded them, load them to point each change at its line.
//! Exit codes: 0 same meaning, 1 drift, 2 a file that is not a plan.

use std::path::{Path, PathBuf};

use crate::catalog::CheckedCatalog;
use crate::cli::{DiffArgs, PlanFormat};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::untrusted;
use crate::plan::document::PlanDocument;
use crate::plan::drift::{self, Drift, Places};
use crate::report::drift::Compared;
use crate::report::refusal::{usage, Channel};
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune diff`.
pub(crate) fn run(
    args: &DiffArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let channel = Channel {
        json: args.format == PlanFormat::Json,
        color: config.color_stderr,
    };
    let mut problems = Vec::new();
    let mut read = |path: &Path| match crate::plan::strict::read_plan(path) {
        Ok((doc, _)) => Some(doc),
        Err(why) => {
            problems.push(unreadable_plan(path, &why));
            None
        }
    };
    let (before, after) = (read(&args.before), read(&args.after));
    let (Some(before), Some(after)) = (before, after) else {
        return usage(printer, problems, channel);
    };
    let found = drift::compare(&before, &after);
    // The catalogs are loaded only to place changes: none, nothing to load.
    let (root, checked) = recorded_catalogs(&args.after, &after, !found.is_empty());
    let places = Places::new(checked.as_deref(), root);
    let names = (
        crate::source::display_name(&args.before),
        crate::source::display_name(&args.after),
    );
    let compared = Compared {
        before: &names.0,
        after: &names.1,
    };
    show(args.format, &found, &compared, &places, printer);
    leftovers.keep(checked);
    status(&found)
}

/// 0 when nothing drifted, 1 otherwise.
pub(crate) fn status(found: &Drift) -> ExitStatus {
    if found.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

/// The drift report on stdout, in `format`.
pub(crate) fn show(
    format: PlanFormat,
    found: &Drift,
    compared: &Compared,
    places: &Places,
    printer: &mut Printer,
) {
    use crate::report::drift::{render_github, render_human, render_json};
    match format {
        PlanFormat::Human => printer.out(&render_human(found, compared, places)),
        PlanFormat::Json => printer.out(&render_json(found, compared, places)),
        PlanFormat::Github => printer.out(&render_github(found, places)),
    }
}

/// A file `rune diff` or `rune plan --check` cannot read as a plan.
pub(crate) fn unreadable_plan(path: &Path, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnusablePlanFile,
        format!(
            "cannot read the plan `{}`: {}",
            untrusted(&crate::source::display_name(path)),
            untrusted(why)
        ),
    )
    .with_help(
        "compare plans saved with `rune plan --out FILE`; `rune schema plan` describes the format",
    )
}

/// The catalog root of the plan at `path` as the working directory sees it, and
/// its catalogs loaded when every file it records is still there with the digest
/// it records (else nothing: lines in other text would point at the wrong place)
/// and `wanted`.
fn recorded_catalogs(
    path: &Path,
    doc: &PlanDocument,
    wanted: bool,
) -> (String, Option<Box<CheckedCatalog>>) {
    let dir = path.parent().unwrap_or(Path::new(""));
    let root_dir = crate::plan::root::normalize(&dir.join(&doc.inputs.catalog_root));
    let root = crate::plan::root::slash(&root_dir);
    let root = if root.is_empty() {
        ".".to_string()
    } else {
        root
    };
    if !wanted {
        return (root, None);
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for f in &doc.inputs.files {
        // Only plain names below the root: a plan is untrusted input.
        let inside = !f.file.is_empty()
            && Path::new(&f.file)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        let file = root_dir.join(&f.file);
        let same = inside
            && std::fs::read(&file).is_ok_and(|bytes| {
                let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
                crate::digest::sha256_hex(text) == f.sha256
            });
        if !same {
            return (root, None);
        }
        paths.push(file);
    }
    if paths.is_empty() {
        return (root, None);
    }
    (root, Some(Box::new(crate::catalog::load_and_check(&paths))))
}
