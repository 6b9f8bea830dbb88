//! Plan drift: how two plan documents differ by meaning, not by bytes.
//!
//! `rune plan --check GOLDEN` and `rune diff A B` hand two parsed plans to
//! [`compare`] and render what it returns (`report::drift`). A change is named once,
//! by its cause: a module whose dependencies changed moves to another wave, and the
//! modules after it that move only because it did are counted, not listed; step ids,
//! which shift whenever anything earlier changes, are never compared.
//!
//! What counts (the plan's meaning): the modules planned, their waves and the
//! dependencies that order them, each module's version, runtime, command, declaring
//! file and phase timeouts; each action step's action, module, category, impact,
//! command, parameters, timeout, retries, policy decision (allowed, deciding rule and
//! the rules that applied), acknowledgment, references and place in its workflow; the
//! critical path; the request; the digests of every catalog file and program.
//! What does not: step ids and `after_step` (numbering), the summary (counts of the
//! above), `catalog_root` (where the plan was written from), the instant and its
//! clock and `policy_inputs_sha256` (inputs: what they decide is compared), the
//! deciding rule's reason text (it quotes the instant), descriptions (prose), and
//! the order of modules inside a wave (always by name).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::catalog::CheckedCatalog;
use crate::policy::Rule;
use crate::source::Span;

use super::document::{ActionStep, FileDigest, PhaseStep, PlanDocument, StartupModule};

/// Every difference of meaning between two plans.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drift {
    /// Each change, once: request, modules, steps, critical path, inputs; each
    /// group sorted by subject.
    pub changes: Vec<Change>,
    /// Modules and workflow steps that only moved to another wave because
    /// something they depend on moved, was added or was removed: counted, not
    /// listed.
    pub moved_with: u64,
}

impl Drift {
    /// Whether the plans mean the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The request (targets, action, acks, reason, workflow, run inputs).
    Request,
    /// A catalog file or program digest.
    Input,
    /// A module planned now that was not.
    ModuleAdded,
    /// A module no longer planned.
    ModuleRemoved,
    /// A module in another startup wave because its own dependencies changed.
    ModuleMoved,
    /// A module's dependencies inside the plan changed, its wave did not.
    StartupOrder,
    /// A module's version, runtime, command or declaring file.
    ModuleChanged,
    /// A lifecycle phase timeout.
    PhaseTimeout,
    /// An action step planned now that was not.
    StepAdded,
    /// An action step no longer planned.
    StepRemoved,
    /// A workflow step in another wave because its own `needs` changed.
    StepMoved,
    /// A step's timeout, retries, command, parameters or place.
    StepChanged,
    /// A policy decision: allowed or denied, or the rule that decides.
    Decision,
    /// The critical path: its total or its chain.
    CriticalPath,
}

/// What a change is about, so a renderer can point at the catalog line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Place {
    /// Nothing in a catalog file.
    None,
    /// A module, declared in `file` (relative to the plan's root).
    Module {
        /// The module.
        module: String,
        /// Its declaring file.
        file: String,
        /// The catalog key inside the module entry that holds the change.
        key: Option<&'static str>,
    },
    /// An action step: the workflow step when there is one, else the action.
    Step {
        /// The workflow and step id, for a workflow step.
        workflow: Option<(String, String)>,
        /// The action's module.
        module: String,
        /// The action.
        action: String,
        /// The action's declaring file.
        file: String,
        /// The catalog key inside the step (or action) entry that holds the change.
        key: Option<&'static str>,
    },
    /// A policy rule deciding an action.
    Rule {
        /// The rule.
        rule: Rule,
        /// The action's module.
        module: String,
        /// The action.
        action: String,
        /// The action's declaring file, when the rule has no line of its own.
        file: String,
    },
    /// A whole file (relative to the plan's root).
    File {
        /// The file.
        file: String,
    },
}

/// One difference of meaning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What kind.
    pub kind: Kind,
    /// What changed: a module or step name, a file, `request`, `critical_path`.
    pub subject: String,
    /// Which part of it (`ready_ms`, `command`, `targets`), when it has parts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value in the first plan (null: absent there).
    pub before: Json,
    /// The value in the second plan (null: absent there).
    pub after: Json,
    /// Where the change has a place in a catalog.
    #[serde(skip)]
    pub place: Place,
}

/// How `after` differs from `before` by meaning; empty when they mean the same.
pub fn compare(before: &PlanDocument, after: &PlanDocument) -> Drift {
    let mut drift = Drift::default();
    request(before, after, &mut drift.changes);
    drift.moved_with += modules(before, after, &mut drift.changes);
    drift.moved_with += steps(before, after, &mut drift.changes);
    critical_path(before, after, &mut drift.changes);
    inputs(before, after, &mut drift.changes);
    drift
}

fn change(kind: Kind, subject: &str, field: Option<&str>, before: Json, after: Json) -> Change {
    Change {
        kind,
        subject: subject.to_string(),
        field: field.map(str::to_string),
        before,
        after,
        place: Place::None,
    }
}

fn to_json<T: Serialize>(value: &T) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

fn request(before: &PlanDocument, after: &PlanDocument, out: &mut Vec<Change>) {
    let (a, b) = (&before.request, &after.request);
    let sorted = |v: &[String]| -> Vec<String> {
        let set: BTreeSet<&String> = v.iter().collect();
        set.into_iter().cloned().collect()
    };
    let mut field = |name: &str, x: Json, y: Json| {
        if x != y {
            out.push(change(Kind::Request, "request", Some(name), x, y));
        }
    };
    field(
        "targets",
        json!(sorted(&a.targets)),
        json!(sorted(&b.targets)),
    );
    field("action", json!(a.action), json!(b.action));
    field("acks", json!(sorted(&a.acks)), json!(sorted(&b.acks)));
    field("reason", json!(a.reason), json!(b.reason));
    field("workflow", json!(a.workflow), json!(b.workflow));
    let inputs = |d: &PlanDocument| d.workflow.as_ref().map(|w| w.inputs.clone());
    field("inputs", json!(inputs(before)), json!(inputs(after)));
}

fn inputs(before: &PlanDocument, after: &PlanDocument, out: &mut Vec<Change>) {
    digests(
        &before.inputs.files,
        &after.inputs.files,
        "catalog_file",
        out,
    );
    digests(
        &before.inputs.programs,
        &after.inputs.programs,
        "program",
        out,
    );
}

fn digests(before: &[FileDigest], after: &[FileDigest], what: &str, out: &mut Vec<Change>) {
    let map = |v: &[FileDigest]| -> BTreeMap<String, String> {
        v.iter()
            .map(|f| (f.file.clone(), f.sha256.clone()))
            .collect()
    };
    let (a, b) = (map(before), map(after));
    let files: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for file in files {
        let (x, y) = (a.get(file), b.get(file));
        if x != y {
            let mut c = change(Kind::Input, file, Some(what), json!(x), json!(y));
            c.place = Place::File { file: file.clone() };
            out.push(c);
        }
    }
}

/// The modules of a plan by name, each with its 1-based wave.
fn by_name(doc: &PlanDocument) -> BTreeMap<&str, (u64, &StartupModule)> {
    // A plan names each module once; a forged plan naming one twice keeps the last.
    doc.startup
        .iter()
        .flat_map(|w| {
            w.modules
                .iter()
                .map(move |m| (m.module.as_str(), (w.wave, m)))
        })
        .collect()
}

/// The catalog key of a module entry that holds a change of this kind.
fn module_key(kind: Kind, field: Option<&str>) -> Option<&'static str> {
    match (kind, field) {
        (Kind::ModuleMoved | Kind::StartupOrder, _) => Some("dependencies"),
        (_, Some("version")) => Some("module_version"),
        (_, Some("runtime")) => Some("runtime"),
        (_, Some("command")) => Some("exec"),
        (_, Some("node")) => Some("node"),
        (_, Some("initialize_ms")) => Some("initialize_ms"),
        (_, Some("ready_ms")) => Some("ready_ms"),
        (_, Some("drain_ms")) => Some("drain_ms"),
        (_, Some("shutdown_ms")) => Some("shutdown_ms"),
        _ => None,
    }
}

/// The catalog key of a step or action entry that holds a change of this field.
fn step_key_of(field: Option<&str>) -> Option<&'static str> {
    match field? {
        "timeout_ms" => Some("timeout_ms"),
        "retries" => Some("retries"),
        "command" => Some("exec"),
        "params" | "references" => Some("params"),
        "wave" | "needs" => Some("needs"),
        "if" => Some("if"),
        "when" => Some("when"),
        "continue_on_error" => Some("continue_on_error"),
        "compensate" => Some("compensate"),
        "category" => Some("category"),
        "impact" => Some("impact"),
        _ => None,
    }
}

/// The shutdown steps (drain, shutdown) of each module of a plan.
fn shutdown_steps(doc: &PlanDocument) -> BTreeMap<&str, &[PhaseStep]> {
    doc.shutdown
        .iter()
        .flat_map(|w| w.modules.iter())
        .map(|m| (m.module.as_str(), m.steps.as_slice()))
        .collect()
}

/// Whether a plan records the dependencies that order its startup: plans made
/// before `depends_on` existed do not, and then every wave move is reported.
fn records_dependencies(doc: &PlanDocument) -> bool {
    doc.startup.len() <= 1 || doc.startup_modules().any(|m| !m.depends_on.is_empty())
}

/// Module changes; returns how many modules moved only as a consequence.
fn modules<'a>(before: &'a PlanDocument, after: &'a PlanDocument, out: &mut Vec<Change>) -> u64 {
    let (a, b) = (by_name(before), by_name(after));
    let (down_a, down_b) = (shutdown_steps(before), shutdown_steps(after));
    let edges_known = records_dependencies(before) && records_dependencies(after);
    let mut moved_with = 0;
    let names: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    for name in names {
        let place = |m: &StartupModule, key: Option<&'static str>| Place::Module {
            module: name.to_string(),
            file: m.declared_in.clone(),
            key,
        };
        match (a.get(name), b.get(name)) {
            (None, Some(&(wave, m))) => {
                let mut c = change(
                    Kind::ModuleAdded,
                    name,
                    None,
                    Json::Null,
                    json!({ "wave": wave }),
                );
                c.place = place(m, None);
                out.push(c);
            }
            (Some(&(wave, m)), None) => {
                let mut c = change(
                    Kind::ModuleRemoved,
                    name,
                    None,
                    json!({ "wave": wave }),
                    Json::Null,
                );
                c.place = Place::File {
                    file: m.declared_in.clone(),
                };
                out.push(c);
            }
            (Some(&(wa, ma)), Some(&(wb, mb))) => {
                // Dependencies on modules in both plans: an edge to a module added
                // or removed is that module's change, not this one's.
                let common = |m: &'a StartupModule| -> BTreeSet<&'a str> {
                    m.depends_on
                        .iter()
                        .map(String::as_str)
                        .filter(|d| a.contains_key(d) && b.contains_key(d))
                        .collect()
                };
                let (da, db) = (common(ma), common(mb));
                let own_order_changed = edges_known && da != db;
                let mut push = |kind, field: Option<&str>, x: Json, y: Json| {
                    let mut c = change(kind, name, field, x, y);
                    c.place = place(mb, module_key(kind, field));
                    out.push(c);
                };
                let deps = |d: &BTreeSet<&str>| json!(d.iter().collect::<Vec<_>>());
                if wa != wb && (own_order_changed || !edges_known) {
                    let (x, y) = if edges_known {
                        (
                            json!({ "wave": wa, "depends_on": deps(&da) }),
                            json!({ "wave": wb, "depends_on": deps(&db) }),
                        )
                    } else {
                        (json!({ "wave": wa }), json!({ "wave": wb }))
                    };
                    push(Kind::ModuleMoved, Some("wave"), x, y);
                } else if wa != wb {
                    moved_with += 1;
                } else if own_order_changed {
                    push(Kind::StartupOrder, Some("depends_on"), deps(&da), deps(&db));
                }
                let down = (
                    down_a.get(name).copied().unwrap_or(&[]),
                    down_b.get(name).copied().unwrap_or(&[]),
                );
                module_fields(ma, mb, down, &mut push);
            }
            (None, None) => {}
        }
    }
    moved_with
}

/// A module's own fields and its phase timeouts (startup steps, then the
/// shutdown steps `down` holds for each plan).
fn module_fields<'a>(
    a: &'a StartupModule,
    b: &'a StartupModule,
    down: (&'a [PhaseStep], &'a [PhaseStep]),
    push: &mut impl FnMut(Kind, Option<&str>, Json, Json),
) {
    // Typed comparisons first: JSON is built only for what changed.
    if a.version != b.version {
        push(
            Kind::ModuleChanged,
            Some("version"),
            json!(a.version),
            json!(b.version),
        );
    }
    if a.runtime != b.runtime {
        push(
            Kind::ModuleChanged,
            Some("runtime"),
            to_json(&a.runtime),
            to_json(&b.runtime),
        );
    }
    if a.command != b.command {
        push(
            Kind::ModuleChanged,
            Some("command"),
            to_json(&a.command),
            to_json(&b.command),
        );
    }
    // Where its process runs is what it does, as much as its command.
    if a.node != b.node {
        push(
            Kind::ModuleChanged,
            Some("node"),
            json!(a.node),
            json!(b.node),
        );
    }
    if a.declared_in != b.declared_in {
        push(
            Kind::ModuleChanged,
            Some("declared_in"),
            json!(a.declared_in),
            json!(b.declared_in),
        );
    }
    // A module that now runs nothing has no timeouts: its runtime is the change.
    if a.runtime != b.runtime {
        return;
    }
    let phases = |m: &'a StartupModule, down: &'a [PhaseStep]| {
        m.steps
            .iter()
            .chain(down)
            .map(|s| (s.phase, (s.timeout_ms, s.timeout_source)))
    };
    for (x, y) in phases(a, down.0).zip(phases(b, down.1)) {
        if x != y {
            push(
                Kind::PhaseTimeout,
                Some(&format!("{}_ms", x.0.as_str())),
                json!({ "ms": x.1 .0, "source": x.1 .1 }),
                json!({ "ms": y.1 .0, "source": y.1 .1 }),
            );
        }
    }
}

/// An action step's key: its workflow step id (`id (compensation)` for a
/// compensation), else its action name.
fn step_key(step: &ActionStep, compensation_of: Option<&str>) -> String {
    match (compensation_of, &step.workflow) {
        (Some(id), _) => format!("{id} (compensation)"),
        (None, Some(w)) => w.step.clone(),
        (None, None) => step.action.clone(),
    }
}

/// Every action step of a plan by key, compensations included.
fn steps_by_key(doc: &PlanDocument) -> BTreeMap<String, &ActionStep> {
    let mut map = BTreeMap::new();
    for step in &doc.actions {
        map.insert(step_key(step, None), step);
        if let Some(c) = step.workflow.as_ref().and_then(|w| w.compensate.as_deref()) {
            let id = step_key(step, None);
            map.insert(step_key(c, Some(&id)), c);
        }
    }
    map
}

/// Action step changes; returns how many workflow steps moved only as a
/// consequence.
fn steps(before: &PlanDocument, after: &PlanDocument, out: &mut Vec<Change>) -> u64 {
    let (a, b) = (steps_by_key(before), steps_by_key(after));
    let workflow_name = |d: &PlanDocument| d.workflow.as_ref().map(|w| w.name.clone());
    let mut moved_with = 0;
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let place = |s: &ActionStep, doc: &PlanDocument, field: Option<&str>| Place::Step {
            workflow: workflow_name(doc)
                .zip(s.workflow.as_ref().map(|w| w.step.clone()))
                .filter(|_| !key.ends_with(" (compensation)")),
            module: s.module.clone(),
            action: s.action.clone(),
            file: s.declared_in.clone(),
            key: step_key_of(field),
        };
        match (a.get(key), b.get(key)) {
            (None, Some(s)) => {
                let mut c = change(
                    Kind::StepAdded,
                    key,
                    None,
                    Json::Null,
                    json!({
                        "action": s.action,
                        "module": s.module,
                        "allowed": s.decision.allowed,
                        "rule": to_json(&s.decision.rule),
                    }),
                );
                c.place = place(s, after, None);
                out.push(c);
            }
            (Some(s), None) => {
                let mut c = change(
                    Kind::StepRemoved,
                    key,
                    None,
                    json!({ "action": s.action, "module": s.module }),
                    Json::Null,
                );
                c.place = Place::File {
                    file: s.declared_in.clone(),
                };
                out.push(c);
            }
            (Some(x), Some(y)) => {
                let mut push = |kind, field: Option<&str>, p: Json, q: Json| {
                    let mut c = change(kind, key, field, p, q);
                    c.place = place(y, after, field);
                    out.push(c);
                };
                moved_with += step_fields(x, y, &mut push);
                let decided = |s: &ActionStep| json!({ "allowed": s.decision.allowed, "rule": to_json(&s.decision.rule) });
                let checks = |s: &ActionStep| {
                    s.decision
                        .checks
                        .iter()
                        .map(|c| json!({ "rule": to_json(&c.rule), "allowed": c.allowed }))
                        .collect::<Vec<_>>()
                };
                if decided(x) != decided(y) || checks(x) != checks(y) {
                    let mut c = change(
                        Kind::Decision,
                        key,
                        Some("decision"),
                        json!({ "allowed": x.decision.allowed, "rule": to_json(&x.decision.rule), "reason": x.decision.reason }),
                        json!({ "allowed": y.decision.allowed, "rule": to_json(&y.decision.rule), "reason": y.decision.reason }),
                    );
                    c.place = Place::Rule {
                        rule: y.decision.rule.clone(),
                        module: y.module.clone(),
                        action: y.action.clone(),
                        file: y.declared_in.clone(),
                    };
                    out.push(c);
                }
            }
            (None, None) => {}
        }
    }
    moved_with
}

/// A step's own fields; returns 1 when its wave moved only as a consequence.
fn step_fields(
    a: &ActionStep,
    b: &ActionStep,
    push: &mut impl FnMut(Kind, Option<&str>, Json, Json),
) -> u64 {
    let mut field = |name: &str, x: Json, y: Json| {
        if x != y {
            push(Kind::StepChanged, Some(name), x, y);
        }
    };
    field("action", json!(a.action), json!(b.action));
    field("module", json!(a.module), json!(b.module));
    field("category", to_json(&a.category), to_json(&b.category));
    field("impact", to_json(&a.impact), to_json(&b.impact));
    field("command", to_json(&a.command), to_json(&b.command));
    field("declared_in", json!(a.declared_in), json!(b.declared_in));
    field("params", json!(a.params), json!(b.params));
    field("timeout_ms", to_json(&a.timeout_ms), to_json(&b.timeout_ms));
    field("retries", to_json(&a.retries), to_json(&b.retries));
    field(
        "acknowledgment",
        to_json(&a.acknowledgment),
        to_json(&b.acknowledgment),
    );
    field("references", to_json(&a.references), to_json(&b.references));
    let (Some(wa), Some(wb)) = (&a.workflow, &b.workflow) else {
        field(
            "workflow",
            json!(a.workflow.is_some()),
            json!(b.workflow.is_some()),
        );
        return 0;
    };
    let needs =
        |w: &super::document::WorkflowStep| w.needs.iter().cloned().collect::<BTreeSet<String>>();
    let mut consequence = 0;
    if wa.wave != wb.wave {
        if needs(wa) != needs(wb) {
            push(
                Kind::StepMoved,
                Some("wave"),
                json!({ "wave": wa.wave, "needs": needs(wa) }),
                json!({ "wave": wb.wave, "needs": needs(wb) }),
            );
        } else {
            consequence = 1;
        }
    } else if needs(wa) != needs(wb) {
        push(
            Kind::StepChanged,
            Some("needs"),
            json!(needs(wa)),
            json!(needs(wb)),
        );
    }
    let mut field = |name: &str, x: Json, y: Json| {
        if x != y {
            push(Kind::StepChanged, Some(name), x, y);
        }
    };
    field("if", to_json(&wa.condition), to_json(&wb.condition));
    field("when", to_json(&wa.when), to_json(&wb.when));
    field(
        "continue_on_error",
        json!(wa.continue_on_error),
        json!(wb.continue_on_error),
    );
    field(
        "compensate",
        json!(wa.compensate.is_some()),
        json!(wb.compensate.is_some()),
    );
    // Where it runs: the same step on other machines is another step. A
    // fan-out's nodes by name (their step ids are numbering).
    field("node", json!(wa.node), json!(wb.node));
    field("node_from", json!(wa.node_from), json!(wb.node_from));
    let nodes = |w: &super::document::WorkflowStep| {
        w.fanout.as_ref().map(|f| {
            json!({
                "selector": f.selector,
                "selector_from": f.selector_from,
                "forks": f.forks,
                "nodes": f.nodes.iter().map(|n| n.node.as_str()).collect::<Vec<_>>(),
            })
        })
    };
    field("nodes", json!(nodes(wa)), json!(nodes(wb)));
    consequence
}

fn critical_path(before: &PlanDocument, after: &PlanDocument, out: &mut Vec<Change>) {
    let path = |d: &PlanDocument| {
        json!({
            "total_ms": u64::try_from(d.critical_path.total_ms).unwrap_or(u64::MAX),
            "modules": d.critical_path.modules.iter().map(|l| l.module.as_str()).collect::<Vec<_>>(),
        })
    };
    let (x, y) = (path(before), path(after));
    if x != y {
        out.push(change(Kind::CriticalPath, "critical_path", None, x, y));
    }
}

/// A change's place in a catalog file: the file as the working directory sees it
/// and, when the catalog now loaded declares the thing, its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file.
    pub file: String,
    /// The line, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// Finds each [`Place`] in the catalogs as loaded now.
pub struct Places<'a> {
    /// The catalogs the second plan was made from, when they could be loaded.
    checked: Option<&'a CheckedCatalog>,
    /// The plans' `catalog_root` as the working directory sees it.
    root: String,
}

impl<'a> Places<'a> {
    /// Places under `root` (as the working directory sees it), with lines from
    /// `checked` when given.
    pub fn new(checked: Option<&'a CheckedCatalog>, root: String) -> Self {
        Places { checked, root }
    }

    /// Where `place` is, if it is anywhere.
    pub fn locate(&self, place: &Place) -> Option<Location> {
        let file = match place {
            Place::None => return None,
            Place::Module { file, .. }
            | Place::Step { file, .. }
            | Place::Rule { file, .. }
            | Place::File { file } => file,
        };
        let spanned = self.checked.and_then(|c| {
            let span = self.span(c, place)?;
            let source = c.sources.get(span.file);
            Some(Location {
                file: source.name.clone(),
                line: Some(source.line_col(span.start).0),
            })
        });
        spanned.or_else(|| {
            Some(Location {
                file: super::root::join(&self.root, file),
                line: None,
            })
        })
    }

    fn span(&self, checked: &CheckedCatalog, place: &Place) -> Option<Span> {
        let registry = &checked.registry;
        let module = |name: &str| registry.modules.iter().find(|m| m.name.value == name);
        let action =
            |m: &str, a: &str| module(m).and_then(|m| m.actions.iter().find(|x| x.name.value == a));
        match place {
            Place::None | Place::File { .. } => None,
            Place::Module {
                module: name, key, ..
            } => {
                let m = module(name)?;
                // The module's own keys: its entry up to the next anchor that is
                // not one of its actions.
                let own = key.and_then(|key| {
                    let end = anchors(checked, m.head, |s| {
                        !m.actions.iter().any(|a| a.name.span == s)
                    });
                    let skip: Vec<(usize, usize)> = m
                        .actions
                        .iter()
                        .map(|a| {
                            let s = a.name.span;
                            (s.start as usize, anchors(checked, s, |_| true))
                        })
                        .collect();
                    find_key(checked, m.head, end, key, &skip)
                });
                Some(own.unwrap_or(m.name.span))
            }
            Place::Step {
                workflow,
                module: m,
                action: a,
                key,
                ..
            } => {
                let step = workflow.as_ref().and_then(|(w, id)| {
                    registry
                        .workflows
                        .iter()
                        .find(|x| x.name.value == *w)
                        .and_then(|w| w.steps.iter().find(|s| s.id.value == *id))
                        .map(|s| s.id.span)
                });
                let at = step.or_else(|| action(m, a).map(|x| x.name.span))?;
                let own = key.and_then(|key| {
                    let end = anchors(checked, at, |_| true);
                    find_key(checked, at, end, key, &[])
                });
                Some(own.unwrap_or(at))
            }
            Place::Rule {
                rule,
                module: m,
                action: a,
                ..
            } => {
                let spec = action(m, a)?;
                rule.spans(registry.policy(), spec)
                    .first()
                    .copied()
                    .or(Some(spec.name.span))
            }
        }
    }
}

/// The start of the next entry after `span` in its file (a module, an action, a
/// workflow or a step that `keep` accepts), or the file's end.
fn anchors(checked: &CheckedCatalog, span: Span, keep: impl Fn(Span) -> bool) -> usize {
    let registry = &checked.registry;
    let modules = registry
        .modules
        .iter()
        .flat_map(|m| std::iter::once(m.head).chain(m.actions.iter().map(|a| a.name.span)));
    let workflows = registry
        .workflows
        .iter()
        .flat_map(|w| std::iter::once(w.name.span).chain(w.steps.iter().map(|s| s.id.span)));
    modules
        .chain(workflows)
        .filter(|s| s.file == span.file && s.start > span.start && keep(*s))
        .map(|s| s.start as usize)
        .min()
        .unwrap_or_else(|| checked.sources.get(span.file).text.len())
}

/// The first `key:` (or `"key":`) in the file of `from`, between its start and
/// `end`, outside the `skip` ranges.
fn find_key(
    checked: &CheckedCatalog,
    from: Span,
    end: usize,
    key: &str,
    skip: &[(usize, usize)],
) -> Option<Span> {
    let text = &checked.sources.get(from.file).text;
    let region = text.get(from.start as usize..end)?;
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    region.match_indices(key).find_map(|(i, _)| {
        let at = from.start as usize + i;
        let before = region[..i].chars().next_back();
        let after = region[i + key.len()..]
            .trim_start_matches(['"', '\''])
            .trim_start();
        let keyed = !before.is_some_and(ident) && after.starts_with(':');
        let skipped = skip.iter().any(|&(s, e)| s <= at && at < e);
        (keyed && !skipped).then(|| Span::new(from.file, at, at + key.len()))
    })
}
