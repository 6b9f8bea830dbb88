//! `rune run ACTION`: one action request through validation, policy and mediation.
//!
//! The same path as `rune plan --action`: flags checked before any I/O, the catalog
//! loaded and checked (an invalid one refused with `validate`'s report), parameters
//! typed and validated against the input_schema, the plan built so policy decides
//! exactly as it would for `plan` and `apply`, at the real instant unless this is a
//! dry run (`--at` needs `--dry-run`). Then only the action's plugin runs,
//! through [`crate::exec::mediation`]; no module lifecycle. Exit codes: 0 the action
//! succeeded (or `--dry-run` allowed it), 1 invalid catalog, invalid parameters or a
//! policy denial, 2 usage error, 4 the action failed (its EPS error reported), 130
//! interrupted.

use std::path::Path;

use jiff::Timestamp;

use crate::catalog::CheckedCatalog;
use crate::cli::{RunArgs, RunOutput};
use crate::config::Config;
use crate::diagnostic::{Code, Diagnostic};
use crate::exec::eps::{Eps, Kind, Origin};
use crate::exec::event::{Collect, Event, Fanout, Outcome, Sink};
use crate::exec::ids::{self, RunIds};
use crate::exec::journal::{self, Journal};
use crate::exec::mediation::{ActionCall, Mediator, Via};
use crate::exec::process::{Cancel, Spec};
use crate::plan::{self, Clock, PlanError, Request};
use crate::report::refusal::{usage, Channel, Refused};
use crate::report::run::{CommandLine, DecisionRecord, RunOutcome, RunRefusal, RunReport};
use crate::report::Printer;
use crate::request::Purpose;
use crate::ExitStatus;

/// The step id of the one request `rune run` makes.
const STEP: u64 = 1;

/// What `rune run` checked before any I/O: the node, the policy instant and the
/// journal.
pub(super) struct Checked {
    /// The nodes to run on, in order (`localhost` when none was named).
    pub(super) nodes: Vec<String>,
    at: Timestamp,
    clock: Clock,
    purpose: Purpose,
    pub(super) journal: Option<Journal>,
}

/// Run `rune run`.
pub(crate) fn run(
    args: &RunArgs,
    config: &Config,
    printer: &mut Printer,
    leftovers: &mut super::Leftovers,
) -> ExitStatus {
    let json = args.json || args.output != RunOutput::Human;
    // RUNE's `--output json` (and `--json`) is one line, its `pretty` indented.
    let indented = args.output == RunOutput::Pretty && !args.json;
    let channel = Channel {
        json,
        color: config.color_stderr,
    };
    let mut flags = match check_command_line(args, config) {
        Ok(flags) => flags,
        Err(problems) => return usage(printer, problems, channel),
    };
    let paths = config.catalog_paths(&[]);
    let mut checked = match super::load_catalog(&paths, channel, config, printer, leftovers) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    flags.nodes = match super::run_nodes::select(args, &checked, channel, printer) {
        Ok(nodes) => nodes,
        Err(super::run_nodes::Refusal::Unknown(problem)) if json => {
            return refuse_unknown_node(args, &[problem], printer)
        }
        Err(super::run_nodes::Refusal::Unknown(problem)) => {
            return usage(printer, vec![problem], channel)
        }
        Err(super::run_nodes::Refusal::Reported(status)) => return status,
    };
    let run_ids = run_ids(args, &flags);
    let status = match decide(args, &flags, &run_ids, &mut checked, channel, printer) {
        Ok(decided) => {
            let Decided {
                module,
                action,
                command,
                step,
                mut report,
            } = decided;
            let module = &checked.registry.modules[module];
            let call = Call {
                module: &module.name.value,
                action: &module.actions[action],
                command: &command,
                step: &step,
            };
            if super::run_nodes::fans_out(args, &flags) {
                let status = super::run_nodes::run(&call, &flags, &run_ids, report, args, printer);
                leftovers.keep(checked);
                return status;
            }
            if !args.dry_run {
                execute(&call, &flags, &run_ids, &mut report);
            }
            report.fill_bpcs_answer();
            finish(
                printer,
                &report,
                json.then_some(indented),
                flags.journal.as_ref(),
            )
        }
        Err(status) => status,
    };
    leftovers.keep(checked);
    status
}

/// Every flag problem at once, before any I/O.
fn check_command_line(args: &RunArgs, config: &Config) -> Result<Checked, Vec<Diagnostic>> {
    let mut problems =
        crate::request::check_run_flags(&args.params, args.reason.as_deref(), &args.acks);
    let purpose = if args.dry_run {
        Purpose::DryRun
    } else {
        Purpose::Execute { command: "run" }
    };
    let instant = crate::request::instant_at(args.at.as_deref(), config, purpose);
    if let Err(d) = &instant {
        problems.push(d.clone());
    }
    let journal = open_journal(args, &config.catalog_paths(&[]), &mut problems);
    match instant {
        Ok((at, clock)) if problems.is_empty() => Ok(Checked {
            nodes: Vec::new(),
            at,
            clock,
            purpose,
            journal,
        }),
        _ => Err(problems),
    }
}

/// `--journal`, opened before anything runs; a failure is one more usage problem.
fn open_journal(
    args: &RunArgs,
    catalog_paths: &[std::path::PathBuf],
    problems: &mut Vec<Diagnostic>,
) -> Option<Journal> {
    let path = args.exec.journal.as_ref()?;
    match Journal::open_checked(path, &journal_inputs(args, catalog_paths)) {
        Ok(journal) => Some(journal),
        Err(e) => {
            problems.push(
                Diagnostic::new(
                    Code::InvalidFlags,
                    format!(
                        "cannot open --journal `{}`: {e}",
                        crate::source::display_name(path)
                    ),
                )
                .with_help("name a regular file in a directory that exists; it is appended to, never truncated"),
            );
            None
        }
    }
}

/// The request decided: what runs, and the report it starts.
struct Decided {
    module: usize,
    action: usize,
    command: Spec,
    step: plan::ActionStep,
    report: RunReport,
}

/// One plugin call, ready to run.
pub(super) struct Call<'a> {
    pub(super) module: &'a str,
    pub(super) action: &'a crate::registry::Action,
    pub(super) command: &'a Spec,
    pub(super) step: &'a plan::ActionStep,
}

/// Find the action, type its parameters, plan it so policy decides exactly as for
/// `plan` and `apply`, and resolve its plugin. Every refusal is reported here.
fn decide(
    args: &RunArgs,
    flags: &Checked,
    run_ids: &RunIds,
    checked: &mut CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<Decided, ExitStatus> {
    let json = channel.json;
    let params = action_params(args, run_ids, checked, channel, printer)?;
    let step = plan_action(args, flags, params, checked, channel, printer)?;
    let module = &checked.registry.modules[step.module];
    let action = &module.actions[step.action];
    if !step.decision.allowed {
        let d = crate::request::denial(&step.decision, action, checked, flags.purpose);
        let status = crate::request::refuse(printer, checked, Refused::Denied, vec![d], channel);
        if !json {
            printer.err(&format!("not run: policy denied `{}`\n", action.name.value));
        }
        return Err(status);
    }
    let command = plugin_command(module, action, checked, channel, printer)?;
    let report = dry_run_report(flags, run_ids, module, action, &command, &step);
    Ok(Decided {
        module: step.module,
        action: step.action,
        command,
        step,
        report,
    })
}

/// Plan the one action so that policy decides exactly as for `plan` and `apply`;
/// its step, or the refusal's exit status.
fn plan_action(
    args: &RunArgs,
    flags: &Checked,
    params: serde_json::Map<String, serde_json::Value>,
    checked: &CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<plan::ActionStep, ExitStatus> {
    let request = Request {
        targets: Vec::new(),
        action: Some(args.action.clone()),
        params,
        at: flags.at,
        clock: flags.clock,
        acks: args.acks.clone(),
        reason: args.reason.clone(),
    };
    let mut planned = match plan::plan(&checked.registry, &checked.graph, request) {
        Ok(planned) => planned,
        Err(PlanError::Usage(d)) => {
            return Err(crate::request::refuse(
                printer,
                checked,
                Refused::Usage,
                d,
                channel,
            ))
        }
        Err(PlanError::Invalid(d)) => {
            return Err(crate::request::refuse(
                printer,
                checked,
                Refused::Denied,
                d,
                channel,
            ))
        }
    };
    if planned.actions.is_empty() {
        return Err(ExitStatus::Error);
    }
    Ok(planned.actions.swap_remove(0))
}

/// The plugin command line of `action`, resolved against its catalog file's
/// directory; a usage error for an action without `exec`.
fn plugin_command(
    module: &crate::registry::Module,
    action: &crate::registry::Action,
    checked: &CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<Spec, ExitStatus> {
    let declared_in = &checked.sources.get(module.file).path;
    let catalog_dir = declared_in.parent().unwrap_or(Path::new(""));
    let command = crate::exec::bpcs::resolve_command(&action.exec, catalog_dir, &action.env)
        // The plugin runs under its module's declared limits.
        .map(|spec| Spec {
            limits: module.limits,
            ..spec
        });
    command.ok_or_else(|| {
        let d = Diagnostic::new(
            Code::InvalidFlags,
            format!(
                "`{}` has no plugin (`exec`): it runs inside its module's process",
                action.name.value
            ),
        )
        .with_label(action.name.span, "declared without exec")
        .with_help(format!(
            "run it with its module's lifecycle: `rune apply --action {}`",
            action.name.value
        ));
        crate::request::refuse(printer, checked, Refused::Usage, vec![d], channel)
    })
}

/// The report of a run that has not started: what would run, and why policy
/// allowed it.
fn dry_run_report(
    flags: &Checked,
    run_ids: &RunIds,
    module: &crate::registry::Module,
    action: &crate::registry::Action,
    command: &Spec,
    step: &plan::ActionStep,
) -> RunReport {
    let settings = &step.settings;
    RunReport {
        action: action.name.value.clone(),
        module: module.name.value.clone(),
        node: flags
            .nodes
            .first()
            .cloned()
            .unwrap_or_else(|| "localhost".to_string()),
        outcome: RunOutcome::DryRun,
        attempts: 0,
        duration_ms: 0,
        correlation_id: run_ids.correlation_id.clone(),
        trace_id: run_ids.trace_id.clone(),
        command: CommandLine {
            argv: command.argv.clone(),
            working_dir: command.working_dir.to_string_lossy().into_owned(),
        },
        params: step.params.clone(),
        timeout_ms: settings.timeout_ms.value,
        max_attempts: settings.retries.value.max_attempts.max(1),
        decision: DecisionRecord {
            rule: step.decision.rule.to_string(),
            reason: step.decision.reason.clone(),
        },
        output: None,
        error: None,
        stderr: None,
        payload: None,
        bpcs_error: None,
        plugin_response: None,
    }
}

/// The run's ids and clock. Deterministic timestamps read the policy instant when
/// one was fixed (a dry run's --at or SOURCE_DATE_EPOCH), else the Unix epoch:
/// never the wall clock.
fn run_ids(args: &RunArgs, flags: &Checked) -> RunIds {
    let deterministic = args.exec.deterministic || ids::deterministic_from_env();
    let fixed_now = if flags.clock == Clock::Now {
        Timestamp::UNIX_EPOCH
    } else {
        flags.at
    };
    RunIds::new(deterministic, fixed_now)
}

/// Run the plugin through mediation, journaling every event, and fill the
/// report in with how it went.
fn execute(call: &Call<'_>, flags: &Checked, run_ids: &RunIds, report: &mut RunReport) {
    let node = flags.nodes.first().map_or("localhost", String::as_str);
    // The first SIGINT or SIGTERM stops the plugin (its group gets SIGTERM, then
    // SIGKILL after the grace period) and rune exits 130.
    let interrupts = crate::exec::interrupt::Interrupts::install().ok();
    let cancel = interrupts.as_ref().map_or_else(Cancel::new, |i| i.stop());
    let collect = Collect::default();
    let mut sinks: Vec<&dyn Sink> = vec![&collect];
    if let Some(journal) = &flags.journal {
        sinks.push(journal);
    }
    let sink = Fanout(sinks);
    let watch = run_ids.stopwatch();
    sink.emit(&Event::RunStarted {
        at: run_ids.now(),
        command: "run".to_string(),
        correlation_id: run_ids.correlation_id.clone(),
        trace_id: run_ids.trace_id.clone(),
        steps: 1,
        parallelism: 1,
    });
    let step = call.step;
    if let Some(ack) = &step.acknowledgment {
        sink.emit(&Event::Acknowledged {
            at: run_ids.now(),
            action: ack.action.clone(),
            reason: ack.reason.clone(),
        });
    }
    let mediator = Mediator {
        ids: run_ids,
        sink: &sink,
        // `rune run`: the first Ctrl-C already ends the plugin in flight.
        stop: cancel.clone(),
        kill: cancel.clone(),
    };
    let settings = &step.settings;
    let result = mediator.run_action(&ActionCall {
        step: STEP,
        module: call.module,
        action: call.action,
        via: Via::Plugin(call.command),
        params: &step.params,
        node,
        timeout: std::time::Duration::from_millis(settings.timeout_ms.value),
        max_attempts: settings.retries.value.max_attempts,
        backoff_ms: settings.retries.value.backoff_ms,
        retry_on: &settings.retries.value.on,
        schemas: None,
    });
    let interrupted = cancel.is_set()
        || result
            .error
            .as_ref()
            .is_some_and(|e| e.kind() == Kind::Interrupted);
    if let Some(interrupts) = &interrupts {
        interrupts.emit_pending(&sink, run_ids);
    }
    sink.emit(&Event::RunFinished {
        at: run_ids.now(),
        succeeded: result.outcome == Outcome::Succeeded,
        duration_ms: watch.reported_ms(),
    });
    drop(sink);
    let events = collect.into_events();
    report.plugin_response = last_bpcs_response(&events);
    record_outcome(report, events, result, interrupted);
}

/// Fill the report in from the run's result and its last step's timing and stderr.
pub(super) fn record_outcome(
    report: &mut RunReport,
    events: Vec<Event>,
    result: crate::exec::mediation::ActionResult,
    interrupted: bool,
) {
    let finished = events.into_iter().rev().find_map(|e| match e {
        Event::StepFinished {
            duration_ms,
            stderr,
            ..
        } => Some((duration_ms, stderr)),
        _ => None,
    });
    if let Some((duration_ms, stderr)) = finished {
        report.duration_ms = duration_ms;
        report.stderr = stderr;
    }
    report.attempts = result.attempts;
    report.output = result.output;
    report.error = result.error;
    report.outcome = match result.outcome {
        Outcome::Succeeded => RunOutcome::Succeeded,
        _ if interrupted => RunOutcome::Interrupted,
        _ => RunOutcome::Failed,
    };
}

/// Print the report, say whether the journal is whole, and give the exit code.
fn finish(
    printer: &mut Printer,
    report: &RunReport,
    json: Option<bool>,
    journal: Option<&Journal>,
) -> ExitStatus {
    print_report(printer, report, json);
    if let Some(journal) = journal {
        if let Some(e) = journal.take_failure() {
            printer.err(&format!(
                "warning: the journal `{}` is incomplete: a write failed: {e}\n",
                crate::escape::untrusted(&crate::source::display_name(journal.path()))
            ));
        }
    }
    match report.outcome {
        RunOutcome::Succeeded | RunOutcome::DryRun => ExitStatus::Success,
        RunOutcome::Interrupted => ExitStatus::Interrupted,
        RunOutcome::Failed => ExitStatus::ExecutionFailed,
    }
}

/// `json`: the JSON document, indented or not; None: the readable view.
pub(super) fn print_report(printer: &mut Printer, report: &RunReport, json: Option<bool>) {
    if let Some(indented) = json {
        printer.out_with(|w| report.write_json(indented, w));
        return;
    }
    let rendered = crate::report::run::render_human(report);
    if !rendered.out.is_empty() {
        printer.out(&rendered.out);
    }
    if !rendered.err.is_empty() {
        printer.err(&rendered.err);
    }
}

/// The action's parameters, typed and checked against its schema; an unknown
/// action is a usage error, invalid parameters exit 1 like a denial.
fn action_params(
    args: &RunArgs,
    run_ids: &RunIds,
    checked: &mut CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<serde_json::Map<String, serde_json::Value>, ExitStatus> {
    let json = channel.json;
    let (m, a) = match plan::find_action(&checked.registry, &args.action) {
        Ok(found) => found,
        Err(d) if json => {
            return Err(refuse_unknown_action(args, run_ids, &d, printer));
        }
        Err(d) => {
            let d = Diagnostic::new(
                Code::UnknownAction,
                d.message.replacen("--action names", "rune run names", 1),
            )
            .with_help(d.help.clone().unwrap_or_default());
            return Err(crate::request::refuse(
                printer,
                checked,
                Refused::Usage,
                vec![d],
                channel,
            ));
        }
    };
    let params =
        crate::request::typed_params(&args.params, args.params_file.as_deref(), m, a, checked)
            // Exit 1 like a denial, reported with the diagnostics only.
            .map_err(|(kind, d)| match kind {
                Refused::InvalidRequest => (Refused::Denied, d),
                other => (other, d),
            });
    let params = match params {
        Ok(params) => params,
        Err((kind, diagnostics)) => {
            let status = crate::request::refuse(printer, checked, kind, diagnostics, channel);
            if kind == Refused::Denied && !json {
                printer.err("not run: the parameters are invalid\n");
            }
            return Err(status);
        }
    };
    Ok(params)
}

/// What `rune run` reads, which its journal must not be.
fn journal_inputs(args: &RunArgs, catalog_paths: &[std::path::PathBuf]) -> journal::Inputs {
    journal::Inputs {
        catalog_paths: catalog_paths.to_vec(),
        files: args
            .params_file
            .iter()
            .map(|p| ("the --params-file".to_string(), p.clone()))
            .collect(),
    }
}

/// The plugin's last BPCS response as it wrote it (parsed, whole), from the
/// events mediation reported: what `plugin_response` and RUNE's `payload` and
/// `error` are read from.
pub(super) fn last_bpcs_response(events: &[Event]) -> Option<serde_json::Value> {
    events.iter().rev().find_map(|e| match e {
        Event::Message {
            direction: crate::exec::event::Direction::Response,
            protocol: crate::exec::event::Protocol::Bpcs,
            message,
            ..
        } => Some(message.clone()),
        _ => None,
    })
}

/// `--json` with a node rune cannot reach: an EPS error in the run document
/// (exit 2, as the usage error it also is), naming any other flag problem.
fn refuse_unknown_node(
    args: &RunArgs,
    problems: &[Diagnostic],
    printer: &mut Printer,
) -> ExitStatus {
    let deterministic = args.exec.deterministic || ids::deterministic_from_env();
    let run_ids = RunIds::new(deterministic, Timestamp::UNIX_EPOCH);
    let node = args.nodes_named.first().cloned().unwrap_or_default();
    let problem = problems
        .first()
        .map(|d| d.message.clone())
        .unwrap_or_default();
    let help = problems.first().and_then(|d| d.help.clone());
    let eps = Eps::new(
        Kind::RoutingFailure,
        format!("cannot run `{}`: {problem}", args.action),
        refusal_origin(&args.action, &run_ids),
    )
    .with_data(serde_json::json!({ "node": node, "help": help }));
    print_refusal(args, &run_ids, eps, printer)
}

/// `--json` with an action no catalog declares: an EPS error (RUNE's module not
/// found: no registered module provides it) in the run document, exit 2.
fn refuse_unknown_action(
    args: &RunArgs,
    run_ids: &RunIds,
    found: &Diagnostic,
    printer: &mut Printer,
) -> ExitStatus {
    let eps = Eps::new(
        Kind::NotFound,
        found
            .message
            .replacen("--action names", "rune run names", 1),
        refusal_origin(&args.action, run_ids),
    )
    .with_data(serde_json::json!({
        "action": args.action,
        "help": found.help,
    }));
    print_refusal(args, run_ids, eps, printer)
}

fn refusal_origin(action: &str, run_ids: &RunIds) -> Origin {
    Origin {
        action: Some(action.to_string()),
        correlation_id: run_ids.correlation_id.clone(),
        trace_id: run_ids.trace_id.clone(),
        span_id: run_ids.span_for(STEP),
        ..Origin::default()
    }
}

fn print_refusal(args: &RunArgs, run_ids: &RunIds, eps: Eps, printer: &mut Printer) -> ExitStatus {
    let node = args
        .nodes_named
        .first()
        .cloned()
        .or_else(|| args.selector.clone())
        .unwrap_or_else(|| "localhost".to_string());
    let doc = RunRefusal::new(
        &args.action,
        &node,
        (&run_ids.correlation_id, &run_ids.trace_id),
        eps,
    );
    let indented = args.output == RunOutput::Pretty && !args.json;
    printer.out_with(|w| doc.write_json(indented, w));
    ExitStatus::Error
}
