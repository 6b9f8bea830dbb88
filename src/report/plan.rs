//! The human view of a plan, rendered from the plan document.
//!
//! Everything shown comes from [`PlanDocument`] (step ids, resolved commands,
//! decisions), so the readable plan and the JSON one cannot disagree. The JSON is
//! the document itself (`PlanDocument::write_json`).

use super::plural;
use std::collections::HashMap;

use serde_json::Value as Json;

use crate::escape::untrusted;
use crate::plan::document::{
    ActionStep, PhaseStep, PlanDocument, RetriesSetting, StartupModule, TimeoutSource, WhenTest,
    WorkflowRecord, WorkflowStep,
};
use crate::plan::{Clock, Phase, SHUTDOWN_PHASES, STARTUP_PHASES};
use crate::registry::Runtime;
use crate::registry::StepIf;
use crate::source::SourceMap;

/// `name@version` as shown to a person (escaped: both come from the catalog).
fn module_label(module: &StartupModule) -> String {
    match &module.version {
        Some(v) => format!("{}@{}", untrusted(&module.module), untrusted(v)),
        None => untrusted(&module.module).into_owned(),
    }
}

/// Quote an argument for display when it holds spaces or quotes, control characters
/// escaped; display only, rune never runs commands through a shell.
fn display_arg(arg: &str) -> String {
    let arg = &*untrusted(arg);
    if !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | '$' | '`'))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn display_command(exec: &[String]) -> String {
    exec.iter()
        .map(|a| display_arg(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a module's startup runs, for the human plan.
fn module_command(module: &StartupModule) -> String {
    match (module.runtime, &module.command) {
        (Runtime::Builtin, _) => "builtin".to_string(),
        (Runtime::None, _) => "none (nothing to run)".to_string(),
        (Runtime::Process, None) => "process (no exec)".to_string(),
        (Runtime::Process, Some(c)) => {
            let mut text = format!("process: {}", display_command(&c.argv));
            if let Some(node) = &module.node {
                text.push_str(&format!(
                    " on node {} (over {})",
                    crate::escape::untrusted(node),
                    module.transport.as_deref().unwrap_or("ssh")
                ));
            }
            text
        }
    }
}

/// The waits between attempts as rune will wait them: `backoff_ms` before the
/// second, doubling for each further one, capped (`exec::mediation::backoff`).
fn retries_text(r: &RetriesSetting) -> String {
    use crate::exec::mediation::{backoff, MAX_BACKOFF};
    let attempts = if r.max_attempts <= 1 {
        "1 attempt".to_string()
    } else if r.backoff_ms == 0 {
        format!("{} attempts, no wait between them", r.max_attempts)
    } else {
        let ms = |attempt: u64| backoff(r.backoff_ms, attempt).as_millis();
        let waits = r.max_attempts - 1;
        // Long schedules: the first three waits and the last.
        let mut shown: Vec<String> = (1..=waits.min(3))
            .map(|a| format!("{} ms", ms(a)))
            .collect();
        if waits > 4 {
            shown.push("…".to_string());
        }
        if waits > 3 {
            shown.push(format!("{} ms", ms(waits)));
        }
        if waits == 1 {
            format!("{} attempts, {} apart", r.max_attempts, shown[0])
        } else {
            format!(
                "{} attempts, waiting {} (doubling, at most {} ms)",
                r.max_attempts,
                shown.join(", "),
                MAX_BACKOFF.as_millis()
            )
        }
    };
    if r.on.is_empty() || r.max_attempts <= 1 {
        attempts
    } else {
        format!("{attempts}, on {}", r.on.join(", "))
    }
}

/// The human plan, rendered from the plan document: header, startup waves, actions,
/// shutdown, critical path, summary.
pub(crate) fn render_human(doc: &PlanDocument) -> String {
    let mut out = String::new();
    let layout = Layout::new(doc);
    render_header(&mut out, doc);
    render_startup(&mut out, doc, &layout);
    if let Some(workflow) = &doc.workflow {
        render_workflow(&mut out, doc, workflow, &|name| layout.label(name));
    }
    for step in doc.actions.iter().filter(|s| s.workflow.is_none()) {
        render_action(&mut out, step, &layout);
    }
    render_shutdown(&mut out, doc, &layout);
    render_critical_path(&mut out, doc, &layout);
    out.push_str(&summary_line(doc));
    out
}

/// What the sections of the human plan share: where each module starts, and the
/// column widths.
struct Layout<'a> {
    /// Each module's startup wave (1-based) and entry.
    modules: HashMap<&'a str, (usize, &'a StartupModule)>,
    /// Of the module labels.
    width: usize,
    /// Of the step id ranges (`#1-4`).
    id_width: usize,
}

impl<'a> Layout<'a> {
    fn new(doc: &'a PlanDocument) -> Self {
        let modules = doc
            .startup
            .iter()
            .enumerate()
            .flat_map(|(w, wave)| {
                wave.modules
                    .iter()
                    .map(move |m| (m.module.as_str(), (w + 1, m)))
            })
            .collect();
        let width = doc
            .startup_modules()
            .map(|m| module_label(m).chars().count())
            .max()
            .unwrap_or(0)
            // Past this, padding only pushes the commands off the screen.
            .min(48);
        let id_width = format!("{}", doc.summary.steps).len() * 2 + 2;
        Layout {
            modules,
            width,
            id_width,
        }
    }

    /// A module's name with its version, when the plan starts it.
    fn label(&self, name: &str) -> String {
        match self.modules.get(name) {
            Some((_, m)) => module_label(m),
            None => untrusted(name).into_owned(),
        }
    }
}

/// The range of step ids `steps` spans (`#1-4`).
fn ids(steps: &[PhaseStep]) -> String {
    match (steps.first(), steps.last()) {
        (Some(first), Some(last)) => format!("#{}-{}", first.id, last.id),
        _ => String::new(),
    }
}

/// What the plan is of, and when it was evaluated.
fn render_header(out: &mut String, doc: &PlanDocument) {
    out.push_str(&format!(
        "plan for {} from {} (catalog sha256:{})\n",
        plural(doc.summary.modules as usize, "module"),
        plural(doc.inputs.files.len(), "catalog file"),
        doc.inputs.catalog_sha256.get(..12).unwrap_or_default()
    ));
    out.push_str(&format!(
        "evaluated at {} ({})\n",
        doc.evaluated_at,
        match doc.clock {
            Clock::Fixed => "--at",
            Clock::SourceDateEpoch => "SOURCE_DATE_EPOCH",
            Clock::Now => "the current time; pass --at for a reproducible plan",
        }
    ));
    if !doc.request.targets.is_empty() {
        let names: Vec<std::borrow::Cow<str>> =
            doc.request.targets.iter().map(|t| untrusted(t)).collect();
        out.push_str(&format!(
            "targets: {} and what they depend on\n",
            names.join(", ")
        ));
    }
}

/// The startup waves, one line per module.
fn render_startup(out: &mut String, doc: &PlanDocument, layout: &Layout<'_>) {
    let (width, id_width) = (layout.width, layout.id_width);
    out.push_str(&format!(
        "\nstartup: {} in {}, each {}\n",
        plural(doc.summary.modules as usize, "module"),
        plural(doc.startup.len(), "wave"),
        STARTUP_PHASES.map(Phase::as_str).join(" → ")
    ));
    for wave in &doc.startup {
        out.push_str(&format!("  wave {}\n", wave.wave));
        for m in &wave.modules {
            out.push_str(&format!(
                "    {:<id_width$} {:<width$}  {}\n",
                ids(&m.steps),
                module_label(m),
                module_command(m)
            ));
        }
    }
}

/// An action outside a workflow, with what it runs and the policy's decision.
fn render_action(out: &mut String, step: &ActionStep, layout: &Layout<'_>) {
    let wave = layout
        .modules
        .get(step.module.as_str())
        .map_or(0, |(w, _)| *w);
    out.push_str(&format!(
        "\naction, after {} is ready (wave {wave})\n",
        untrusted(&step.module)
    ));
    out.push_str(&format!(
        "  #{} {} on {}: {}, {} impact\n",
        step.id,
        untrusted(&step.action),
        layout.label(&step.module),
        step.category.as_str(),
        step.impact.as_str()
    ));
    let field = |name: &str, value: &str| format!("      {name:<9} {value}\n");
    if !step.description.is_empty() {
        out.push_str(&field("does", &untrusted(&step.description)));
    }
    out.push_str(&field(
        "command",
        &match &step.command {
            None => "(no exec)".to_string(),
            Some(c) => display_command(&c.argv),
        },
    ));
    out.push_str(&field(
        "params",
        &untrusted(&Json::Object(step.params.clone()).to_string()),
    ));
    out.push_str(&field(
        "timeout",
        &format!(
            "{} ms ({})",
            step.timeout_ms.value,
            step.timeout_ms.source.as_str()
        ),
    ));
    out.push_str(&field(
        "retries",
        &format!(
            "{} ({})",
            retries_text(&step.retries),
            step.retries.source.as_str()
        ),
    ));
    policy_lines(out, step, "      ");
}

/// The shutdown waves, one line per module.
fn render_shutdown(out: &mut String, doc: &PlanDocument, layout: &Layout<'_>) {
    let id_width = layout.id_width;
    out.push_str(&format!(
        "\nshutdown: exact reverse of startup, each {}\n",
        SHUTDOWN_PHASES.map(Phase::as_str).join(" → ")
    ));
    for wave in &doc.shutdown {
        out.push_str(&format!("  wave {}\n", wave.wave));
        for m in &wave.modules {
            out.push_str(&format!(
                "    {:<id_width$} {}\n",
                ids(&m.steps),
                layout.label(&m.module)
            ));
        }
    }
}

/// The critical path: when each module on it is ready, and what that costs.
fn render_critical_path(out: &mut String, doc: &PlanDocument, layout: &Layout<'_>) {
    let width = layout.width;
    let cp = &doc.critical_path;
    out.push_str(&format!(
        "\ncritical path: {} ms worst-case until every module is ready\n",
        cp.total_ms
    ));
    // The total is the latest finish: wide enough for every row.
    let ms_width = cp.total_ms.to_string().len().max(8);
    for link in &cp.modules {
        let module = layout.modules.get(link.module.as_str()).map(|(_, m)| *m);
        let part = |p: Phase| {
            let step = module.and_then(|m| m.steps.iter().find(|s| s.phase == p));
            let declared = step.and_then(|s| s.timeout_source) == Some(TimeoutSource::Lifecycle);
            format!(
                "{} {}{}",
                p.as_str(),
                step.and_then(|s| s.timeout_ms).unwrap_or(0),
                if declared { "" } else { " (default)" }
            )
        };
        // What the row adds must be what the path counts: a module with nothing to
        // run waits for nothing, whatever timeouts it declares.
        let cost = if module.is_none_or(|m| m.runtime == Runtime::None) {
            "nothing to run".to_string()
        } else {
            format!("{} + {}", part(Phase::Initialize), part(Phase::Ready))
        };
        out.push_str(&format!(
            "  ready by {:>ms_width$} ms  {:<width$}  {cost}\n",
            link.finishes_at_ms,
            layout.label(&link.module),
        ));
    }
}

/// The last line: how many steps of each kind, and how many policy denied.
fn summary_line(doc: &PlanDocument) -> String {
    // Counted from the document: a module with nothing to run has no steps.
    let startup_steps: usize = doc.startup_modules().map(|m| m.steps.len()).sum();
    let shutdown_steps: usize = doc
        .shutdown
        .iter()
        .flat_map(|w| &w.modules)
        .map(|m| m.steps.len())
        .sum();
    let actions = match &doc.workflow {
        None => plural(doc.actions.len(), "action"),
        Some(_) => {
            let compensations = doc.all_actions().count() - doc.actions.len();
            let mut text = match compensations {
                0 => plural(doc.actions.len(), "workflow step"),
                n => format!(
                    "{} + {}",
                    plural(doc.actions.len(), "workflow step"),
                    plural(n, "compensation")
                ),
            };
            // Every node of a fan-out past the first is a step of its own.
            let more: usize = doc
                .actions
                .iter()
                .filter_map(|a| {
                    let w = a.workflow.as_ref()?;
                    let nodes = w.fanout.as_ref()?.nodes.len().saturating_sub(1);
                    Some(nodes * (1 + usize::from(w.compensate.is_some())))
                })
                .sum();
            if more > 0 {
                text.push_str(&format!(" + {more} more on the nodes of fan-outs"));
            }
            text
        }
    };
    let mut line = format!(
        "\nplan: {} ({} startup, {actions}, {} shutdown)",
        plural(doc.summary.steps as usize, "step"),
        startup_steps,
        shutdown_steps
    );
    match doc.denied() {
        0 if doc.actions.is_empty() => {}
        0 if doc.workflow.is_some() => line.push_str("; every step allowed"),
        0 => line.push_str("; every action allowed"),
        n if doc.workflow.is_some() => {
            line.push_str(&format!("; {} denied by policy", plural(n, "step")))
        }
        n => line.push_str(&format!("; {} denied by policy", plural(n, "action"))),
    }
    line.push('\n');
    line
}

/// The policy decision of an action step (every check when there are several) and
/// its break-glass acknowledgment, each line after `indent`.
fn policy_lines(out: &mut String, step: &ActionStep, indent: &str) {
    let field = |name: &str, value: &str| format!("{indent}{name:<9} {value}\n");
    let d = &step.decision;
    let verdict = if d.allowed { "ALLOWED" } else { "DENIED" };
    if d.checks.is_empty() {
        out.push_str(&field(
            "policy",
            &format!(
                "{verdict} by {}: {}",
                untrusted(&d.rule.to_string()),
                untrusted(&d.reason)
            ),
        ));
    } else {
        // The deciding rule's reason is among the checks; name it once above them.
        out.push_str(&field(
            "policy",
            &format!("{verdict} by {}", untrusted(&d.rule.to_string())),
        ));
        for c in &d.checks {
            out.push_str(&format!(
                "{indent}{:<9} {} {}: {}\n",
                "",
                if c.allowed { "allow" } else { "deny " },
                untrusted(&c.rule.to_string()),
                untrusted(&c.reason)
            ));
        }
    }
    if let Some(ack) = &step.acknowledgment {
        out.push_str(&field(
            "ack",
            &match &ack.reason {
                Some(r) => format!(
                    "--ack {} --reason \"{}\"",
                    untrusted(&ack.action),
                    untrusted(&r.replace('\\', "\\\\").replace('"', "\\\""))
                ),
                None => format!("--ack {} (no reason)", untrusted(&ack.action)),
            },
        ));
    }
}

/// `{"a":1}` with control characters escaped: parameters come from the catalog
/// and the command line.
fn json_text(value: &Json) -> String {
    untrusted(&value.to_string()).into_owned()
}

/// What an action step runs and how: command, literal parameters, the references
/// still to be filled, timeout, retries, policy. Shared by steps and compensations.
fn action_lines(out: &mut String, step: &ActionStep, indent: &str) {
    let field = |name: &str, value: &str| format!("{indent}{name:<9} {value}\n");
    out.push_str(&field(
        "command",
        &match &step.command {
            None => "(no exec)".to_string(),
            Some(c) => display_command(&c.argv),
        },
    ));
    out.push_str(&field(
        "params",
        &json_text(&Json::Object(step.params.clone())),
    ));
    for r in &step.references {
        out.push_str(&field(
            "fills",
            &format!(
                "{} from {} (at run time)",
                untrusted(&r.pointer),
                untrusted(&r.from)
            ),
        ));
    }
    out.push_str(&field(
        "timeout",
        &format!(
            "{} ms ({})",
            step.timeout_ms.value,
            step.timeout_ms.source.as_str()
        ),
    ));
    out.push_str(&field(
        "retries",
        &format!(
            "{} ({})",
            retries_text(&step.retries),
            step.retries.source.as_str()
        ),
    ));
    policy_lines(out, step, indent);
}

/// The workflow part of a plan: its inputs, then the steps wave by wave, each
/// with its conditions, the module it waits for, what it runs and its
/// compensation.
fn render_workflow(
    out: &mut String,
    doc: &PlanDocument,
    workflow: &WorkflowRecord,
    label: &dyn Fn(&str) -> String,
) {
    let by_step: HashMap<&str, &ActionStep> = doc
        .actions
        .iter()
        .filter_map(|a| a.workflow.as_ref().map(|w| (w.step.as_str(), a)))
        .collect();
    let steps = by_step.len();
    let compensations = doc
        .actions
        .iter()
        .filter(|a| a.workflow.as_ref().is_some_and(|w| w.compensate.is_some()))
        .count();
    out.push_str(&format!(
        "\nworkflow {} ({}): {}\n",
        untrusted(&workflow.name),
        untrusted(&workflow.declared_in),
        untrusted(&workflow.description)
    ));
    out.push_str(&format!(
        "  inputs  {}\n",
        if workflow.inputs.is_empty() {
            "none".to_string()
        } else {
            json_text(&Json::Object(workflow.inputs.clone()))
        }
    ));
    out.push_str(&format!(
        "\nworkflow steps: {} in {}{}, after startup\n",
        steps,
        plural(workflow.waves.len(), "wave"),
        match compensations {
            0 => String::new(),
            n => format!(", {}", plural(n, "compensation")),
        }
    ));
    for wave in &workflow.waves {
        out.push_str(&format!("  wave {}\n", wave.wave));
        for id in &wave.steps {
            let Some(step) = by_step.get(id.as_str()) else {
                continue;
            };
            if let Some(place) = &step.workflow {
                render_workflow_step(out, step, id, place, label);
            }
        }
    }
}

/// One workflow step: its action, what it waits for, and its compensation.
fn render_workflow_step(
    out: &mut String,
    step: &ActionStep,
    id: &str,
    place: &WorkflowStep,
    label: &dyn Fn(&str) -> String,
) {
    let indent = "        ";
    let field = |name: &str, value: &str| format!("{indent}{name:<9} {value}\n");
    out.push_str(&format!(
        "    #{} {}: {} on {} ({}, {} impact)\n",
        step.id,
        untrusted(id),
        untrusted(&step.action),
        label(&step.module),
        step.category.as_str(),
        step.impact.as_str()
    ));
    match (&place.node, &place.node_from) {
        (Some(node), None) => {
            out.push_str(&field("node", &format!("{} (over ssh)", untrusted(node))));
        }
        (Some(node), Some(from)) => out.push_str(&field(
            "node",
            &format!("{} (over ssh), from {}", untrusted(node), untrusted(from)),
        )),
        (None, Some(from)) if from.starts_with("steps.") => out.push_str(&field(
            "node",
            &format!("from {}, read when the step starts", untrusted(from)),
        )),
        (None, Some(from)) => out.push_str(&field(
            "node",
            &format!("localhost, from {}", untrusted(from)),
        )),
        (None, None) => {}
    }
    if let Some(fanout) = &place.fanout {
        let from = fanout
            .selector_from
            .as_ref()
            .map(|f| format!(" (from {})", untrusted(f)))
            .unwrap_or_default();
        out.push_str(&field(
            "nodes",
            &format!(
                "{}{from}: {} over ssh, at most {} at once",
                untrusted(&fanout.selector),
                crate::report::plural(fanout.nodes.len(), "node"),
                fanout.forks
            ),
        ));
        out.push_str(&field("", &node_ids(fanout, |n| Some(n.step))));
    }
    if !place.needs.is_empty() {
        let needs: Vec<String> = place
            .needs
            .iter()
            .map(|n| untrusted(n).into_owned())
            .collect();
        out.push_str(&field("needs", &needs.join(", ")));
    }
    match place.condition {
        StepIf::Success => {}
        StepIf::Failure => {
            out.push_str(&field("if", "failure: runs only when a needed step failed"))
        }
        StepIf::Always => out.push_str(&field("if", "always: runs once the needed steps finished")),
    }
    if let Some(when) = &place.when {
        out.push_str(&field(
            "when",
            &format!(
                "{} {} {}",
                untrusted(&when.from),
                match when.test {
                    WhenTest::Equals => "equals",
                    WhenTest::NotEquals => "not_equals",
                },
                json_text(&when.value)
            ),
        ));
    }
    if place.continue_on_error {
        out.push_str(&field(
            "on error",
            "continue (continue_on_error: the workflow goes on)",
        ));
    }
    out.push_str(&field(
        "modules",
        &if step.after_step == 0 {
            format!("{} and what it requires", label(&step.module))
        } else {
            format!(
                "{} and what it requires, ready by #{}",
                label(&step.module),
                step.after_step
            )
        },
    ));
    action_lines(out, step, indent);
    if let Some(c) = &place.compensate {
        out.push_str(&field(
            "undo",
            &format!(
                "#{} {} on {} ({}, {} impact), if the workflow stops",
                c.id,
                untrusted(&c.action),
                label(&c.module),
                c.category.as_str(),
                c.impact.as_str()
            ),
        ));
        action_lines(out, c, &format!("{indent}  "));
        let on = match (&place.fanout, &place.node) {
            (Some(fanout), _) => Some(format!(
                "on each node that succeeded: {}",
                node_ids(fanout, |n| n.compensate)
            )),
            (None, Some(node)) => Some(format!("on {} (over ssh)", untrusted(node))),
            (None, None) if place.node_from.is_some() => {
                Some("on the node the step ran on".to_string())
            }
            (None, None) => None,
        };
        if let Some(on) = on {
            out.push_str(&format!("{indent}  runs {on}\n"));
        }
    }
}

/// `#4 web-1, #5 web-2`: each node of a fan-out with the step id `id` gives it.
fn node_ids(
    fanout: &crate::plan::document::FanOut,
    id: impl Fn(&crate::plan::document::FanOutNode) -> Option<u64>,
) -> String {
    fanout
        .nodes
        .iter()
        .map(|n| match id(n) {
            Some(step) => format!("#{step} {}", untrusted(&n.node)),
            None => untrusted(&n.node).into_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Diagnostics rendered as `validate` renders them, without its catalog summary
/// line: for problems with a request (unknown names, bad parameters) and for
/// warnings shown above a plan, where "valid: 3 files, …" would only confuse.
pub(crate) fn render_problems(
    diagnostics: &[crate::diagnostic::Diagnostic],
    sources: &SourceMap,
    color: bool,
) -> String {
    let mut text = crate::report::diagnostics::render_diagnostics(diagnostics, sources, color);
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}
