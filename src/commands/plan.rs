//! `rune plan`: the lifecycle and action plan as a dry run.
//!
//! Wiring only: check the flags, load and check the catalog (refusing to plan an
//! invalid one, with `validate`'s report), type the parameters, plan, render, and
//! save with `--out`. Every failure is a diagnostic handed to
//! `report::refusal` (with `--format json`, the diagnostics report replaces the
//! plan on stdout; a plan with denied steps is still a plan). Exit codes: 0 planned (or, with `--detailed-exitcode`, nothing
//! to do), 1 invalid catalog, invalid parameters or a denied step, 2 usage error,
//! 3 steps planned (only with `--detailed-exitcode`).

use std::path::Path;

use jiff::Timestamp;
use serde_json::Map;

use crate::catalog::{self, CheckedCatalog};
use crate::cli::{OutputFormat, PlanArgs, SelectorArgs};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::untrusted;
use crate::params;
use crate::plan::document::PlanDocument;
use crate::plan::root::CatalogRoot;
use crate::plan::{self, Clock, PlanError, Request};
use crate::report::diagnostics::Summary;
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::save::save_atomically;
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// What `rune plan` builds, kept past the command for the caller (see
/// [`super::Leftovers`]); the command itself only borrows it.
#[derive(Default)]
struct Built {
    checked: Option<CheckedCatalog>,
    refused: Option<Box<CheckedCatalog>>,
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
    let status = plan_with(args, config, printer, &mut built);
    leftovers.keep(built);
    status
}

fn plan_with(
    args: &PlanArgs,
    config: &Config,
    printer: &mut Printer,
    built: &mut Built,
) -> ExitStatus {
    let channel = Channel {
        json: args.format == OutputFormat::Json,
        color: config.color_stderr,
    };
    let nothing_read = SourceMap::default();
    let usage = |printer: &mut Printer, diagnostics: Vec<Diagnostic>| {
        let refusal = Refusal {
            kind: Refused::Usage,
            diagnostics,
            sources: &nothing_read,
            summary: Summary::default(),
        };
        refusal::report(printer, refusal, channel)
    };
    // Every flag problem at once, before any I/O.
    let mut problems = check_flags(&args.select);
    let instant = instant(&args.select, config);
    if let Err(d) = &instant {
        problems.push(d.clone());
    }
    // Refuse an `--out` that could never be written before planning, not after.
    let paths = config.catalog_paths(&args.paths);
    if let Some(out) = args.out.as_deref().filter(|out| *out != Path::new("-")) {
        let refused = crate::report::save::resolve_target(out)
            .map(drop)
            .and_then(|()| crate::report::save::refuse_catalog_input(out, &paths));
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
    let (at, clock) = match instant {
        Ok(instant) if problems.is_empty() => instant,
        _ => return usage(printer, problems),
    };
    let checked = match catalog::load_valid(&paths) {
        Ok(checked) => built.checked.insert(checked),
        Err(checked) => {
            let checked = built.refused.insert(checked);
            return super::refuse_catalog(checked, channel, printer);
        }
    };
    super::show_warnings(checked, config, printer);
    let params = match &args.select.action {
        Some(name) => match action_params(&args.select, name, checked) {
            Ok(params) => params,
            Err((kind, diagnostics)) => {
                return refuse(printer, checked, kind, diagnostics, channel);
            }
        },
        None => Map::new(),
    };
    let request = Request {
        targets: args.select.targets.clone(),
        action: args.select.action.clone(),
        params,
        at,
        clock,
        acks: args.select.acks.clone(),
        reason: args.select.reason.clone(),
    };
    let planned = match &args.select.workflow {
        Some(name) => workflow_plan(checked, request, name, WorkflowInputs::Flags(&args.select)),
        None => plan::plan(&checked.registry, &checked.graph, request).map_err(|e| match e {
            PlanError::Usage(d) => (Refused::Usage, d),
            PlanError::Invalid(d) => (Refused::InvalidRequest, d),
        }),
    };
    let plan = match planned {
        Ok(plan) => plan,
        Err((kind, d)) => return refuse(printer, checked, kind, d, channel),
    };
    // A plan names its files in JSON, which holds only Unicode: a path that is not
    // UTF-8 would be recorded as a name no file has.
    let unnamed: Vec<Diagnostic> = checked
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
        .collect();
    if !unnamed.is_empty() {
        return refuse(printer, checked, Refused::InvalidRequest, unnamed, channel);
    }
    let step_count = plan.step_count(&checked.registry);
    let cwd = std::env::current_dir().unwrap_or_default();
    let root = CatalogRoot::new(&paths, &cwd);
    // Read off the plan before the document takes it.
    let denials = policy_denials(&plan, checked);
    let doc = built.doc.insert(PlanDocument::new(
        plan,
        &checked.registry,
        &checked.sources,
        &root,
    ));
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    if !denials.is_empty() {
        // The plan shows every decision and stays on stdout (in JSON too: a denial
        // is a decision recorded in the plan document); the denials are reported on
        // stderr like every other failure, labelled at the rules that decided, and a
        // plan with denied steps never reaches a file.
        match args.format {
            OutputFormat::Human if to_stdout => {
                printer.err(&crate::report::plan::render_human(doc))
            }
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
                "error: the plan has denied steps; not written to {}\n",
                if to_stdout {
                    "stdout".to_string()
                } else {
                    untrusted(&crate::source::display_name(out)).into_owned()
                }
            ));
        }
        return status;
    }
    // Save first: a plan that cannot be written is a failure, reported instead of it.
    let mut written = None;
    if let Some(out) = args.out.as_deref().filter(|_| !to_stdout) {
        // The saved plan finds its catalogs from where it lies, so it applies from
        // any working directory: the root is written as seen from the file's directory.
        let target = crate::report::save::resolve_target(out).unwrap_or_else(|_| out.to_path_buf());
        let seen_here = root.seen_from(target.parent().unwrap_or(Path::new("")));
        let printed = std::mem::replace(&mut doc.inputs.catalog_root, seen_here);
        let json = doc.to_json();
        doc.inputs.catalog_root = printed;
        match save_atomically(out, json.as_bytes()) {
            Ok(_) => written = Some(untrusted(&crate::source::display_name(out)).into_owned()),
            Err(e) => {
                let d = unwritable_out(out, &e.to_string());
                return refuse(printer, checked, Refused::Usage, vec![d], channel);
            }
        }
    }
    match args.format {
        // `--out -` puts the plan document on stdout; the readable view moves to stderr.
        OutputFormat::Human if to_stdout => {
            printer.err(&crate::report::plan::render_human(doc));
            printer.out_with(|w| doc.write_json(w));
        }
        OutputFormat::Human => printer.out(&crate::report::plan::render_human(doc)),
        OutputFormat::Json => printer.out_with(|w| doc.write_json(w)),
    }
    if let Some(name) = written {
        printer.err(&format!("plan written to {name}\n"));
    }
    if args.detailed_exitcode && step_count > 0 {
        ExitStatus::StepsPlanned
    } else {
        ExitStatus::Success
    }
}

/// The plan's denied action steps (and workflow compensations), each a
/// diagnostic labelled at the rule that decided; a workflow step is named.
pub(crate) fn policy_denials(plan: &plan::Plan, checked: &CheckedCatalog) -> Vec<Diagnostic> {
    let registry = &checked.registry;
    let workflow = plan
        .workflow
        .as_ref()
        .and_then(|w| registry.workflows.get(w.workflow));
    let mut denials = Vec::new();
    for step in &plan.actions {
        let id = match (workflow, &step.place) {
            (Some(w), Some(place)) => w.steps.get(place.step).map(|s| (w, s)),
            _ => None,
        };
        for (n, action_step) in step.with_compensation().enumerate() {
            if action_step.decision.allowed {
                continue;
            }
            let action = &registry.modules[action_step.module].actions[action_step.action];
            let mut d = crate::policy::denial(
                &action_step.decision,
                action,
                registry.policy(),
                &checked.sources,
            );
            if let Some((w, s)) = id {
                let what = if n == 0 {
                    "step"
                } else {
                    "compensation of step"
                };
                d.message = format!(
                    "workflow `{}` {what} `{}`: {}",
                    w.name.value, s.id.value, d.message
                );
                d = d.with_label(
                    if n == 0 {
                        s.id.span
                    } else {
                        s.compensate.as_ref().map_or(s.id.span, |c| c.action.span)
                    },
                    format!("{what} `{}`", s.id.value),
                );
            }
            denials.push(d);
        }
    }
    denials
}

/// Where a workflow's run inputs come from.
// `Recorded` is for `rune apply PLAN` of a saved workflow plan.
#[allow(dead_code)]
pub(crate) enum WorkflowInputs<'a> {
    /// `--input` and `--inputs-file` (typed by the workflow's inputs schema).
    Flags(&'a SelectorArgs),
    /// Already typed: the `workflow.inputs` recorded in a saved plan (checked again).
    Recorded(&'a Map<String, serde_json::Value>),
}

/// Plan workflow `name` for `request` (its targets, action and params must be
/// empty: `check_flags` refuses them with `--workflow`): find the workflow, type
/// and check its inputs, plan its steps. The error says how to refuse
/// (usage: exit 2; invalid request: exit 1). Denials are not errors here: they are
/// decisions in the plan (see [`policy_denials`]).
pub(crate) fn workflow_plan(
    checked: &mut CheckedCatalog,
    request: Request,
    name: &str,
    inputs: WorkflowInputs<'_>,
) -> Result<plan::Plan, (Refused, Vec<Diagnostic>)> {
    let w = plan::workflow::find_workflow(&checked.registry, name, "--workflow")
        .map_err(|d| (Refused::Usage, vec![d]))?;
    let inputs = match inputs {
        WorkflowInputs::Flags(select) => {
            workflow_inputs(&select.inputs, select.inputs_file.as_deref(), w, checked)?
        }
        WorkflowInputs::Recorded(values) => {
            let invalid = check_inputs(values, w, checked, None);
            if !invalid.is_empty() {
                return Err((Refused::InvalidRequest, invalid));
            }
            values.clone()
        }
    };
    let ask = plan::workflow::WorkflowRequest {
        name: name.to_string(),
        inputs,
    };
    plan::workflow::plan_workflow(&checked.registry, &checked.graph, request, ask).map_err(|e| {
        match e {
            PlanError::Usage(d) => (Refused::Usage, d),
            PlanError::Invalid(d) => (Refused::InvalidRequest, d),
        }
    })
}

/// The plan document of workflow `name`, for `rune apply --workflow` (inputs from
/// the flags) and `rune apply PLAN` of a saved workflow plan (the recorded
/// inputs). `request` carries the instant, clock, acks and reason; its targets,
/// action and params are ignored. Every refusal is reported here (unknown
/// workflow: exit 2; bad inputs, invalid steps or a denied step or compensation:
/// exit 1) and its status returned.
// Called by `rune apply` (src/commands/apply.rs).
#[allow(dead_code)]
pub(crate) fn workflow_document(
    checked: &mut CheckedCatalog,
    request: Request,
    name: &str,
    inputs: WorkflowInputs<'_>,
    root: &CatalogRoot,
    channel: Channel,
    printer: &mut Printer,
) -> Result<PlanDocument, ExitStatus> {
    let plan = match workflow_plan(checked, request, name, inputs) {
        Ok(plan) => plan,
        Err((kind, d)) => return Err(refuse(printer, checked, kind, d, channel)),
    };
    let denials = policy_denials(&plan, checked);
    if !denials.is_empty() {
        return Err(refuse(printer, checked, Refused::Denied, denials, channel));
    }
    Ok(PlanDocument::new(
        plan,
        &checked.registry,
        &checked.sources,
        root,
    ))
}

/// The run inputs of workflow `w` from `--inputs-file` and `--input` (`--input`
/// wins), typed by its inputs schema and checked against it; an inputs file is
/// added to the catalog's sources so its values can be labelled.
pub(crate) fn workflow_inputs(
    assignments: &[String],
    inputs_file: Option<&Path>,
    w: usize,
    checked: &mut CheckedCatalog,
) -> Result<Map<String, serde_json::Value>, (Refused, Vec<Diagnostic>)> {
    aside_from_catalog(checked, inputs_file.is_some(), |checked, sources| {
        workflow_inputs_in(assignments, inputs_file, w, checked, sources)
    })
}

fn workflow_inputs_in(
    assignments: &[String],
    inputs_file: Option<&Path>,
    w: usize,
    checked: &CheckedCatalog,
    sources: &mut SourceMap,
) -> Result<Map<String, serde_json::Value>, (Refused, Vec<Diagnostic>)> {
    let file = match inputs_file {
        Some(path) => Some(
            params::read_values_file(path, sources, params::Flag::INPUT)
                .map_err(|d| (Refused::Usage, vec![d]))?,
        ),
        None => None,
    };
    let schema = checked.registry.workflows[w].inputs.as_ref();
    let (from_file, mut document) = match file {
        Some(file) => (file.values, Some(file.document)),
        None => (Map::new(), None),
    };
    let values = params::collect_for(assignments, from_file, schema, params::Flag::INPUT)
        .map_err(|d| (Refused::Usage, vec![d]))?;
    if let Some(document) = &mut document {
        for (key, _) in assignments
            .iter()
            .filter_map(|p| params::split_assignment_of(p, params::Flag::INPUT).ok())
        {
            document.take(key);
        }
    }
    let invalid = check_inputs(&values, w, checked, document.as_ref());
    if !invalid.is_empty() {
        return Err((Refused::InvalidRequest, invalid));
    }
    Ok(values)
}

/// Check run inputs against workflow `w`'s inputs schema; a workflow without one
/// takes no inputs.
fn check_inputs(
    values: &Map<String, serde_json::Value>,
    w: usize,
    checked: &CheckedCatalog,
    file: Option<&crate::yaml::Node>,
) -> Vec<Diagnostic> {
    let workflow = &checked.registry.workflows[w];
    let name = &workflow.name.value;
    match &workflow.inputs {
        Some(schema) => {
            params::validate_against(values, schema, &params::Subject::workflow(name), file, &[])
        }
        None if values.is_empty() => Vec::new(),
        None => {
            let given: Vec<String> = values.keys().map(|k| crate::schema::quote(k)).collect();
            vec![Diagnostic::new(
                Code::InvalidWorkflowInput,
                format!(
                    "workflow `{name}` declares no inputs, so it takes no input {}",
                    given.join(", ")
                ),
            )
            .with_label(workflow.name.span, "declares no `inputs` schema")
            .with_help("drop the --input and --inputs-file flags, or declare `inputs` (a JSON Schema) on the workflow")]
        }
    }
}

/// Report a refusal after the catalog was read, with its counts.
pub(crate) fn refuse(
    printer: &mut Printer,
    checked: &CheckedCatalog,
    kind: Refused,
    diagnostics: Vec<Diagnostic>,
    channel: Channel,
) -> ExitStatus {
    let refusal = Refusal {
        kind,
        diagnostics,
        sources: &checked.sources,
        summary: checked.summary(),
    };
    refusal::report(printer, refusal, channel)
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

/// The instant to plan at: `--at`, else `SOURCE_DATE_EPOCH`, else now.
pub(crate) fn instant(
    args: &SelectorArgs,
    config: &Config,
) -> Result<(Timestamp, Clock), Diagnostic> {
    instant_at(args.at.as_deref(), config)
}

/// The instant policy is evaluated at, from `--at` (given or not) and the config.
pub(crate) fn instant_at(
    at: Option<&str>,
    config: &Config,
) -> Result<(Timestamp, Clock), Diagnostic> {
    Ok(match (at, &config.source_date_epoch) {
        (Some(text), _) => (parse_at(text)?, Clock::Fixed),
        (None, Some(raw)) => (source_date_epoch(raw)?, Clock::SourceDateEpoch),
        // Whole seconds: the plan records the instant, and nanoseconds are noise.
        (None, None) => (
            Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH),
            Clock::Now,
        ),
    })
}

/// Earliest `--at`: the Unix epoch. Plans record instants that tools read as Unix
/// time, and nothing rune plans can happen before it.
const EARLIEST_AT: Timestamp = Timestamp::UNIX_EPOCH;
/// Latest `--at`: the end of year 9998, a year before the end of the calendar rune
/// computes in, so the change windows after the instant can still be found.
const LATEST_AT_YEAR: i16 = 9998;
/// The largest offset RFC 3339 can write (`±23:59`), in seconds.
const MAX_OFFSET_SECONDS: i32 = 23 * 3600 + 59 * 60;

/// `SOURCE_DATE_EPOCH` as an instant: whole seconds since 1970-01-01T00:00:00Z, in the
/// range `--at` accepts. The convention says a malformed value is an error, not
/// something to ignore: a build that set it expects reproducible output.
pub(crate) fn source_date_epoch(raw: &str) -> Result<Timestamp, Diagnostic> {
    let shown = crate::schema::quote(raw);
    let invalid = |why: &str| {
        Diagnostic::new(Code::InvalidInstant, format!("invalid SOURCE_DATE_EPOCH {shown}: {why}"))
            .with_help("set it to whole seconds since 1970-01-01T00:00:00Z (e.g. `$(git log -1 --format=%ct)`), or unset it and pass --at")
    };
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a whole number of seconds"));
    }
    let at = digits
        .parse::<i64>()
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or_else(|| invalid("out of range"))?;
    // The same range as --at.
    parse_at(&at.to_string()).map_err(|_| {
        invalid(&format!(
            "out of range: --at takes instants from 1970 to the end of year {LATEST_AT_YEAR}"
        ))
    })
}

/// `--at` as an instant: RFC 3339 with a `Z` or numeric offset, between 1970 and
/// the end of year 9998. The message says which part is wrong: the parser's own
/// words for a year of five digits or an offset of +25:00 point elsewhere or
/// nowhere.
pub(crate) fn parse_at(text: &str) -> Result<Timestamp, Diagnostic> {
    const HELP: &str =
        "write an RFC 3339 instant with `Z` or an offset, e.g. `2026-03-27T10:00:00Z`";
    let trimmed = text.trim();
    let shown = crate::schema::quote(trimmed);
    let invalid = |why: String| {
        Diagnostic::new(Code::InvalidInstant, format!("invalid --at {shown}: {why}"))
            .with_help(HELP)
    };
    let range = || {
        format!("--at takes instants from 1970-01-01T00:00:00Z to {LATEST_AT_YEAR}-12-31T23:59:59Z")
    };
    let year_digits = trimmed
        .trim_start_matches(['+', '-'])
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if year_digits > 4 && trimmed.contains('-') {
        return Err(invalid(format!(
            "the year has {year_digits} digits; {}",
            range()
        )));
    }
    let pieces = jiff::fmt::temporal::Pieces::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if let Some(jiff::fmt::temporal::PiecesOffset::Numeric(numeric)) = pieces.offset() {
        let seconds = numeric.offset().seconds();
        if seconds.abs() > MAX_OFFSET_SECONDS {
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.unsigned_abs() / 60;
            return Err(invalid(format!(
                "the offset {sign}{:02}:{:02} is out of range: RFC 3339 offsets go up to ±23:59, and the time zones in use lie between -12:00 and +14:00",
                minutes / 60,
                minutes % 60
            )));
        }
    }
    if pieces.date().year() > LATEST_AT_YEAR {
        return Err(invalid(format!(
            "the instant is too far in the future; {}",
            range()
        )));
    }
    let at = trimmed
        .parse::<Timestamp>()
        .map_err(|e| invalid(e.to_string()))?;
    if at < EARLIEST_AT {
        return Err(invalid(format!("the instant is before 1970; {}", range())));
    }
    if at.to_zoned(jiff::tz::TimeZone::UTC).year() > LATEST_AT_YEAR {
        return Err(invalid(format!(
            "the instant is too far in the future; {}",
            range()
        )));
    }
    Ok(at)
}

/// Flag combinations that make no sense, and malformed `--param`s, before any
/// I/O: every one, so a command line is fixed in one go.
pub(crate) fn check_flags(args: &SelectorArgs) -> Vec<Diagnostic> {
    let mut problems: Vec<Diagnostic> = args
        .params
        .iter()
        .filter_map(|param| params::split_assignment(param).err())
        .collect();
    problems.extend(
        args.inputs
            .iter()
            .filter_map(|input| params::split_assignment_of(input, params::Flag::INPUT).err()),
    );
    let flags = |message: String, help: &str| {
        Diagnostic::new(Code::InvalidFlags, message).with_help(help.to_string())
    };
    if let Some(workflow) = &args.workflow {
        // A workflow's steps name their actions and parameters, and it selects
        // its own modules: these would silently mean nothing.
        let conflicting: Vec<&str> = [
            args.action.as_ref().map(|_| "--action"),
            (!args.params.is_empty()).then_some("--param"),
            args.params_file.as_ref().map(|_| "--params-file"),
            (!args.targets.is_empty()).then_some("--target"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !conflicting.is_empty() {
            problems.push(flags(
                format!(
                    "--workflow `{}` cannot be combined with {}: a workflow's steps name their actions, parameters and modules",
                    crate::escape::untrusted(workflow),
                    conflicting.join(", ")
                ),
                "drop them and pass the workflow's inputs with `--input KEY=VALUE`, or plan the action alone without --workflow",
            ));
        }
        if args.reason.is_some() && args.acks.is_empty() {
            problems.push(flags(
                "--reason is recorded with a break-glass acknowledgment".to_string(),
                "add `--ack ACTION`, or drop --reason",
            ));
        }
        return problems;
    }
    if let Some(input) = args.inputs.first() {
        problems.push(flags(
            format!("--input `{input}` needs --workflow NAME"),
            "inputs belong to a workflow: add `--workflow NAME`; an action takes `--param`",
        ));
    }
    if args.inputs_file.is_some() {
        problems.push(flags(
            "--inputs-file needs --workflow NAME".to_string(),
            "inputs belong to a workflow: add `--workflow NAME`; an action takes `--params-file`",
        ));
    }
    if args.action.is_none() {
        if let Some(p) = args.params.first() {
            problems.push(flags(
                format!("--param `{p}` needs --action NAME"),
                "parameters belong to an action: add `--action NAME` (`rune list-actions` shows them)",
            ));
        }
        if args.params_file.is_some() {
            problems.push(flags(
                "--params-file needs --action NAME".to_string(),
                "parameters belong to an action: add `--action NAME` (`rune list-actions` shows them)",
            ));
        }
        if let Some(ack) = args.acks.first() {
            problems.push(flags(
                format!(
                    "--ack `{ack}` needs --action {ack}: it acknowledges the action being planned"
                ),
                "add the action, or drop --ack",
            ));
        }
    }
    if args.reason.is_some() && args.acks.is_empty() {
        problems.push(flags(
            "--reason is recorded with a break-glass acknowledgment".to_string(),
            "add `--ack ACTION`, or drop --reason",
        ));
    }
    problems
}

/// The action's parameters from `--params-file` and `--param`, typed by its
/// schema and checked against it; a parameters file is added to the catalog's
/// sources so its values can be labelled.
pub(crate) fn action_params(
    args: &SelectorArgs,
    name: &str,
    checked: &mut CheckedCatalog,
) -> Result<Map<String, serde_json::Value>, (Refused, Vec<Diagnostic>)> {
    // An unknown action is reported by the planner with the other selector errors.
    let Ok((m, a)) = plan::find_action(&checked.registry, name) else {
        return Ok(Map::new());
    };
    typed_params(&args.params, args.params_file.as_deref(), m, a, checked)
}

/// Parameters of action `a` of module `m` from `--params-file` and `--param`
/// (`--param` wins), typed by the action's schema and checked against it.
pub(crate) fn typed_params(
    assignments: &[String],
    params_file: Option<&Path>,
    m: usize,
    a: usize,
    checked: &mut CheckedCatalog,
) -> Result<Map<String, serde_json::Value>, (Refused, Vec<Diagnostic>)> {
    aside_from_catalog(checked, params_file.is_some(), |checked, sources| {
        typed_params_in(assignments, params_file, m, a, checked, sources)
    })
}

/// Run `read` with a copy of the catalog's sources to add a parameters or inputs
/// file to (when `reads` one). A plan records every file of `checked.sources` as
/// a catalog file, and such a file is not one (`rune apply PLAN` would read it as
/// a catalog): the copy replaces the sources only when the read fails, so the
/// diagnostics can label the file.
fn aside_from_catalog<T>(
    checked: &mut CheckedCatalog,
    reads: bool,
    read: impl FnOnce(&CheckedCatalog, &mut SourceMap) -> Result<T, (Refused, Vec<Diagnostic>)>,
) -> Result<T, (Refused, Vec<Diagnostic>)> {
    if !reads {
        let mut untouched = SourceMap::default();
        return read(checked, &mut untouched);
    }
    let mut sources = checked.sources.clone();
    let result = read(checked, &mut sources);
    if result.is_err() {
        checked.sources = sources;
    }
    result
}

fn typed_params_in(
    assignments: &[String],
    params_file: Option<&Path>,
    m: usize,
    a: usize,
    checked: &CheckedCatalog,
    sources: &mut SourceMap,
) -> Result<Map<String, serde_json::Value>, (Refused, Vec<Diagnostic>)> {
    let file = match params_file {
        Some(path) => {
            Some(params::read_params_file(path, sources).map_err(|d| (Refused::Usage, vec![d]))?)
        }
        None => None,
    };
    let action = &checked.registry.modules[m].actions[a];
    let (from_file, mut document) = match file {
        Some(file) => (file.values, Some(file.document)),
        None => (Map::new(), None),
    };
    let params =
        params::collect(assignments, from_file, action).map_err(|d| (Refused::Usage, vec![d]))?;
    // What `--param` replaced is no longer the file's to answer for.
    if let Some(document) = &mut document {
        for (key, _) in assignments
            .iter()
            .filter_map(|p| params::split_assignment(p).ok())
        {
            document.take(key);
        }
    }
    let invalid = params::validate_from(&params, action, document.as_ref());
    if !invalid.is_empty() {
        return Err((Refused::InvalidRequest, invalid));
    }
    Ok(params)
}
