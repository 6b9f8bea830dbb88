//! `rune run` on nodes: which nodes (`--node`, repeatable; `--nodes SELECTOR`;
//! `--inventory FILE`), and the fan-out when there is more than one.
//!
//! Policy is decided once for the request (by `run`, before this) and recorded
//! in every node's result. At most `--forks` nodes run at once; each result is
//! printed as its node finishes (with `--json`, one JSON object per line: the
//! single-node document, which names its `node`), then a summary by outcome on
//! stderr. The first Ctrl-C stops starting nodes and ends the running ones (their
//! ssh clients are killed; on each node the wrapper sees its connection end and
//! kills the plugin's group). Exit 0 when every node succeeded, 4 when any
//! failed, 130 when interrupted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::catalog::CheckedCatalog;
use crate::cli::{RunArgs, RunOutput};
use crate::diagnostic::Diagnostic;
use crate::exec::event::{Collect, Event, Fanout, Sink};
use crate::exec::ids::RunIds;
use crate::exec::mediation::{ActionCall, Mediator, Via};
use crate::exec::process::Cancel;
use crate::report::refusal::{self, Channel, Refused};
use crate::report::run::{RunOutcome, RunReport};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

use super::run::{Call, Checked};

/// Why the nodes could not be chosen.
pub(super) enum Refusal {
    /// A node, group or label the inventory does not have (a usage error).
    Unknown(Diagnostic),
    /// The inventory itself was refused, and reported.
    Reported(ExitStatus),
}

/// The catalog files of a loaded catalog that may define nodes.
fn catalog_texts(checked: &CheckedCatalog) -> Vec<(std::path::PathBuf, std::sync::Arc<str>)> {
    crate::inventory::catalog_texts(checked.sources.files().take(checked.catalog_files))
}

/// Read the inventory files and the catalog's `nodes:`; the inventory, or the
/// refusal's exit status (reported).
fn load_inventory(
    paths: &[std::path::PathBuf],
    checked: &CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<crate::inventory::Inventory, ExitStatus> {
    let mut sources = SourceMap::default();
    crate::inventory::load(paths, &catalog_texts(checked), &mut sources).map_err(|diagnostics| {
        let kind = if diagnostics.iter().all(Diagnostic::is_io) {
            Refused::Unreadable
        } else {
            Refused::InvalidCatalog
        };
        let refusal = refusal::Refusal {
            kind,
            diagnostics,
            sources: &sources,
            summary: Default::default(),
        };
        refusal::report(printer, refusal, channel)
    })
}

/// Read the inventory and install it for the command (`plan`, `apply`: the nodes
/// workflow steps name); the refusal's exit status when it cannot be used.
pub(super) fn install_inventory(
    paths: &[std::path::PathBuf],
    checked: &CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<(), ExitStatus> {
    crate::exec::remote::install(load_inventory(paths, checked, channel, printer)?);
    Ok(())
}

/// Read the inventory, install it for the run, and name the nodes to run on.
pub(super) fn select(
    args: &RunArgs,
    checked: &CheckedCatalog,
    channel: Channel,
    printer: &mut Printer,
) -> Result<Vec<String>, Refusal> {
    let inventory =
        load_inventory(&args.inventories, checked, channel, printer).map_err(Refusal::Reported)?;
    let mut nodes: Vec<String> = Vec::new();
    for name in &args.nodes_named {
        if !crate::exec::remote::is_local(name) {
            inventory.node(name).map_err(Refusal::Unknown)?;
        }
        nodes.push(name.clone());
    }
    if let Some(selector) = &args.selector {
        for def in inventory.select(selector).map_err(Refusal::Unknown)? {
            nodes.push(def.name.clone());
        }
    }
    if nodes.is_empty() {
        nodes.push("localhost".to_string());
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(n.clone()));
    crate::exec::remote::install(inventory);
    Ok(nodes)
}

/// Whether this run reports per node (several nodes, or a selector).
pub(super) fn fans_out(args: &RunArgs, flags: &Checked) -> bool {
    flags.nodes.len() > 1 || args.selector.is_some()
}

/// Run `call` on every node, `--forks` at once, printing each result as it comes.
pub(super) fn run(
    call: &Call<'_>,
    flags: &Checked,
    run_ids: &RunIds,
    base: RunReport,
    args: &RunArgs,
    printer: &mut Printer,
) -> ExitStatus {
    let json = (args.json || args.output != RunOutput::Human).then_some(false);
    let nodes = &flags.nodes;
    if args.dry_run {
        for node in nodes {
            let mut report = base.clone();
            report.node = node.clone();
            report.fill_bpcs_answer();
            super::run::print_report(printer, &report, json);
        }
        return ExitStatus::Success;
    }
    let interrupts = crate::exec::interrupt::Interrupts::install().ok();
    let cancel = interrupts.as_ref().map_or_else(Cancel::new, |i| i.stop());
    let journal: Option<&dyn Sink> = flags.journal.as_ref().map(|j| j as &dyn Sink);
    let forks = usize::try_from(args.forks)
        .unwrap_or(1)
        .clamp(1, nodes.len().max(1));
    if let Some(journal) = journal {
        journal.emit(&Event::RunStarted {
            at: run_ids.now(),
            command: "run".to_string(),
            correlation_id: run_ids.correlation_id.clone(),
            trace_id: run_ids.trace_id.clone(),
            steps: nodes.len() as u64,
            parallelism: forks as u64,
        });
        if let Some(ack) = &call.step.acknowledgment {
            journal.emit(&Event::Acknowledged {
                at: run_ids.now(),
                action: ack.action.clone(),
                reason: ack.reason.clone(),
            });
        }
    }
    let watch = run_ids.stopwatch();
    let next = AtomicUsize::new(0);
    let (sender, results) = mpsc::channel::<RunReport>();
    let mut tally = Tally::default();
    std::thread::scope(|scope| {
        for _ in 0..forks {
            let sender = sender.clone();
            let (next, cancel, base) = (&next, &cancel, &base);
            crate::exec::supervisor::spawn_scoped_or_inline(scope, move || loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(node) = nodes.get(index) else { break };
                let report = if cancel.is_set() {
                    not_started(base, node)
                } else {
                    run_one(call, node, index as u64 + 1, run_ids, journal, cancel, base)
                };
                if sender.send(report).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for report in results {
            tally.add(&report);
            super::run::print_report(printer, &report, json);
        }
    });
    if let Some(interrupts) = &interrupts {
        if let Some(journal) = journal {
            interrupts.emit_pending(journal, run_ids);
        }
    }
    if let Some(journal) = journal {
        journal.emit(&Event::RunFinished {
            at: run_ids.now(),
            succeeded: tally.failed == 0 && tally.interrupted == 0,
            duration_ms: watch.reported_ms(),
        });
    }
    printer.err(&tally.summary(nodes.len()));
    if let Some(journal) = &flags.journal {
        if let Some(e) = journal.take_failure() {
            printer.err(&format!(
                "warning: the journal `{}` is incomplete: a write failed: {e}\n",
                crate::escape::untrusted(&crate::source::display_name(journal.path()))
            ));
        }
    }
    if tally.interrupted > 0 || cancel.is_set() {
        ExitStatus::Interrupted
    } else if tally.failed > 0 {
        ExitStatus::ExecutionFailed
    } else {
        ExitStatus::Success
    }
}

/// One node's request, start to end; its report.
fn run_one(
    call: &Call<'_>,
    node: &str,
    step: u64,
    run_ids: &RunIds,
    journal: Option<&dyn Sink>,
    cancel: &Cancel,
    base: &RunReport,
) -> RunReport {
    let collect = Collect::default();
    let mut sinks: Vec<&dyn Sink> = vec![&collect];
    if let Some(journal) = journal {
        sinks.push(journal);
    }
    let sink = Fanout(sinks);
    let mediator = Mediator {
        ids: run_ids,
        sink: &sink,
        stop: cancel.clone(),
        kill: cancel.clone(),
    };
    let settings = &call.step.settings;
    let result = mediator.run_action(&ActionCall {
        step,
        module: call.module,
        action: call.action,
        via: Via::Plugin(call.command),
        params: &call.step.params,
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
            .is_some_and(|e| e.kind() == crate::exec::eps::Kind::Interrupted);
    drop(sink);
    let events = collect.into_events();
    let mut report = base.clone();
    report.node = node.to_string();
    report.plugin_response = super::run::last_bpcs_response(&events);
    super::run::record_outcome(&mut report, events, result, interrupted);
    report.fill_bpcs_answer();
    report
}

/// A node the run never started (Ctrl-C came first).
fn not_started(base: &RunReport, node: &str) -> RunReport {
    let mut report = base.clone();
    report.node = node.to_string();
    report.outcome = RunOutcome::Interrupted;
    report.fill_bpcs_answer();
    report
}

/// Results by outcome.
#[derive(Default)]
struct Tally {
    succeeded: usize,
    failed: usize,
    interrupted: usize,
    /// Failed nodes by error kind name.
    failures: std::collections::BTreeMap<String, Vec<String>>,
}

impl Tally {
    fn add(&mut self, report: &RunReport) {
        match report.outcome {
            RunOutcome::Succeeded | RunOutcome::DryRun => self.succeeded += 1,
            RunOutcome::Interrupted => self.interrupted += 1,
            RunOutcome::Failed => {
                self.failed += 1;
                let kind = report
                    .error
                    .as_ref()
                    .map_or_else(|| "failed".to_string(), |e| e.kind().name().to_string());
                self.failures
                    .entry(kind)
                    .or_default()
                    .push(report.node.clone());
            }
        }
    }

    fn summary(&self, nodes: usize) -> String {
        let mut out = format!(
            "{nodes} node{}: {} succeeded, {} failed, {} interrupted\n",
            if nodes == 1 { "" } else { "s" },
            self.succeeded,
            self.failed,
            self.interrupted
        );
        for (kind, mut names) in self.failures.clone() {
            names.sort();
            out.push_str(&format!(
                "  {kind}: {}\n",
                crate::escape::untrusted(&names.join(", "))
            ));
        }
        out
    }
}
