//! `rune plan`: the lifecycle and action plan as a dry run.
//!
//! Wiring only: check the flags, load and check the catalog (refusing to plan an
//! invalid one, with `validate`'s report), type the parameters, plan, render, and
//! save with `--out`. Every failure is a diagnostic handed to
//! `report::refusal` (with `--format json`, the diagnostics report replaces the
//! plan on stdout; a plan with denied steps is still a plan). Exit codes: 0 planned (or, with `--detailed-exitcode`, nothing
//! to do), 1 invalid catalog, invalid parameters or a denied step, 2 usage error,
//! 3 steps planned (only with `--detailed-exitcode`). With `--check GOLDEN` the plan
//! is compared with the golden file by meaning (`plan::drift`, the report shared
//! with `rune diff`): 0 no drift, 1 drift, 2 usage; `--update` rewrites the file.

use std::path::Path;

use crate::catalog::CheckedCatalog;
use crate::cli::{OutputFormat, PlanArgs, PlanFormat};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::untrusted;
use crate::plan::document::PlanDocument;
use crate::plan::root::CatalogRoot;
use crate::report::refusal::{self, Channel, Refused};
use crate::report::Printer;
use crate::request::{check_flags, instant, policy_denials, refuse, Purpose};
use crate::ExitStatus;

/// What `rune plan` builds, kept past the command for the caller (see
/// [`super::Leftovers`]); the command itself only borrows it.
#[derive(Default)]
struct Built {
    checked: Option<Box<CheckedCatalog>>,
    doc: Option<PlanDocument>,
}

/// Run `rune plan`.
pub(crate) fn run(
    args: &PlanArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let mut built = Built::default();
    let status = plan_with(args, config, printer, &mut built, leftovers);
    leftovers.keep(built);
    status
}

fn plan_with(
    args: &PlanArgs,
    config: &Config,
    printer: &mut Printer,
    built: &mut Built,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let channel = Channel {
        json: args.format == PlanFormat::Json,
        color: config.color_stderr,
    };
    let usage = |printer: &mut Printer, diagnostics| refusal::usage(printer, diagnostics, channel);
    let paths = config.catalog_paths(&args.paths);
    let (mut at, mut clock) = match check_command_line(args, config, &paths) {
        Ok(instant) => instant,
        Err(problems) => return usage(printer, problems),
    };
    // The golden file: read first when its instant is the one to plan at (no
    // --at, no SOURCE_DATE_EPOCH), else on another core while the catalogs load
    // and plan. A file that is not a plan is a usage error either way.
    let golden = match args.check.as_deref() {
        None => Golden::Read(Ok(None)),
        Some(path) if clock == crate::plan::Clock::Now => match read_golden(path, args.update) {
            Err(d) => return usage(printer, vec![d]),
            Ok(golden) => {
                if let Some(golden) = &golden {
                    (at, clock) = (golden.evaluated_at, golden.clock);
                }
                Golden::Read(Ok(golden))
            }
        },
        Some(path) => Golden::start(path, args.update),
    };
    let checked = match super::load_catalog(&paths, channel, config, printer, leftovers) {
        Ok(checked) => built.checked.insert(checked),
        Err(status) => return status,
    };
    // Before planning: a workflow step's `node` is checked against it.
    if let Err(status) =
        super::run_nodes::install_inventory(&args.select.inventories, checked, channel, printer)
    {
        return status;
    }
    let planned = crate::request::selected(&args.select, (at, clock), checked)
        .and_then(|ask| crate::request::compute(checked, ask.request, ask.workflow));
    let plan = match planned {
        Ok(plan) => plan,
        Err((kind, d)) => return refuse(printer, checked, kind, d, channel),
    };
    let unnamed = unnamed_files(checked);
    if !unnamed.is_empty() {
        return refuse(printer, checked, Refused::InvalidRequest, unnamed, channel);
    }
    let step_count = plan.step_count(&checked.registry);
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(&paths, &cwd);
    // Read off the plan before the document takes it.
    let denials = policy_denials(&plan, checked, Purpose::DryRun);
    let doc = built.doc.insert(PlanDocument::new(
        plan,
        &checked.registry,
        &checked.sources,
        &root,
    ));
    doc.inputs.programs = crate::plan::programs::digests(doc, &cwd.join(root.display()));
    doc.inputs.inventory_sha256 = crate::exec::remote::inventory_sha256(doc);
    if let Some(path) = args.check.as_deref() {
        let golden = match golden.finish(path) {
            Ok(golden) => golden,
            Err(d) => return usage(printer, vec![d]),
        };
        // A denial is a decision the drift compares; only a file written refuses it.
        if !args.update || denials.is_empty() {
            let check = Check {
                path,
                golden: golden.as_deref(),
                update: args.update,
            };
            return check_golden(args.format, check, doc, checked, &root, channel, printer);
        }
        let status = show_denied(args, doc, checked, denials, channel, printer);
        printer.err(&format!(
            "the plan has denied steps; {} not updated\n",
            untrusted(&crate::source::display_name(path))
        ));
        return status;
    }
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    if !denials.is_empty() {
        return show_denied(args, doc, checked, denials, channel, printer);
    }
    // Save first: a plan that cannot be written is a failure, reported instead of it.
    let written = match args.out.as_deref().filter(|_| !to_stdout) {
        Some(out) => match save(out, doc, &root) {
            Ok(written) => Some(written),
            Err(d) => return refuse(printer, checked, Refused::Usage, vec![d], channel),
        },
        None => None,
    };
    print_plan(args.format.plan(), doc, to_stdout, printer);
    if let Some((name, sha256)) = written {
        // The digest is what `rune apply FILE --expect-digest` checks: a CI job that
        // approved this plan applies this plan and no other.
        printer.err(&format!("plan written to {name} (sha256 {sha256})\n"));
    }
    if args.detailed_exitcode && step_count > 0 {
        ExitStatus::StepsPlanned
    } else {
        ExitStatus::Success
    }
}

/// Which of `--params-file` and `--inputs-file` `--out` names (through any links
/// or spelling), if either.
fn reads_params_from(args: &PlanArgs, out: &Path) -> Option<&'static str> {
    let out = std::fs::canonicalize(out).ok()?;
    [
        ("--params-file", &args.select.params_file),
        ("--inputs-file", &args.select.inputs_file),
    ]
    .into_iter()
    .find(|(_, read)| {
        read.as_ref()
            .is_some_and(|read| std::fs::canonicalize(read).is_ok_and(|read| read == out))
    })
    .map(|(flag, _)| flag)
}

fn unwritable_out(out: &Path, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::UnwritableOut,
        format!(
            "cannot write the plan to `{}`: {why}",
            crate::source::display_name(out)
        ),
    )
    .with_help("name a regular file outside the catalog paths, in a directory that exists, or `-` for stdout")
}

/// Every flag problem at once, before any I/O: the selectors, the instant, and an
/// `--out` that could never be written (refused before planning, not after).
fn check_command_line(
    args: &PlanArgs,
    config: &Config,
    paths: &[std::path::PathBuf],
) -> Result<(jiff::Timestamp, crate::plan::Clock), Vec<Diagnostic>> {
    let mut problems = check_flags(&args.select);
    let instant = instant(&args.select, config, Purpose::DryRun);
    if let Err(d) = &instant {
        problems.push(d.clone());
    }
    if args.format == PlanFormat::Github && args.check.is_none() {
        problems.push(
            Diagnostic::new(
                Code::InvalidFlags,
                "--format github reports drift: it goes with --check GOLDEN",
            )
            .with_help("use --format human or json to print the plan, or add --check FILE"),
        );
    }
    // `--check FILE --update` writes FILE like `--out FILE`: the same refusals.
    let written = args
        .out
        .as_deref()
        .or(args.check.as_deref().filter(|_| args.update));
    if let Some(out) = written.filter(|out| *out != Path::new("-")) {
        let refused = crate::report::save::resolve_target(out)
            .map(drop)
            .and_then(|()| crate::report::save::refuse_catalog_input(out, paths));
        if let Err(e) = refused {
            problems.push(unwritable_out(out, &e.to_string()));
        } else if let Some(flag) = reads_params_from(args, out) {
            // Like a catalog file: the plan would replace the input it was made from.
            problems.push(unwritable_out(
                out,
                &format!("it is the {flag} this plan reads; write the plan elsewhere"),
            ));
        }
    }
    match instant {
        Ok(instant) if problems.is_empty() => Ok(instant),
        _ => Err(problems),
    }
}

/// A plan names its files in JSON, which holds only Unicode: a catalog file whose
/// path is not UTF-8 would be recorded as a name no file has.
fn unnamed_files(checked: &CheckedCatalog) -> Vec<Diagnostic> {
    checked
        .sources
        .files()
        .take(checked.catalog_files)
        .filter(|(_, f)| f.path.to_str().is_none())
        .map(|(_, f)| {
            Diagnostic::new(
                Code::UnrepresentablePath,
                format!(
                    "cannot plan: the catalog file `{}` has a path that is not UTF-8",
                    untrusted(&f.name)
                ),
            )
            .with_help("rename the file to a UTF-8 name; a plan records every catalog file by name")
        })
        .collect()
}

/// Show a plan with denied steps and refuse it (exit 1): the plan shows every
/// decision and stays on stdout (in JSON too: a denial is a decision recorded in
/// the plan document); the denials are reported on stderr like every other
/// failure, labelled at the rules that decided, and a plan with denied steps
/// never reaches a file.
fn show_denied(
    args: &PlanArgs,
    doc: &PlanDocument,
    checked: &CheckedCatalog,
    denials: Vec<Diagnostic>,
    channel: Channel,
    printer: &mut Printer,
) -> ExitStatus {
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    match args.format.plan() {
        OutputFormat::Human if to_stdout => printer.err(&crate::report::plan::render_human(doc)),
        OutputFormat::Human => printer.out(&crate::report::plan::render_human(doc)),
        OutputFormat::Json if to_stdout => {}
        OutputFormat::Json => printer.out_with(|w| doc.write_json(w)),
    }
    // With `--out -` stdout is where the plan would have gone, and a denied plan
    // never goes there: stdout gets the diagnostics report instead, so `--format
    // json` still leaves one JSON document on it (one `rune apply` refuses).
    let channel = Channel {
        json: channel.json && to_stdout,
        ..channel
    };
    let status = refuse(printer, checked, Refused::Denied, denials, channel);
    if let Some(out) = &args.out {
        printer.err(&format!(
            "the plan has denied steps; not written to {}\n",
            if to_stdout {
                "stdout".to_string()
            } else {
                untrusted(&crate::source::display_name(out)).into_owned()
            }
        ));
    }
    status
}

/// Write the plan to `out`, streamed; its display name and the sha256 written.
fn save(
    out: &Path,
    doc: &mut PlanDocument,
    root: &CatalogRoot,
) -> Result<(String, String), Diagnostic> {
    // The saved plan finds its catalogs from where it lies, so it applies from
    // any working directory: the root is written as seen from the file's directory.
    let target = crate::report::save::resolve_target(out).unwrap_or_else(|_| out.to_path_buf());
    let seen_here = root.seen_from(target.parent().unwrap_or(Path::new("")));
    let printed = std::mem::replace(&mut doc.inputs.catalog_root, seen_here);
    let saved = crate::report::save::save_streaming(out, |w| doc.write_json(w));
    doc.inputs.catalog_root = printed;
    match saved {
        Ok((_, sha256)) => Ok((
            untrusted(&crate::source::display_name(out)).into_owned(),
            sha256,
        )),
        Err(e) => Err(unwritable_out(out, &e.to_string())),
    }
}

/// The plan on stdout (`--format`), or with `--out -` the document on stdout
/// and the readable view on stderr.
fn print_plan(format: OutputFormat, doc: &PlanDocument, to_stdout: bool, printer: &mut Printer) {
    match format {
        // `--out -` puts the plan document on stdout; the readable view moves to stderr.
        OutputFormat::Human if to_stdout => {
            printer.err(&crate::report::plan::render_human(doc));
            printer.out_with(|w| doc.write_json(w));
        }
        OutputFormat::Human => printer.out(&crate::report::plan::render_human(doc)),
        OutputFormat::Json => printer.out_with(|w| doc.write_json(w)),
    }
}

/// The golden file of `--check`, read or being read.
enum Golden {
    /// Read (none: no `--check`, or a file `--update` will create), or why not.
    Read(Result<Option<Box<PlanDocument>>, Diagnostic>),
    /// Being read on its own thread.
    Reading(std::thread::JoinHandle<Result<Option<Box<PlanDocument>>, Diagnostic>>),
}

impl Golden {
    /// Start reading `path` on a thread of its own (here when none can start).
    fn start(path: &Path, update: bool) -> Golden {
        let owned = path.to_path_buf();
        match std::thread::Builder::new()
            .name("golden".to_string())
            .spawn(move || read_golden(&owned, update))
        {
            Ok(handle) => Golden::Reading(handle),
            Err(_) => Golden::Read(read_golden(path, update)),
        }
    }

    /// The golden plan, once read.
    fn finish(self, path: &Path) -> Result<Option<Box<PlanDocument>>, Diagnostic> {
        match self {
            Golden::Read(golden) => golden,
            Golden::Reading(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(super::diff::unreadable_plan(path, "its reader stopped"))),
        }
    }
}

/// A `--check` in progress: the golden file and what to do with it.
struct Check<'a> {
    path: &'a Path,
    /// The golden plan; none when it does not exist yet (only with `--update`).
    golden: Option<&'a PlanDocument>,
    update: bool,
}

/// The golden file at `path`; none when it does not exist and `--update` will
/// create it.
fn read_golden(path: &Path, update: bool) -> Result<Option<Box<PlanDocument>>, Diagnostic> {
    if update && std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    match crate::plan::strict::read_plan(path) {
        Ok((doc, _)) => Ok(Some(Box::new(doc))),
        Err(why) => {
            let d = super::diff::unreadable_plan(path, &why);
            Err(if path.exists() {
                d
            } else {
                d.with_help("make the golden file with `rune plan ... --check FILE --update` (or `--out FILE`)")
            })
        }
    }
}

/// Compare the plan with the golden file, or with `--update` rewrite it: exit 1
/// on drift, else 0.
fn check_golden(
    format: PlanFormat,
    check: Check,
    doc: &mut PlanDocument,
    checked: &CheckedCatalog,
    root: &CatalogRoot,
    channel: Channel,
    printer: &mut Printer,
) -> ExitStatus {
    let found = check
        .golden
        .map(|golden| crate::plan::drift::compare(golden, doc))
        .unwrap_or_default();
    let places = crate::plan::drift::Places::new(Some(checked), root.display());
    let name = untrusted(&crate::source::display_name(check.path)).into_owned();
    let compared = crate::report::drift::Compared {
        before: &name,
        after: "the plan now",
    };
    if !check.update {
        super::diff::show(format, &found, &compared, &places, printer);
        return super::diff::status(&found);
    }
    if check.golden.is_some() {
        super::diff::show(format, &found, &compared, &places, printer);
    }
    // Rewritten only when its bytes would change: an up-to-date golden file keeps
    // its modification time.
    let target = crate::report::save::resolve_target(check.path)
        .unwrap_or_else(|_| check.path.to_path_buf());
    let seen_here = root.seen_from(target.parent().unwrap_or(Path::new("")));
    let printed = std::mem::replace(&mut doc.inputs.catalog_root, seen_here);
    let same = std::fs::read(check.path).is_ok_and(|old| old == doc.to_json().as_bytes());
    doc.inputs.catalog_root = printed;
    if same {
        printer.err(&format!("{name} is up to date\n"));
        return ExitStatus::Success;
    }
    match save(check.path, doc, root) {
        Ok((name, sha256)) => {
            printer.err(&format!(
                "golden plan written to {name} (sha256 {sha256})\n"
            ));
            ExitStatus::Success
        }
        Err(d) => refuse(printer, checked, Refused::Usage, vec![d], channel),
    }
}
