//! Workflow planning: a catalog workflow as action steps in waves.
//!
//! Input is a checked registry, its module graph, the operator's [`Request`] (the
//! instant and break-glass flags) and a [`WorkflowRequest`] (the workflow's name and
//! its run inputs, already typed and checked against the workflow's inputs schema);
//! output is a [`Plan`] whose `actions` are the workflow's steps in wave order
//! (within a wave, declaration order), each with its [`StepPlace`]. Like the rest
//! of `plan`, nothing here prints, reads files or looks at the clock.
//!
//! Rules:
//! - A step's wave is 1 + the latest wave of the steps it needs (1 with no needs).
//!   Waves are computed in one pass over steps and needs (Kahn's order), so a
//!   workflow of thousands of steps plans in time linear in steps plus needs.
//! - Modules: the providers of every step and compensation action, plus what they
//!   require (as for `--target`); they start before the first step and shut down
//!   in reverse after the last.
//! - Parameters: `{"$from": "inputs.NAME[.F...]"}` is replaced by the run input
//!   (an optional input the run does not give leaves the key out, so the action's
//!   own schema decides whether the parameter was needed);
//!   `{"$from": "steps.ID..."}` stays a [`Reference`] (params hold `null` there),
//!   filled at run time. Literal parameters are checked against the action's
//!   input_schema now, except at reference positions.
//! - Policy: every step and every compensation gets its own decision, with the
//!   same rules as `--action`; step `timeout_ms` / `retries` win over the action's,
//!   a policy override wins over both.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::document::{Reference, When, WhenTest};
use super::{startup_cost, Acknowledgment, ActionStep, Plan, PlanError, Request};
use crate::diagnostic::{did_you_mean, Code, Diagnostic, Label};
use crate::graph::DependencyGraph;
use crate::params::{validate_with, Compiled, Subject};
use crate::policy::{self, PolicyInput, Resolved, ResolvedSettings, SettingSource};
use crate::registry::{Action, ExecSettings, Registry, Workflow};
use crate::source::Span;
use crate::yaml::{Node, Value};

/// The `node` values that name this machine (as `rune run --node` takes them).
const LOCAL_NODES: [&str; 2] = ["localhost", "local"];

/// The workflow the operator asked to plan.
#[derive(Debug, Clone)]
pub struct WorkflowRequest {
    /// `--workflow`.
    pub name: String,
    /// The run inputs, typed and checked against the workflow's inputs schema.
    pub inputs: Map<String, Json>,
}

/// The workflow part of a [`Plan`].
#[derive(Debug, Clone)]
pub struct WorkflowPlan {
    /// Index of the workflow in `registry.workflows`.
    pub workflow: usize,
    /// The run inputs.
    pub inputs: Map<String, Json>,
    /// Step indices (into the workflow's `steps`) by wave; each wave in
    /// declaration order.
    pub waves: Vec<Vec<usize>>,
}

/// Where a planned action step sits in its workflow.
#[derive(Debug, Clone)]
pub struct StepPlace {
    /// Index of the step in the workflow's `steps`.
    pub step: usize,
    /// 1-based wave.
    pub wave: u64,
    /// The value condition, if any.
    pub when: Option<When>,
    /// The compensation, planned like a step (its `place` is `None`).
    pub compensate: Option<Box<ActionStep>>,
    /// The node it runs on, when that is another machine and known now.
    pub node: Option<String>,
    /// The reference the node is read from (`node: { $from: ... }`), if any.
    pub node_from: Option<String>,
    /// The nodes it fans out over (`nodes:`), resolved against the inventory.
    pub fanout: Option<FanOutPlace>,
}

/// A step that runs once on each node a selector names.
#[derive(Debug, Clone)]
pub struct FanOutPlace {
    /// The selector (as written, or as the run input gave it).
    pub selector: String,
    /// The run input it was read from (`nodes: { $from: inputs.NAME }`), if any.
    pub selector_from: Option<String>,
    /// At most this many nodes at once.
    pub forks: u64,
    /// The nodes it names, sorted by name (never empty).
    pub nodes: Vec<String>,
}

/// How many nodes of a fan-out step run at once when neither the step nor its
/// workflow says (as `rune run --forks`).
pub(crate) const DEFAULT_FORKS: u64 = 10;

/// The nodes step `step` fans out over, or the diagnostic of a selector that
/// cannot be resolved (an input the run does not give or that is not a string,
/// a group, node or label the inventory does not have, or no node at all).
fn resolve_fanout(
    spec: &Workflow,
    step: &crate::registry::Step,
    inputs: &Map<String, Json>,
) -> Option<Result<FanOutPlace, Diagnostic>> {
    let forks = step.forks.or(spec.forks).unwrap_or(DEFAULT_FORKS).max(1);
    let subject = |selector: &str| {
        format!(
            "workflow `{}` step `{}` fans out over nodes {}",
            spec.name.value,
            step.id.value,
            crate::schema::quote(selector)
        )
    };
    let (selector, span, from) = match (&step.nodes, &step.nodes_from) {
        (Some(written), _) => (written.value.clone(), written.span, None),
        (None, Some(from)) => {
            let rest = from.value.strip_prefix("inputs.").unwrap_or(&from.value);
            match input_value(inputs, rest) {
                Some(Json::String(selector)) => (selector.clone(), from.span, Some(&from.value)),
                found => {
                    let why = match found {
                        None => "the run inputs do not give it".to_string(),
                        Some(value) => format!(
                            "it is {}, not a node selector",
                            crate::schema::Found::Json(value).describe()
                        ),
                    };
                    return Some(Err(Diagnostic::new(
                        Code::InvalidWorkflowInput,
                        format!(
                            "workflow `{}` step `{}` fans out over the nodes `{}` names, and {why}",
                            spec.name.value, step.id.value, from.value
                        ),
                    )
                    .with_label(from.span, "the selector is read here")
                    .with_help(format!(
                        "give it: `--input {}=SELECTOR` (`all`, a group, a node, or `label=value`)",
                        rest.split('.').next().unwrap_or_default()
                    ))));
                }
            }
        }
        (None, None) => return None,
    };
    let label = if from.is_some() {
        "the selector is read here"
    } else {
        "this selector"
    };
    let via = from
        .map(|f| format!(" (read from `{f}`)"))
        .unwrap_or_default();
    let subject = format!("{}{via}", subject(&selector));
    let nodes = match crate::exec::remote::select(&selector, &subject) {
        Ok(nodes) => nodes,
        Err(d) => return Some(Err(d.with_label(span, label))),
    };
    if nodes.is_empty() {
        return Some(Err(Diagnostic::new(
            Code::UnknownNode,
            format!("{subject}: it names no node"),
        )
        .with_label(span, label)
        .with_help("a fan-out needs at least one node: `rune list-nodes --inventory FILE --nodes SELECTOR` shows what a selector names")));
    }
    Some(Ok(FanOutPlace {
        selector,
        selector_from: from.cloned(),
        forks,
        nodes,
    }))
}

/// The workflow with this name, or an `unknown_workflow` diagnostic with a
/// suggestion.
pub(crate) fn find_workflow(
    registry: &Registry,
    name: &str,
    flag: &str,
) -> Result<usize, Diagnostic> {
    registry
        .workflows
        .iter()
        .position(|w| w.name.value == name)
        .ok_or_else(|| {
            let d = Diagnostic::new(
                Code::UnknownWorkflow,
                format!(
                    "{flag} names `{}`, which no catalog declares",
                    crate::escape::untrusted(name)
                ),
            );
            let mut names: Vec<&str> = registry
                .workflows
                .iter()
                .map(|w| w.name.value.as_str())
                .collect();
            names.sort_unstable();
            match did_you_mean(name, names.iter().copied()) {
                Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                None if names.is_empty() => {
                    d.with_help("the catalogs declare no workflows (top-level `workflows` key)")
                }
                None => d.with_help(format!(
                    "the catalogs declare {}",
                    names
                        .iter()
                        .map(|n| format!("`{}`", crate::escape::untrusted(n)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        })
}

/// The waves of a workflow's steps: for each step (declaration order) its 1-based
/// wave, or the diagnostics of needs that name no step or form a cycle (the check
/// stage reports both first; a plan is never made of such a workflow).
pub(crate) fn step_waves(workflow: &Workflow) -> Result<Vec<u64>, Vec<Diagnostic>> {
    let n = workflow.steps.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, step) in workflow.steps.iter().enumerate() {
        index.entry(step.id.value.as_str()).or_insert(i);
    }
    let mut problems = Vec::new();
    // dependents[j] = steps that need j; pending[i] = needs of i not yet placed.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pending = vec![0usize; n];
    for (i, step) in workflow.steps.iter().enumerate() {
        for need in &step.needs {
            match index.get(need.value.as_str()) {
                Some(&j) => {
                    dependents[j].push(i);
                    pending[i] += 1;
                }
                None => problems.push(
                    Diagnostic::new(
                        Code::InvalidStepReference,
                        format!(
                            "step `{}` needs `{}`, which is not a step of workflow `{}`",
                            step.id.value, need.value, workflow.name.value
                        ),
                    )
                    .with_label(need.span, "no such step"),
                ),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut wave = vec![1u64; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    let mut placed = 0;
    while let Some(j) = ready.pop() {
        placed += 1;
        for &i in &dependents[j] {
            wave[i] = wave[i].max(wave[j] + 1);
            pending[i] -= 1;
            if pending[i] == 0 {
                ready.push(i);
            }
        }
    }
    if placed < n {
        let stuck: Vec<&str> = (0..n)
            .filter(|&i| pending[i] > 0)
            .map(|i| workflow.steps[i].id.value.as_str())
            .collect();
        return Err(vec![Diagnostic::new(
            Code::WorkflowCycle,
            format!(
                "cannot order workflow `{}`: steps {} are on or behind a cycle of needs",
                workflow.name.value,
                stuck.join(", ")
            ),
        )
        .with_label(workflow.name.span, "this workflow")
        .with_help("run `rune validate` to see the cycle")]);
    }
    Ok(wave)
}

/// Step indices grouped by wave, each wave in declaration order.
pub(crate) fn group_waves(waves: &[u64]) -> Vec<Vec<usize>> {
    let count = waves.iter().copied().max().unwrap_or(0) as usize;
    let mut grouped = vec![Vec::new(); count];
    for (i, &w) in waves.iter().enumerate() {
        grouped[w as usize - 1].push(i);
    }
    grouped
}

/// An RFC 6901 pointer from path segments.
fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// The value of run input reference `inputs.NAME[.F...]`, if the inputs hold it.
fn input_value<'a>(inputs: &'a Map<String, Json>, rest: &str) -> Option<&'a Json> {
    let mut parts = rest.split('.');
    let mut value = inputs.get(parts.next()?)?;
    for part in parts {
        value = match value {
            Json::Object(map) => map.get(part)?,
            Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Walk a parameters tree: substitute run inputs, keep step references (with
/// `null` in their place), copy literals. `None`: an input the run does not give
/// (an optional one), so the key holding it is left out, as if the step did not
/// name it; in a list there is no key to leave out, and that is an error.
fn fill(
    node: &Node,
    path: &mut Vec<String>,
    inputs: &Map<String, Json>,
    refs: &mut Vec<Reference>,
    missing: &mut Vec<(Span, String)>,
) -> Option<Json> {
    match &node.value {
        Value::Map(entries) => {
            if let [only] = entries.as_slice() {
                if only.key.value == "$from" {
                    if let Some(from) = only.value.as_str() {
                        if let Some(rest) = from.strip_prefix("inputs.") {
                            return input_value(inputs, rest).cloned();
                        }
                        refs.push(Reference {
                            pointer: pointer(path),
                            from: from.to_string(),
                        });
                        return Some(Json::Null);
                    }
                }
            }
            let mut map = Map::new();
            for e in entries {
                path.push(e.key.value.to_string());
                if let Some(value) = fill(&e.value, path, inputs, refs, missing) {
                    map.insert(e.key.value.to_string(), value);
                }
                path.pop();
            }
            Some(Json::Object(map))
        }
        Value::Seq(items) => Some(Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(i.to_string());
                    let v = fill(item, path, inputs, refs, missing).unwrap_or_else(|| {
                        let from = item.get("$from").and_then(Node::as_str).unwrap_or_default();
                        missing.push((item.span, from.to_string()));
                        Json::Null
                    });
                    path.pop();
                    v
                })
                .collect(),
        )),
        _ => Some(node.to_json()),
    }
}

/// The `when` of a step, as the plan records it.
fn when_of(node: &Node) -> Option<When> {
    let from = node.get("from")?.as_str()?.to_string();
    let (test, value) = match (node.get("equals"), node.get("not_equals")) {
        (Some(v), _) => (WhenTest::Equals, v.to_json()),
        (None, Some(v)) => (WhenTest::NotEquals, v.to_json()),
        (None, None) => return None,
    };
    Some(When { from, test, value })
}

/// The action's settings with a step's own overrides: a policy override still wins.
fn settings_with(
    policy: Option<&crate::registry::Policy>,
    action: &Action,
    step: &ExecSettings,
) -> ResolvedSettings {
    let mut settings = policy::resolve_settings(policy, action);
    if settings.timeout_ms.source != SettingSource::PolicyOverride {
        if let Some(ms) = step.timeout_ms {
            settings.timeout_ms = Resolved {
                value: ms,
                source: SettingSource::Step,
            };
        }
    }
    if settings.retries.source != SettingSource::PolicyOverride {
        if let Some(retries) = &step.retries {
            settings.retries = Resolved {
                value: retries.clone(),
                source: SettingSource::Step,
            };
        }
    }
    settings
}

/// Everything one step or compensation needs planned.
struct Ask<'a> {
    /// `step `id`` or `compensation of step `id``, for messages.
    what: String,
    action: &'a crate::source::Spanned<String>,
    params: Option<&'a Node>,
    settings: &'a ExecSettings,
    /// Where to label problems with the parameters.
    span: Span,
}

/// Each action's input_schema, compiled once for every step that runs it.
type Schemas = HashMap<(usize, usize), Compiled>;

/// Plan one step or compensation as an action step.
#[allow(clippy::too_many_arguments)] // one call site each for steps and compensations
fn plan_action(
    registry: &Registry,
    actions: &HashMap<&str, (usize, usize)>,
    schemas: &mut Schemas,
    workflow: &Workflow,
    ask: Ask<'_>,
    request: &Request,
    inputs: &Map<String, Json>,
    problems: &mut Vec<Diagnostic>,
) -> Option<ActionStep> {
    let Some(&(m, a)) = actions.get(ask.action.value.as_str()) else {
        problems.push(
            Diagnostic::new(
                Code::UnknownWorkflowAction,
                format!(
                    "workflow `{}` {}: no module provides action `{}`",
                    workflow.name.value, ask.what, ask.action.value
                ),
            )
            .with_label(ask.action.span, "no such action")
            .with_help("run `rune list-actions` to see every action"),
        );
        return None;
    };
    let spec = &registry.modules[m].actions[a];
    let mut references = Vec::new();
    let mut missing = Vec::new();
    let params = match ask.params {
        Some(node) => match fill(node, &mut Vec::new(), inputs, &mut references, &mut missing) {
            Some(Json::Object(map)) => map,
            // The schema stage requires a mapping; anything else plans as none.
            _ => Map::new(),
        },
        None => Map::new(),
    };
    for (span, from) in missing {
        problems.push(
            Diagnostic::new(
                Code::InvalidWorkflowInput,
                format!(
                    "workflow `{}` {} reads `{from}` in a list, and the run inputs do not give it",
                    workflow.name.value, ask.what
                ),
            )
            .with_label(span, "read here")
            .with_help(format!(
                "give it: `--input {}=VALUE` (or in --inputs-file), or make it required in the workflow's inputs schema so a run cannot leave it out",
                from.trim_start_matches("inputs.").split('.').next().unwrap_or_default()
            )),
        );
    }
    references.sort();
    if let Some(schema) = &spec.input_schema {
        let skip: Vec<String> = references.iter().map(|r| r.pointer.clone()).collect();
        let compiled = schemas
            .entry((m, a))
            .or_insert_with(|| Compiled::new(schema));
        for mut d in validate_with(
            compiled,
            &params,
            schema,
            &Subject::action(&spec.name.value),
            ask.params,
            &skip,
        ) {
            d.message = format!(
                "workflow `{}` {}: {}",
                workflow.name.value, ask.what, d.message
            );
            // The value as the step writes it (most often a reference to a run
            // input: `rune validate` checked the literals), else the parameters.
            let mut at_value = false;
            for label in &mut d.labels {
                if label.message == "this value, in the parameters file" {
                    label.message = "this value, with the run inputs filled in".to_string();
                    at_value = true;
                }
            }
            if !at_value {
                d.labels.insert(
                    0,
                    Label {
                        span: ask.span,
                        message: "the parameters planned".to_string(),
                    },
                );
            }
            problems.push(d);
        }
    }
    let policy = registry.policy();
    let input = PolicyInput {
        at: request.at,
        acks: &request.acks,
        reason: request.reason.as_deref(),
    };
    let acknowledgment = request
        .acks
        .contains(&spec.name.value)
        .then(|| Acknowledgment {
            action: spec.name.value.clone(),
            reason: request.reason.clone(),
        });
    Some(ActionStep {
        module: m,
        action: a,
        params,
        settings: settings_with(policy, spec, ask.settings),
        decision: policy::decide(policy, spec, &input),
        acknowledgment,
        references,
        place: None,
    })
}

/// Compute the plan of `workflow` for `request` (whose targets, action and params
/// are ignored: a workflow plan selects its modules from its steps).
pub fn plan_workflow(
    registry: &Registry,
    graph: &DependencyGraph,
    request: Request,
    workflow: WorkflowRequest,
) -> Result<Plan, PlanError> {
    let w = find_workflow(registry, &workflow.name, "--workflow")
        .map_err(|d| PlanError::Usage(vec![d]))?;
    let spec = &registry.workflows[w];
    // First declaration wins, as `find_action` finds it.
    let mut actions: HashMap<&str, (usize, usize)> = HashMap::new();
    for (m, module) in registry.modules.iter().enumerate() {
        for (a, action) in module.actions.iter().enumerate() {
            actions.entry(action.name.value.as_str()).or_insert((m, a));
        }
    }
    let used: std::collections::BTreeSet<&str> = spec
        .steps
        .iter()
        .flat_map(|s| {
            std::iter::once(s.action.value.as_str())
                .chain(s.compensate.as_ref().map(|c| c.action.value.as_str()))
        })
        .collect();
    let mut usage = Vec::new();
    for ack in &request.acks {
        if !used.contains(ack.as_str()) {
            let d = Diagnostic::new(
                Code::UnknownAction,
                format!(
                    "--ack `{}` names no action of workflow `{}`",
                    crate::escape::untrusted(ack),
                    spec.name.value
                ),
            );
            usage.push(match did_you_mean(ack, used.iter().copied()) {
                Some(hint) => d.with_help(format!("did you mean `--ack {hint}`?")),
                None => d.with_help(format!(
                    "--ack acknowledges an action the workflow runs: {}",
                    used.iter().copied().collect::<Vec<_>>().join(", ")
                )),
            });
        }
    }
    if !usage.is_empty() {
        return Err(PlanError::Usage(usage));
    }
    let waves = step_waves(spec).map_err(PlanError::Invalid)?;
    let grouped = group_waves(&waves);

    let mut problems = Vec::new();
    // A step on another node runs there over OpenSSH: the node must be one the
    // inventory (`--inventory`) names, or this machine. A node read from a run
    // input is known now and checked like a name; one read from a step's output
    // or parameters is checked when the step starts.
    let mut nodes: Vec<Option<String>> = Vec::with_capacity(spec.steps.len());
    for step in &spec.steps {
        let (node, span, from) = match (&step.node, &step.node_from) {
            (Some(node), _) => (node.clone(), step.id.span, None),
            (None, Some(from)) => {
                let Some(rest) = from.value.strip_prefix("inputs.") else {
                    nodes.push(None);
                    continue;
                };
                match input_value(&workflow.inputs, rest) {
                    Some(Json::String(node)) => (node.clone(), from.span, Some(&from.value)),
                    found => {
                        let (what, help) = match found {
                            None => (
                                "the run inputs do not give it".to_string(),
                                format!(
                                    "give it: `--input {}=NODE` (or in --inputs-file), or make it required in the workflow's inputs schema",
                                    rest.split('.').next().unwrap_or_default()
                                ),
                            ),
                            Some(value) => (
                                format!(
                                    "it is {}, not a node name",
                                    crate::schema::Found::Json(value).describe()
                                ),
                                "a node reference must read a string: the name of a node of the inventory".to_string(),
                            ),
                        };
                        problems.push(
                            Diagnostic::new(
                                Code::InvalidWorkflowInput,
                                format!(
                                    "workflow `{}` step `{}` runs on the node `{}` names, and {what}",
                                    spec.name.value, step.id.value, from.value
                                ),
                            )
                            .with_label(from.span, "the node is read here")
                            .with_help(help),
                        );
                        nodes.push(None);
                        continue;
                    }
                }
            }
            (None, None) => {
                nodes.push(None);
                continue;
            }
        };
        if LOCAL_NODES.contains(&node.as_str()) {
            nodes.push(None);
            continue;
        }
        if let Err(unknown) = crate::exec::remote::check_node(&node) {
            let via = from
                .map(|f| format!(" (read from `{f}`)"))
                .unwrap_or_default();
            let mut d = Diagnostic::new(
                Code::UnknownNode,
                format!(
                    "workflow `{}` step `{}` runs on node {}{via}: {}",
                    spec.name.value,
                    step.id.value,
                    crate::schema::quote(&node),
                    unknown.message
                ),
            )
            .with_label(
                span,
                if from.is_some() {
                    "the node is read here"
                } else {
                    "this step"
                },
            );
            if let Some(help) = unknown.help {
                d = d.with_help(help);
            }
            problems.push(d);
        }
        nodes.push(Some(node));
    }
    // A fan-out's nodes are known now: its selector (written, or a run input)
    // is resolved against the inventory, so the plan shows and records them.
    let mut fanouts: Vec<Option<FanOutPlace>> = Vec::with_capacity(spec.steps.len());
    for step in &spec.steps {
        fanouts.push(match resolve_fanout(spec, step, &workflow.inputs) {
            Some(Ok(fanout)) => Some(fanout),
            Some(Err(d)) => {
                problems.push(d);
                None
            }
            None => None,
        });
    }
    let mut schemas = Schemas::new();
    let mut planned: Vec<Option<ActionStep>> = Vec::with_capacity(spec.steps.len());
    for (i, step) in spec.steps.iter().enumerate() {
        let id = &step.id.value;
        let main = plan_action(
            registry,
            &actions,
            &mut schemas,
            spec,
            Ask {
                what: format!("step `{id}`"),
                action: &step.action,
                params: step.params.as_ref(),
                settings: &step.settings,
                span: step.params.as_ref().map_or(step.id.span, |p| p.span),
            },
            &request,
            &workflow.inputs,
            &mut problems,
        );
        let compensate = step.compensate.as_ref().and_then(|c| {
            plan_action(
                registry,
                &actions,
                &mut schemas,
                spec,
                Ask {
                    what: format!("compensation of step `{id}`"),
                    action: &c.action,
                    params: c.params.as_ref(),
                    settings: &c.settings,
                    span: c.params.as_ref().map_or(c.span, |p| p.span),
                },
                &request,
                &workflow.inputs,
                &mut problems,
            )
        });
        planned.push(main.map(|mut main| {
            main.place = Some(StepPlace {
                step: i,
                wave: waves[i],
                when: step.when.as_ref().and_then(when_of),
                compensate: compensate.map(Box::new),
                node: nodes[i].clone(),
                node_from: step.node_from.as_ref().map(|f| f.value.clone()),
                fanout: fanouts[i].take(),
            });
            main
        }));
    }
    if !problems.is_empty() {
        return Err(PlanError::Invalid(problems));
    }

    let mut roots: Vec<usize> = planned
        .iter()
        .flatten()
        .flat_map(|s| {
            std::iter::once(s.module).chain(
                s.place
                    .as_ref()
                    .and_then(|p| p.compensate.as_ref())
                    .map(|c| c.module),
            )
        })
        .collect();
    roots.sort_unstable();
    roots.dedup();
    let selected = graph.required_closure(registry, &roots);
    let startup = graph
        .startup_waves(registry, Some(&selected))
        .map_err(|cycle| {
            let names: Vec<&str> = cycle
                .modules
                .iter()
                .map(|&m| registry.modules[m].name.value.as_str())
                .collect();
            PlanError::Invalid(vec![Diagnostic::new(
                Code::DependencyCycle,
                format!(
                    "cannot order startup: {} on or behind a dependency cycle",
                    names.join(", ")
                ),
            )
            .with_help("run `rune validate` to see the cycle")])
        })?;
    let critical_path = graph.critical_path(registry, &startup, startup_cost);
    let mut planned: Vec<Option<ActionStep>> = planned;
    let actions: Vec<ActionStep> = grouped
        .iter()
        .flatten()
        .filter_map(|&i| planned[i].take())
        .collect();
    Ok(Plan {
        request,
        targets: Vec::new(),
        startup,
        critical_path,
        actions,
        workflow: Some(WorkflowPlan {
            workflow: w,
            inputs: workflow.inputs,
            waves: grouped,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_tilde_and_slash() {
        let path = ["a/b".to_string(), "c~d".to_string(), "0".to_string()];
        assert_eq!(pointer(&path), "/a~1b/c~0d/0");
        assert_eq!(pointer(&[]), "");
    }

    #[test]
    fn input_references_reach_into_objects_and_lists() {
        let inputs: Map<String, Json> =
            serde_json::from_str(r#"{"node": {"name": "w1", "tags": ["a", "b"]}, "n": 3}"#)
                .unwrap();
        assert_eq!(input_value(&inputs, "n"), Some(&Json::from(3)));
        assert_eq!(input_value(&inputs, "node.name"), Some(&Json::from("w1")));
        assert_eq!(input_value(&inputs, "node.tags.1"), Some(&Json::from("b")));
        assert_eq!(input_value(&inputs, "node.tags.9"), None);
        assert_eq!(input_value(&inputs, "n.x"), None);
        assert_eq!(input_value(&inputs, "missing"), None);
    }

    #[test]
    fn waves_group_in_declaration_order() {
        assert_eq!(
            group_waves(&[2, 1, 3, 1, 2]),
            vec![vec![1, 3], vec![0, 4], vec![2]]
        );
        assert!(group_waves(&[]).is_empty());
    }
}
