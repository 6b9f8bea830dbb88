//! Plan renderers: a readable step list (human) and the plan document (JSON).
//!
//! Both number the steps the same way, in execution order: the startup steps wave by
//! wave (register, initialize, ready per module), then the action steps, then the
//! shutdown steps. Neither reads the clock or the environment; names come from
//! `SourceFile::name`, never absolute paths, so output is byte-identical for the
//! same inputs. The JSON document is described by `schemas/plan.schema.json`.

use serde_json::{json, Value as Json};

use crate::escape::untrusted;
use crate::plan::{Inputs, Phase, Plan, SHUTDOWN_PHASES, STARTUP_PHASES};
use crate::registry::{Module, Registry, Retries, Runtime};
use crate::source::SourceMap;

/// The plan document's format version.
pub const FORMAT_VERSION: u64 = 1;

/// `name@version` as shown to a person (escaped: both come from the catalog).
fn module_label(module: &Module) -> String {
    match &module.version {
        Some(v) => format!("{}@{}", untrusted(&module.name.value), untrusted(&v.value)),
        None => untrusted(&module.name.value).into_owned(),
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
fn module_command(module: &Module) -> String {
    match module.lifecycle.runtime {
        Runtime::Builtin => "builtin".to_string(),
        Runtime::None => "none (nothing to run)".to_string(),
        Runtime::Process if module.lifecycle.exec.is_empty() => "process (no exec)".to_string(),
        Runtime::Process => format!("process: {}", display_command(&module.lifecycle.exec)),
    }
}

fn retries_text(r: &Retries) -> String {
    let attempts = if r.max_attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts, {} ms apart", r.max_attempts, r.backoff_ms)
    };
    if r.on.is_empty() || r.max_attempts <= 1 {
        attempts
    } else {
        format!("{attempts}, on {}", r.on.join(", "))
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn step_range(first: usize, count: usize) -> String {
    format!("#{}-{}", first, first + count - 1)
}

/// The human plan: header, startup waves, actions, shutdown, critical path, summary.
pub fn render_human(plan: &Plan, registry: &Registry, inputs: &Inputs) -> String {
    let mut out = String::new();
    let request = &plan.request;
    let module = |m: usize| &registry.modules[m];
    out.push_str(&format!(
        "plan for {} from {} (catalog sha256:{})\n",
        plural(plan.module_count(), "module"),
        plural(inputs.files.len(), "catalog file"),
        inputs.catalog_sha256.get(..12).unwrap_or_default()
    ));
    out.push_str(&format!(
        "evaluated at {} ({})\n",
        request.at,
        match plan.request.clock {
            crate::plan::Clock::Fixed => "--at",
            crate::plan::Clock::SourceDateEpoch => "SOURCE_DATE_EPOCH",
            crate::plan::Clock::Now => "the current time; pass --at for a reproducible plan",
        }
    ));
    if !plan.targets.is_empty() {
        let names: Vec<std::borrow::Cow<str>> = plan
            .targets
            .iter()
            .map(|&m| untrusted(&module(m).name.value))
            .collect();
        out.push_str(&format!(
            "targets: {} and what they depend on\n",
            names.join(", ")
        ));
    }
    let width = plan
        .startup
        .iter()
        .flatten()
        .map(|&m| module_label(module(m)).chars().count())
        .max()
        .unwrap_or(0)
        // Past this, padding only pushes the commands off the screen.
        .min(48);
    let id_width = format!("{}", plan.step_count()).len() * 2 + 2;

    let mut next_id = 1usize;
    out.push_str(&format!(
        "\nstartup: {} in {}, each {}\n",
        plural(plan.module_count(), "module"),
        plural(plan.startup.len(), "wave"),
        STARTUP_PHASES.map(Phase::as_str).join(" → ")
    ));
    for (w, wave) in plan.startup.iter().enumerate() {
        out.push_str(&format!("  wave {}\n", w + 1));
        for &m in wave {
            let ids = step_range(next_id, STARTUP_PHASES.len());
            next_id += STARTUP_PHASES.len();
            out.push_str(&format!(
                "    {ids:<id_width$} {:<width$}  {}\n",
                module_label(module(m)),
                module_command(module(m))
            ));
        }
    }

    for step in &plan.actions {
        let provider = module(step.module);
        let action = &provider.actions[step.action];
        let wave = plan
            .startup
            .iter()
            .position(|w| w.contains(&step.module))
            .map_or(0, |w| w + 1);
        out.push_str(&format!(
            "\naction, after {} is ready (wave {wave})\n",
            untrusted(&provider.name.value)
        ));
        out.push_str(&format!(
            "  #{next_id} {} on {}: {}, {} impact\n",
            untrusted(&action.name.value),
            module_label(provider),
            action.category.as_str(),
            action.impact.as_str()
        ));
        next_id += 1;
        let field = |name: &str, value: &str| format!("      {name:<9} {value}\n");
        if !action.description.is_empty() {
            out.push_str(&field("does", &untrusted(&action.description)));
        }
        out.push_str(&field(
            "command",
            &if action.exec.is_empty() {
                "(no exec)".to_string()
            } else {
                display_command(&action.exec)
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
                step.settings.timeout_ms.value,
                step.settings.timeout_ms.source.as_str()
            ),
        ));
        out.push_str(&field(
            "retries",
            &format!(
                "{} ({})",
                retries_text(&step.settings.retries.value),
                step.settings.retries.source.as_str()
            ),
        ));
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
                    "      {:<9} {} {}: {}\n",
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

    out.push_str(&format!(
        "\nshutdown: exact reverse of startup, each {}\n",
        SHUTDOWN_PHASES.map(Phase::as_str).join(" → ")
    ));
    for (w, wave) in plan.shutdown().enumerate() {
        out.push_str(&format!("  wave {}\n", w + 1));
        for m in wave {
            let ids = step_range(next_id, SHUTDOWN_PHASES.len());
            next_id += SHUTDOWN_PHASES.len();
            out.push_str(&format!(
                "    {ids:<id_width$} {}\n",
                module_label(module(m))
            ));
        }
    }

    let cp = &plan.critical_path;
    out.push_str(&format!(
        "\ncritical path: {} ms worst-case until every module is ready\n",
        cp.total_ms
    ));
    // The total is the latest finish: wide enough for every row.
    let ms_width = cp.total_ms.to_string().len().max(8);
    for link in &cp.chain {
        let m = module(link.module);
        let part = |p: Phase| {
            let (ms, declared) = p.timeout(m).unwrap_or((0, false));
            format!(
                "{} {ms}{}",
                p.as_str(),
                if declared { "" } else { " (default)" }
            )
        };
        // What the row adds must be what the path counts: a module with nothing to
        // run waits for nothing, whatever timeouts it declares.
        let cost = if m.lifecycle.runtime == Runtime::None {
            "nothing to run".to_string()
        } else {
            format!("{} + {}", part(Phase::Initialize), part(Phase::Ready))
        };
        out.push_str(&format!(
            "  ready by {:>ms_width$} ms  {:<width$}  {cost}\n",
            link.finishes_at_ms,
            module_label(m),
        ));
    }

    let startup_steps = plan.module_count() * STARTUP_PHASES.len();
    let shutdown_steps = plan.module_count() * SHUTDOWN_PHASES.len();
    let mut summary = format!(
        "\nplan: {} ({} startup, {}, {} shutdown)",
        plural(plan.step_count(), "step"),
        startup_steps,
        plural(plan.actions.len(), "action"),
        shutdown_steps
    );
    match plan.denied() {
        0 if plan.actions.is_empty() => {}
        0 => summary.push_str("; every action allowed"),
        n => summary.push_str(&format!("; {} denied by policy", plural(n, "action"))),
    }
    summary.push('\n');
    out.push_str(&summary);
    out
}

fn phase_steps(module: &Module, phases: &[Phase], next_id: &mut usize) -> Vec<Json> {
    phases
        .iter()
        .map(|&p| {
            let id = *next_id;
            *next_id += 1;
            let (timeout, source) = match p.timeout(module) {
                Some((ms, true)) => (json!(ms), json!("lifecycle")),
                Some((ms, false)) => (json!(ms), json!("default")),
                None => (Json::Null, Json::Null),
            };
            json!({
                "id": id,
                "phase": p.as_str(),
                "timeout_ms": timeout,
                "timeout_source": source,
            })
        })
        .collect()
}

fn module_json(module: &Module, sources: &SourceMap, steps: Vec<Json>) -> Json {
    let command = match module.lifecycle.runtime {
        Runtime::Process => json!(module.lifecycle.exec),
        Runtime::Builtin | Runtime::None => Json::Null,
    };
    json!({
        "module": module.name.value,
        "version": module.version.as_ref().map(|v| v.value.clone()),
        "runtime": module.lifecycle.runtime.as_str(),
        "command": command,
        "declared_in": sources.get(module.file).name,
        "steps": steps,
    })
}

/// A critical-path time as a JSON number: exact up to `u64::MAX`, past that (a
/// chain of over a thousand modules declaring the largest timeouts) the nearest
/// double, which is all most JSON readers hold anyway.
fn ms_json(ms: u128) -> Json {
    u64::try_from(ms).map_or_else(|_| json!(ms as f64), |ms| json!(ms))
}

/// The plan document (format version 1), described by `schemas/plan.schema.json`.
pub fn render_json(
    plan: &Plan,
    registry: &Registry,
    sources: &SourceMap,
    inputs: &Inputs,
) -> String {
    let module = |m: usize| &registry.modules[m];
    let request = &plan.request;
    let mut next_id = 1usize;
    let mut ready_step = std::collections::HashMap::new();
    let startup: Vec<Json> = plan
        .startup
        .iter()
        .enumerate()
        .map(|(w, wave)| {
            let modules: Vec<Json> = wave
                .iter()
                .map(|&m| {
                    let steps = phase_steps(module(m), &STARTUP_PHASES, &mut next_id);
                    ready_step.insert(m, next_id - 1);
                    module_json(module(m), sources, steps)
                })
                .collect();
            json!({ "wave": w + 1, "modules": modules })
        })
        .collect();
    let actions: Vec<Json> = plan
        .actions
        .iter()
        .map(|step| {
            let provider = module(step.module);
            let action = &provider.actions[step.action];
            let id = next_id;
            next_id += 1;
            let d = &step.decision;
            let r = &step.settings.retries;
            json!({
                "id": id,
                "action": action.name.value,
                "module": provider.name.value,
                "category": action.category.as_str(),
                "impact": action.impact.as_str(),
                "command": action.exec,
                "declared_in": sources.get(provider.file).name,
                "after_step": ready_step.get(&step.module).copied(),
                "params": Json::Object(step.params.clone()),
                "timeout_ms": {
                    "value": step.settings.timeout_ms.value,
                    "source": step.settings.timeout_ms.source.as_str(),
                },
                "retries": {
                    "max_attempts": r.value.max_attempts,
                    "backoff_ms": r.value.backoff_ms,
                    "on": r.value.on,
                    "source": r.source.as_str(),
                },
                "decision": {
                    "allowed": d.allowed,
                    "rule": d.rule,
                    "reason": d.reason,
                    "checks": d.checks.iter().map(|c| json!({
                        "rule": c.rule,
                        "allowed": c.allowed,
                        "reason": c.reason,
                    })).collect::<Vec<_>>(),
                },
                "acknowledgment": step.acknowledgment.as_ref().map(|a| json!({
                    "action": a.action,
                    "reason": a.reason,
                })),
            })
        })
        .collect();
    let shutdown: Vec<Json> = plan
        .shutdown()
        .enumerate()
        .map(|(w, wave)| {
            let modules: Vec<Json> = wave
                .map(|m| {
                    let steps = phase_steps(module(m), &SHUTDOWN_PHASES, &mut next_id);
                    module_json(module(m), sources, steps)
                })
                .collect();
            json!({ "wave": w + 1, "modules": modules })
        })
        .collect();
    let cp = &plan.critical_path;
    let chain: Vec<Json> = cp
        .chain
        .iter()
        .map(|link| {
            let m = module(link.module);
            // 0 for a module with nothing to run: what the path counts.
            let counted = |p: Phase| p.timeout(m).map_or(0, |t| t.0);
            json!({
                "module": m.name.value,
                "initialize_ms": counted(Phase::Initialize),
                "ready_ms": counted(Phase::Ready),
                "finishes_at_ms": ms_json(link.finishes_at_ms),
            })
        })
        .collect();
    let mut targets: Vec<&str> = plan
        .targets
        .iter()
        .map(|&m| module(m).name.value.as_str())
        .collect();
    targets.sort_unstable();
    let doc = json!({
        "format_version": FORMAT_VERSION,
        "evaluated_at": request.at.to_string(),
        "clock": request.clock.as_str(),
        "request": {
            "targets": targets,
            "action": request.action,
            "acks": request.acks,
            "reason": request.reason,
        },
        "inputs": {
            "catalog_sha256": inputs.catalog_sha256,
            "policy_inputs_sha256": inputs.policy_inputs_sha256,
            "files": inputs.files.iter().map(|(file, digest)| json!({
                "file": file,
                "sha256": digest,
            })).collect::<Vec<_>>(),
        },
        "startup": startup,
        "actions": actions,
        "shutdown": shutdown,
        "critical_path": {
            "total_ms": ms_json(cp.total_ms),
            "modules": chain,
        },
        "summary": {
            "modules": plan.module_count(),
            "waves": plan.startup.len(),
            "steps": plan.step_count(),
            "actions": plan.actions.len(),
            "denied": plan.denied(),
        },
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// Diagnostics rendered as `validate` renders them, without its catalog summary
/// line: for problems with a request (unknown names, bad parameters) and for
/// warnings shown above a plan, where "valid: 3 files, …" would only confuse.
pub fn render_problems(
    diagnostics: &[crate::diagnostic::Diagnostic],
    sources: &SourceMap,
    color: bool,
) -> String {
    let mut text = crate::report::diagnostics::render_diagnostics(diagnostics, sources, color);
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}
