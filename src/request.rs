//! The request stage: the selectors of `plan`, `apply` and `run` (targets,
//! action, parameters and parameters file, workflow and inputs, acks, reason,
//! instant) turned into one typed [`Request`], in one place.
//!
//! Low-level flags come in (`cli::SelectorArgs`, `cli::RunArgs`); what leaves is
//! checked and typed: the instant policy is decided at (a dry run may move it,
//! an execution never does), the parameters typed by the action's schema, the
//! inputs by the workflow's. Commands call this stage and never each other.

use std::path::Path;

use jiff::Timestamp;
use serde_json::Map;

use crate::catalog::CheckedCatalog;
use crate::cli::SelectorArgs;
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::params;
use crate::plan::document::PlanDocument;
use crate::plan::root::CatalogRoot;
use crate::plan::{self, Clock, PlanError, Request};
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// The plan's denied action steps (and workflow compensations), each a
/// diagnostic labelled at the rule that decided; a workflow step is named.
pub(crate) fn policy_denials(
    plan: &plan::Plan,
    checked: &CheckedCatalog,
    purpose: Purpose,
) -> Vec<Diagnostic> {
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
            let mut d = denial(&action_step.decision, action, checked, purpose);
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

/// What the selectors of `plan` and `apply` ask for, typed: the request and, for
/// `--workflow`, the workflow with where its inputs come from.
pub(crate) struct Selected<'a> {
    /// Targets, action and its typed parameters, instant, acks and reason.
    pub request: Request,
    /// The workflow named by `--workflow`, with its `--input`s and inputs file.
    pub workflow: Option<(&'a str, WorkflowInputs<'a>)>,
}

/// The selectors as one typed request at `instant` (from [`instant`]): the
/// action's parameters read, typed and checked against its input schema. The
/// error says how to refuse.
pub(crate) fn selected<'a>(
    select: &'a SelectorArgs,
    (at, clock): (Timestamp, Clock),
    checked: &mut CheckedCatalog,
) -> Result<Selected<'a>, (Refused, Vec<Diagnostic>)> {
    let params = match &select.action {
        Some(name) => action_params(select, name, checked)?,
        None => Map::new(),
    };
    Ok(Selected {
        request: Request {
            targets: select.targets.clone(),
            action: select.action.clone(),
            params,
            at,
            clock,
            acks: select.acks.clone(),
            reason: select.reason.clone(),
        },
        workflow: select
            .workflow
            .as_deref()
            .map(|name| (name, WorkflowInputs::Flags(select))),
    })
}

/// The diagnostic of a denied `decision` on `action`, labelled at the rules that
/// decided; for an execution, the way out of a closed window is time, not `--at`.
pub(crate) fn denial(
    decision: &crate::policy::Decision,
    action: &crate::registry::Action,
    checked: &CheckedCatalog,
    purpose: Purpose,
) -> Diagnostic {
    let d = crate::policy::denial(
        decision,
        action,
        checked.registry.policy(),
        &checked.sources,
    );
    let window = matches!(
        decision.rule,
        crate::policy::Rule::ChangeWindow { .. } | crate::policy::Rule::ChangeWindows
    );
    if window && purpose != Purpose::DryRun {
        return d.with_help(
            "an execution is decided at the real instant: run it again once a governing window is open (the next opening is named above), or widen a window; `--at` moves only a dry run",
        );
    }
    d
}

/// Where a workflow's run inputs come from.
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

/// Plan `request` on `checked`: its targets and action, or the workflow
/// `workflow` names with its inputs. The error says how to refuse (usage: exit 2;
/// invalid request: exit 1); denials are decisions in the plan, not errors.
pub(crate) fn compute(
    checked: &mut CheckedCatalog,
    request: Request,
    workflow: Option<(&str, WorkflowInputs<'_>)>,
) -> Result<plan::Plan, (Refused, Vec<Diagnostic>)> {
    match workflow {
        Some((name, inputs)) => workflow_plan(checked, request, name, inputs),
        None => plan::plan(&checked.registry, &checked.graph, request).map_err(|e| match e {
            PlanError::Usage(d) => (Refused::Usage, d),
            PlanError::Invalid(d) => (Refused::InvalidRequest, d),
        }),
    }
}

/// The plan document `rune apply` runs: [`compute`], refusing a plan with a
/// denied step or compensation. Every refusal is reported here and its status
/// returned.
pub(crate) fn document(
    checked: &mut CheckedCatalog,
    request: Request,
    workflow: Option<(&str, WorkflowInputs<'_>)>,
    root: &CatalogRoot,
    purpose: Purpose,
    channel: Channel,
    printer: &mut Printer,
) -> Result<PlanDocument, ExitStatus> {
    let plan = match compute(checked, request, workflow) {
        Ok(plan) => plan,
        Err((kind, d)) => return Err(refuse(printer, checked, kind, d, channel)),
    };
    let denials = policy_denials(&plan, checked, purpose);
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

/// What a request is for. A dry run may be moved in time (`--at`,
/// `SOURCE_DATE_EPOCH`) to see what policy would decide then; an execution runs
/// now, so policy is decided now, whatever a flag or the environment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `plan`, `apply --dry-run`, `run --dry-run`: nothing runs.
    DryRun,
    /// `apply` and `run`: the actions run at the real instant.
    Execute {
        /// The command, for the message refusing `--at` (`apply`, `run`).
        command: &'static str,
    },
}

/// The instant to plan at: `--at`, else `SOURCE_DATE_EPOCH`, else now.
pub(crate) fn instant(
    args: &SelectorArgs,
    config: &Config,
    purpose: Purpose,
) -> Result<(Timestamp, Clock), Diagnostic> {
    instant_at(args.at.as_deref(), config, purpose)
}

/// The instant policy is evaluated at, from `--at` (given or not), the config and
/// what the request is for: an execution is decided now, and refuses `--at`
/// (a usage error, rather than a flag that silently means nothing).
pub(crate) fn instant_at(
    at: Option<&str>,
    config: &Config,
    purpose: Purpose,
) -> Result<(Timestamp, Clock), Diagnostic> {
    if let Purpose::Execute { command } = purpose {
        if let Some(text) = at {
            return Err(Diagnostic::new(
                Code::InvalidFlags,
                format!(
                    "--at {} cannot move `rune {command}`: it runs now, so change windows and maintenance mode are decided now",
                    crate::schema::quote(text.trim())
                ),
            )
            .with_help(format!(
                "add --dry-run to see what would be decided at that instant (`rune {command} --dry-run --at TIME`), or drop --at"
            )));
        }
        // SOURCE_DATE_EPOCH fixes what a build reports, not when an action runs.
        return Ok(now());
    }
    Ok(match (at, &config.source_date_epoch) {
        (Some(text), _) => (parse_at(text)?, Clock::Fixed),
        (None, Some(raw)) => (source_date_epoch(raw)?, Clock::SourceDateEpoch),
        (None, None) => now(),
    })
}

/// The real instant, in whole seconds: the plan records the instant, and
/// nanoseconds are noise.
pub(crate) fn now() -> (Timestamp, Clock) {
    (
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH),
        Clock::Now,
    )
}

/// A `--reason` that says nothing: empty, or only spaces, control and invisible
/// format characters. A break-glass reason is read later by someone auditing
/// why a guarded action ran; one they cannot see is no reason.
pub(crate) fn blank_reason(reason: Option<&str>) -> Option<Diagnostic> {
    let reason = reason?;
    let visible = |c: char| {
        !c.is_whitespace()
            && !c.is_control()
            // Zero-width and other format characters print as nothing.
            && !matches!(c, '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}'
                | '\u{17B4}' | '\u{17B5}' | '\u{180B}'..='\u{180E}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
    };
    if reason.chars().any(visible) {
        return None;
    }
    Some(
        Diagnostic::new(
            Code::InvalidFlags,
            format!(
                "--reason {} has no visible character: a break-glass reason is recorded for whoever audits the run",
                crate::schema::quote(reason)
            ),
        )
        .with_help("say why the guarded action must run now, e.g. `--reason \"INC-1234: disk full on db-3\"`"),
    )
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
        problems.extend(blank_reason(args.reason.as_deref()));
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
    problems.extend(blank_reason(args.reason.as_deref()));
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

/// `rune run`'s flags that do not fit, and malformed `--param`s, before any I/O.
pub(crate) fn check_run_flags(
    assignments: &[String],
    reason: Option<&str>,
    acks: &[String],
) -> Vec<Diagnostic> {
    let mut problems: Vec<Diagnostic> = assignments
        .iter()
        .filter_map(|param| params::split_assignment(param).err())
        .collect();
    if reason.is_some() && acks.is_empty() {
        problems.push(
            Diagnostic::new(
                Code::InvalidFlags,
                "--reason is recorded with a break-glass acknowledgment",
            )
            .with_help("add `--ack ACTION`, or drop --reason"),
        );
    }
    problems.extend(blank_reason(reason));
    problems
}

/// The request a saved plan records, to plan again at `at`: its targets and
/// action with the parameters of its one action step (a workflow's follow from
/// the catalog and its inputs), acks and reason.
pub(crate) fn recorded(doc: &PlanDocument, at: Timestamp, clock: Clock) -> Request {
    Request {
        targets: doc.request.targets.clone(),
        action: doc.request.action.clone(),
        params: recorded_params(doc).cloned().unwrap_or_default(),
        at,
        clock,
        acks: doc.request.acks.clone(),
        reason: doc.request.reason.clone(),
    }
}

/// The workflow a saved plan records, with its inputs (checked again against the
/// workflow's inputs schema when planned).
pub(crate) fn recorded_workflow(doc: &PlanDocument) -> Option<(&str, WorkflowInputs<'_>)> {
    match (&doc.request.workflow, &doc.workflow) {
        (Some(name), Some(workflow)) => {
            Some((name.as_str(), WorkflowInputs::Recorded(&workflow.inputs)))
        }
        _ => None,
    }
}

/// The parameters of a saved action plan's one action step.
fn recorded_params(doc: &PlanDocument) -> Option<&Map<String, serde_json::Value>> {
    doc.actions
        .first()
        .filter(|_| doc.workflow.is_none())
        .map(|a| &a.params)
}

/// Check the parameters a saved action plan records against its action's input
/// schema again: a plan file is untrusted input, and its digests can be
/// recomputed by whoever edits it, so the recorded parameters must still be
/// ones `rune plan` would accept.
pub(crate) fn check_recorded_params(
    checked: &CheckedCatalog,
    doc: &PlanDocument,
) -> Vec<Diagnostic> {
    let (Some(action), Some(recorded)) = (&doc.request.action, recorded_params(doc)) else {
        return Vec::new();
    };
    // An unknown action is reported by the planner with the other selector errors.
    let Ok((m, a)) = plan::find_action(&checked.registry, action) else {
        return Vec::new();
    };
    params::validate_from(recorded, &checked.registry.modules[m].actions[a], None)
}
