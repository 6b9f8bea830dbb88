//! Workflows: unique names and step ids, actions (of steps and compensations) that
//! exist, `needs` without cycles, a valid `inputs` schema, references that resolve
//! to an upstream step (or, in a compensation, to the step it undoes) and whose
//! declared type fits the parameter they fill, literal parameters that match, and
//! required parameters that something gives.
//!
//! Cost: every check is linear in the workflow (steps, needs, references, params)
//! times the depth of the schemas walked; input schemas are compiled at most once
//! per action, and "is the step read upstream?" is answered for all references at
//! once by [`transitively_needs`].

use std::collections::HashMap;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;

use super::reference::{self, Source};
use super::schemas::{embedded_schema, validate_data_except};
use super::step_types::{self, Walk};
use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::{Action, Registry, Step, StepIf, Workflow};
use crate::schema::{display_path, quote, Found};
use crate::source::{Span, Spanned};
use crate::yaml::Node;

/// Unique workflow names, then each workflow on its own.
pub(super) fn check_workflows(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut actions: HashMap<&str, &Action> = HashMap::new();
    for (_, action) in registry.actions() {
        actions.entry(&action.name.value).or_insert(action);
    }
    // Built on the first unknown action: a valid catalog never needs the index.
    let action_names = std::cell::LazyCell::new(|| Suggester::new(actions.keys().copied()));
    // Input schemas compiled once per action, only for actions steps give literal
    // parameters to; `None` when the schema does not compile (reported elsewhere).
    let mut validators: HashMap<&str, Option<Validator>> = HashMap::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for workflow in &registry.workflows {
        if let Some(first) = seen.get(workflow.name.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::DuplicateWorkflow,
                    format!("workflow `{}` is declared twice", workflow.name.value),
                )
                .with_label(workflow.name.span, "declared again here")
                .with_label(*first, "first declared here")
                .with_help("workflows are run by name, so names are unique across catalog files; rename one"),
            );
        } else {
            seen.insert(&workflow.name.value, workflow.name.span);
        }
        check_workflow(workflow, &actions, &action_names, &mut validators, out);
    }
}

/// A reference to a step that must run before the reader: checked for all reads
/// of a workflow at once once every step has been seen.
struct Read {
    /// The step whose params (or compensation) hold the reference.
    step: usize,
    /// The step read.
    target: usize,
    /// The reference.
    span: Span,
    /// `steps.ID.params.NAME` rather than `steps.ID.output`.
    params: bool,
    /// The reference sits in the step's `compensate`.
    compensation: bool,
}

/// What a reference produces, as far as a schema states it.
struct Produced<'a> {
    /// The types the producing schema states.
    types: Vec<&'a str>,
    /// The `type` that states them.
    node: &'a Node,
    /// Which schema: "the output_schema of `disk-usage`".
    what: String,
    /// The value read, as the schema names it: the last field, input or parameter.
    name: String,
}

/// What the reference checks of one workflow share.
struct Context<'a, 'c> {
    workflow: &'a Workflow,
    actions: &'c HashMap<&'a str, &'a Action>,
    index: &'c HashMap<&'a str, usize>,
    cyclic: &'c [bool],
    unknown_step: &'c dyn Fn(&Spanned<String>, &str) -> Diagnostic,
}

/// Who holds a reference or parameters, in messages.
fn holder(workflow: &Workflow, step: &Step, compensation: bool) -> String {
    if compensation {
        format!(
            "the compensation of step `{}` in workflow `{}`",
            step.id.value, workflow.name.value
        )
    } else {
        format!(
            "step `{}` in workflow `{}`",
            step.id.value, workflow.name.value
        )
    }
}

/// The checks of one workflow: step ids, actions, `needs` (existence and cycles),
/// the inputs schema, references and parameters of steps and compensations.
fn check_workflow<'a>(
    workflow: &'a Workflow,
    actions: &HashMap<&'a str, &'a Action>,
    action_names: &Suggester<'_>,
    validators: &mut HashMap<&'a str, Option<Validator>>,
    out: &mut Vec<Diagnostic>,
) {
    // Step index by id: the first declaration wins (a second one is reported).
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(workflow.steps.len());
    for (i, step) in workflow.steps.iter().enumerate() {
        if let Some(&first) = index.get(step.id.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::DuplicateStep,
                    format!(
                        "step `{}` appears twice in workflow `{}`",
                        step.id.value, workflow.name.value
                    ),
                )
                .with_label(step.id.span, "declared again here")
                .with_label(workflow.steps[first].id.span, "first declared here"),
            );
        } else {
            index.insert(&step.id.value, i);
        }
        if !actions.contains_key(step.action.value.as_str()) {
            let mut d = Diagnostic::new(
                Code::UnknownWorkflowAction,
                format!(
                    "step {} of workflow {} runs {}, which no module provides",
                    quote(&step.id.value),
                    quote(&workflow.name.value),
                    quote(&step.action.value)
                ),
            )
            .with_label(step.action.span, "unknown action");
            if let Some(hint) = action_names.suggest(&step.action.value, None) {
                d = d.with_help(format!("did you mean `{hint}`?"));
            }
            out.push(d);
        }
        if let Some(compensate) = &step.compensate {
            if !actions.contains_key(compensate.action.value.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnknownCompensationAction,
                    format!(
                        "step {} of workflow {} is undone by {}, which no module provides",
                        quote(&step.id.value),
                        quote(&workflow.name.value),
                        quote(&compensate.action.value)
                    ),
                )
                .with_label(compensate.action.span, "unknown action");
                d = match action_names.suggest(&compensate.action.value, None) {
                    Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                    None => d.with_help("a compensation runs an action like a step does: name one that a module in the catalog provides (`rune list-actions`)"),
                };
                out.push(d);
            }
        }
        check_placement(workflow, step, out);
        let fans_out = step.nodes.is_some() || step.nodes_from.is_some();
        let elsewhere = step
            .node
            .as_deref()
            .is_some_and(|n| !crate::inventory::LOCAL_NAMES.contains(&n))
            || step.node_from.is_some();
        if fans_out || elsewhere {
            let undo = step.compensate.as_ref().map(|c| &c.action);
            for (name, undoes) in
                std::iter::once((&step.action, false)).chain(undo.map(|a| (a, true)))
            {
                let away = match fans_out {
                    true => Away::FanOut { undoes },
                    false => Away::Node,
                };
                if let Some(action) = actions.get(name.value.as_str()) {
                    check_runs_away(workflow, step, action, name, away, out);
                }
            }
        }
        // Some needed step must fail for `if: failure` to hold; with none needed,
        // nothing can. (The registry keeps no span for `if`: the id stands in.)
        if step.condition == StepIf::Failure && step.needs.is_empty() {
            out.push(
                Diagnostic::new(
                    Code::StepNeverRuns,
                    format!(
                        "step `{}` of workflow `{}` runs only when a step it needs fails, but it needs no step: it never runs",
                        step.id.value, workflow.name.value
                    ),
                )
                .with_label(step.id.span, "`if: failure` without `needs`")
                .with_help("list the steps whose failure it handles under `needs`, or drop `if: failure` (use `if: always` for a step that runs whatever happens)"),
            );
        }
    }
    // Built only when a name needs a suggestion: most workflows have none.
    let step_names = std::cell::OnceCell::new();
    let unknown_step = |name: &Spanned<String>, how: &str| {
        let mut d = Diagnostic::new(
            Code::InvalidStepReference,
            format!(
                "{how} {}, which is not a step of workflow {}",
                quote(&name.value),
                quote(&workflow.name.value)
            ),
        )
        .with_label(name.span, "unknown step");
        let names = step_names.get_or_init(|| Suggester::new(index.keys().copied()));
        if let Some(hint) = names.suggest(&name.value, None) {
            d = d.with_help(format!("did you mean `{hint}`?"));
        }
        d
    };
    // `needs` edges as step indices (to the first declaration of the id needed).
    let mut needs: Vec<Vec<(usize, Span)>> = vec![Vec::new(); workflow.steps.len()];
    for (i, step) in workflow.steps.iter().enumerate() {
        for need in &step.needs {
            match index.get(need.value.as_str()) {
                Some(&n) => needs[i].push((n, need.span)),
                None => out.push(unknown_step(
                    need,
                    &format!("step `{}` needs", step.id.value),
                )),
            }
        }
    }
    let cyclic = step_cycles(workflow, &index, &needs, out);

    if let Some(inputs) = &workflow.inputs {
        let mut found = Vec::new();
        embedded_schema(
            inputs,
            "inputs schema",
            &workflow.name.value,
            false,
            &mut found,
        );
        // The embedded-schema check names its owner bare; here the owner is a workflow.
        let (bare, named) = (
            format!("the inputs schema of `{}`", workflow.name.value),
            format!("the inputs schema of workflow `{}`", workflow.name.value),
        );
        out.extend(found.into_iter().map(|mut d| {
            d.message = d.message.replacen(&bare, &named, 1);
            d.code = Code::InvalidWorkflowInputs;
            d.severity = Code::InvalidWorkflowInputs.severity();
            d.with_help("a workflow's `inputs` is the JSON Schema (2020-12) of its run inputs, usually `{ type: object, properties: { NAME: { type: ... } } }`")
        }));
    }

    // References: grammar, existence and types now; "does the step need the step
    // it reads?" is answered for all of them at once below.
    let cx = Context {
        workflow,
        actions,
        index: &index,
        cyclic: &cyclic,
        unknown_step: &unknown_step,
    };
    let mut reads: Vec<Read> = Vec::new();
    for (i, step) in workflow.steps.iter().enumerate() {
        let action = actions.get(step.action.value.as_str()).copied();
        let mut refs = Vec::new();
        if let Some(params) = &step.params {
            collect_refs(params, &mut Vec::new(), &mut refs, out);
        }
        for r in &refs {
            let Some(from) = &r.from else { continue };
            let produced = check_reference(&cx, i, false, from, &mut reads, out);
            if let (Some(produced), Some(action)) = (produced, action) {
                check_reference_type(&cx, i, false, from, &produced, action, &r.path, out);
            }
        }
        if let Some(from) = &step.node_from {
            let produced = check_reference(&cx, i, false, from, &mut reads, out);
            if let Some(produced) = produced {
                check_node_type(workflow, step, from, &produced, out);
            }
        }
        if let Some(from) = &step.nodes_from {
            if from.value.starts_with("inputs.") {
                let produced = check_reference(&cx, i, false, from, &mut reads, out);
                if let Some(produced) = produced {
                    check_node_type(workflow, step, from, &produced, out);
                }
            } else {
                out.push(
                    Diagnostic::new(
                        Code::InvalidStepReference,
                        format!(
                            "step `{}` in workflow `{}` reads its node selector from {}, but a selector is read from a run input",
                            step.id.value,
                            workflow.name.value,
                            quote(&from.value)
                        ),
                    )
                    .with_label(from.span, "not a run input")
                    .with_help("the nodes of a fan-out are chosen when the plan is made: `nodes: { $from: inputs.NAME }`, or a selector such as `all`, a group or `label=value`"),
                );
            }
        }
        let when = step.when.as_ref();
        if let Some(from) = when
            .and_then(|w| w.get("from"))
            .and_then(Node::as_spanned_str)
        {
            let produced = check_reference(&cx, i, false, &from, &mut reads, out);
            if let (Some(produced), Some(when)) = (produced, when) {
                check_when_type(workflow, step, when, &from, &produced, out);
            }
        }
        if let Some(action) = action {
            let params = (step.params.as_ref(), step.action.span);
            check_params(
                workflow, step, false, params, &refs, action, validators, out,
            );
        }

        let Some(compensate) = &step.compensate else {
            continue;
        };
        let action = actions.get(compensate.action.value.as_str()).copied();
        let mut refs = Vec::new();
        if let Some(params) = &compensate.params {
            collect_refs(params, &mut Vec::new(), &mut refs, out);
        }
        for r in &refs {
            let Some(from) = &r.from else { continue };
            let produced = check_reference(&cx, i, true, from, &mut reads, out);
            if let (Some(produced), Some(action)) = (produced, action) {
                check_reference_type(&cx, i, true, from, &produced, action, &r.path, out);
            }
        }
        if let Some(action) = action {
            let params = (compensate.params.as_ref(), compensate.action.span);
            check_params(workflow, step, true, params, &refs, action, validators, out);
        }
    }
    let pairs: Vec<(usize, usize)> = reads.iter().map(|r| (r.step, r.target)).collect();
    for (read, needed) in reads.iter().zip(transitively_needs(&needs, &pairs)) {
        if needed != Some(false) {
            continue;
        }
        let (step, id) = (
            &workflow.steps[read.step].id.value,
            &workflow.steps[read.target].id.value,
        );
        let what = if read.params { "params" } else { "output" };
        let d = if read.compensation {
            Diagnostic::new(
                Code::InvalidStepReference,
                format!("the compensation of step `{step}` reads the {what} of `{id}`, which `{step}` does not need"),
            )
            .with_help(format!(
                "a compensation may read the step it undoes and the steps that step needs (they have all run when it runs); `{id}` may not have run"
            ))
        } else {
            Diagnostic::new(
                Code::InvalidStepReference,
                format!("step `{step}` reads the {what} of `{id}` but does not need it"),
            )
            .with_help(format!(
                "add `{id}` to the `needs` of `{step}` so it runs first"
            ))
        };
        out.push(d.with_label(read.span, format!("{what} read here")));
    }
}

/// Check one reference: its grammar, the step or input it names, that a step read
/// runs before the reader (recorded in `reads`), that a parameter read is given
/// and a field read can exist. Returns what the reference produces, when the
/// producing schema states a type.
fn check_reference<'a>(
    cx: &Context<'a, '_>,
    i: usize,
    compensation: bool,
    from: &Spanned<String>,
    reads: &mut Vec<Read>,
    out: &mut Vec<Diagnostic>,
) -> Option<Produced<'a>> {
    let workflow = cx.workflow;
    let mut parsed = match reference::parse(&from.value) {
        Ok(parsed) => parsed,
        Err(help) => {
            // A step id may hold a `.` (the name pattern allows it) but a reference
            // splits on `.`: say so rather than suggest reading a step that does
            // not exist.
            let dotted = from.value.strip_prefix("steps.").and_then(|rest| {
                workflow.steps.iter().find(|s| {
                    s.id.value.contains('.')
                        && rest
                            .strip_prefix(s.id.value.as_str())
                            .is_some_and(|tail| tail.is_empty() || tail.starts_with('.'))
                })
            });
            let help = match dotted {
                Some(step) => format!(
                    "step `{}` has a `.` in its id, and references split on `.`, so it \
                     cannot be read; rename the step (for example `{}`)",
                    step.id.value,
                    step.id.value.replace('.', "-")
                ),
                None => help,
            };
            out.push(
                Diagnostic::new(
                    Code::InvalidStepReference,
                    format!("{} is not a valid reference", quote(&from.value)),
                )
                .with_label(from.span, "invalid reference")
                .with_help(help),
            );
            return None;
        }
    };
    let (root, start, what) = match parsed.source {
        Source::Input(name) => {
            let declared = workflow
                .inputs
                .as_ref()
                .map(|inputs| (inputs, inputs.get("properties").and_then(|p| p.get(name))));
            match declared {
                Some((inputs, Some(start))) => {
                    let what = format!("the inputs schema of workflow `{}`", workflow.name.value);
                    (inputs, start, what)
                }
                other => {
                    let problem = match other {
                        Some(_) => format!(
                            "names input `{name}`, which workflow `{}` does not declare",
                            workflow.name.value
                        ),
                        None => format!(
                            "names input `{name}`, but workflow `{}` declares no inputs",
                            workflow.name.value
                        ),
                    };
                    out.push(
                        Diagnostic::new(
                            Code::InvalidStepReference,
                            format!("{} {problem}", quote(&from.value)),
                        )
                        .with_label(from.span, "unknown input")
                        .with_help(format!(
                            "declare it under the workflow's `inputs.properties`, e.g. `inputs: {{ type: object, properties: {{ {name}: {{ type: string }} }} }}`"
                        )),
                    );
                    return None;
                }
            }
        }
        Source::StepOutput(id) | Source::StepParam(id, _) => {
            let reader = &workflow.steps[i];
            let Some(&target) = cx.index.get(id) else {
                let how = if compensation {
                    format!("the compensation of step `{}` reads", reader.id.value)
                } else {
                    format!("step `{}` reads", reader.id.value)
                };
                out.push((cx.unknown_step)(
                    &Spanned::new(id.to_string(), from.span),
                    &how,
                ));
                return None;
            };
            // A compensation runs after the step it undoes: it may read that step.
            let own_step = compensation && target == i;
            if !own_step && !cx.cyclic[target] {
                reads.push(Read {
                    step: i,
                    target,
                    span: from.span,
                    params: matches!(parsed.source, Source::StepParam(..)),
                    compensation,
                });
            }
            let read = &workflow.steps[target];
            if let Source::StepParam(_, name) = parsed.source {
                let given = read
                    .params
                    .as_ref()
                    .is_some_and(|p| p.entry(name).is_some());
                if !given {
                    out.push(missing_param_read(read, name, from));
                    return None;
                }
            }
            let action = cx.actions.get(read.action.value.as_str())?;
            match parsed.source {
                Source::StepParam(_, name) => {
                    let schema = action.input_schema.as_ref()?;
                    let start = schema.get("properties")?.get(name)?;
                    let what = format!("the input_schema of `{}`", action.name.value);
                    (schema, start, what)
                }
                _ => {
                    // A fan-out step's output is its nodes' outputs by node name
                    // (its compensation, on one node, reads that node's own).
                    if (read.nodes.is_some() || read.nodes_from.is_some()) && !own_step {
                        if parsed.fields.is_empty() {
                            return None;
                        }
                        parsed.fields.remove(0);
                    }
                    let schema = action.output_schema.as_ref()?;
                    let what = format!("the output_schema of `{}`", action.name.value);
                    (schema, schema, what)
                }
            }
        }
    };
    match step_types::walk(root, start, &parsed.fields) {
        Walk::Schema(schema) => {
            let (types, node) = step_types::types_of(schema)?;
            let name = match (parsed.fields.last(), parsed.source) {
                (Some(field), _) => field,
                (None, Source::Input(name) | Source::StepParam(_, name)) => name,
                (None, Source::StepOutput(_)) => "output",
            };
            let name = name.to_string();
            Some(Produced {
                types,
                node,
                what,
                name,
            })
        }
        Walk::Unknown => None,
        Walk::Scalar {
            field,
            names,
            types,
        } => {
            let name = parsed.fields[field];
            let parent = match field {
                0 => match parsed.source {
                    Source::Input(name) | Source::StepParam(_, name) => name,
                    Source::StepOutput(_) => "output",
                },
                _ => parsed.fields[field - 1],
            };
            out.push(
                Diagnostic::new(
                    Code::InvalidStepReference,
                    format!(
                        "{} reads field `{name}` of `{parent}`, but {what} declares `{parent}` {}",
                        quote(&from.value),
                        step_types::describe(&names)
                    ),
                )
                .with_label(from.span, "no such field")
                .with_label(types.span, format!("`{parent}` has no fields"))
                .with_help(format!("read `{parent}` itself, or a field of an object")),
            );
            None
        }
        Walk::NoField { field, object } => {
            let name = parsed.fields[field];
            let mut d = Diagnostic::new(
                Code::InvalidStepReference,
                format!(
                    "{} reads field `{name}`, which {what} does not declare",
                    quote(&from.value)
                ),
            )
            .with_label(from.span, "no such field");
            if let Some(closed) = object.entry("additionalProperties") {
                d = d.with_label(closed.key.span, "no other fields are allowed");
            }
            let fields = object
                .get("properties")
                .map(Node::as_map)
                .unwrap_or_default();
            let hint =
                crate::diagnostic::did_you_mean(name, fields.iter().map(|e| e.key.value.as_str()));
            out.push(match hint {
                Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                None => d.with_help(format!(
                    "read a field {what} declares under `properties`, or declare this one"
                )),
            });
            None
        }
    }
}

/// `steps.ID.params.NAME` where step ID gives no parameter NAME: it never resolves.
fn missing_param_read(read: &Step, name: &str, from: &Spanned<String>) -> Diagnostic {
    let keys: Vec<&str> = read
        .params
        .as_ref()
        .map(|p| p.as_map().iter().map(|e| e.key.value.as_str()).collect())
        .unwrap_or_default();
    let mut d = Diagnostic::new(
        Code::InvalidStepReference,
        format!(
            "{} reads parameter `{name}` of step `{}`, which that step does not give",
            quote(&from.value),
            read.id.value
        ),
    )
    .with_label(from.span, "parameter never given");
    d = match &read.params {
        Some(params) => d.with_label(params.span, format!("the params of `{}`", read.id.value)),
        None => d.with_label(read.id.span, format!("`{}` has no params", read.id.value)),
    };
    match crate::diagnostic::did_you_mean(name, keys) {
        Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
        None => d.with_help(
            "a step's params are read as they ran: read a parameter the step gives, or give it one",
        ),
    }
}

/// Compare what a reference produces with the type of the parameter it fills, both
/// as their schemas state them.
#[allow(clippy::too_many_arguments)]
fn check_reference_type(
    cx: &Context<'_, '_>,
    i: usize,
    compensation: bool,
    from: &Spanned<String>,
    produced: &Produced<'_>,
    action: &Action,
    path: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let Some(schema) = &action.input_schema else {
        return;
    };
    let Walk::Schema(taken) = step_types::walk(schema, schema, path) else {
        return;
    };
    let Some((taken, node)) = step_types::types_of(taken) else {
        return;
    };
    if step_types::compatible(&produced.types, &taken) {
        return;
    }
    let param = display_path(
        &std::iter::once("params".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>(),
    );
    let (made, wanted) = (
        step_types::describe(&produced.types),
        step_types::describe(&taken),
    );
    out.push(
        Diagnostic::new(
            Code::ReferenceTypeMismatch,
            format!(
                "{} fills {param} with {}, {made}, but `{}` takes {wanted} there",
                holder(cx.workflow, &cx.workflow.steps[i], compensation),
                quote(&from.value),
                action.name.value
            ),
        )
        .with_label(from.span, format!("{made}, by {}", produced.what))
        .with_label(
            produced.node.span,
            format!("`{}` is declared {made} here", produced.name),
        )
        .with_label(node.span, format!("{param} takes {wanted}"))
        .with_help("rune passes values on as they are, without converting them: read a value of the type the parameter takes, or make the two schemas agree"),
    );
}

/// `node` and `nodes` on one step: one machine or a fan-out, never both.
fn check_placement(workflow: &Workflow, step: &Step, out: &mut Vec<Diagnostic>) {
    let one = step
        .node
        .as_ref()
        .map(|_| step.id.span)
        .or(step.node_from.as_ref().map(|f| f.span));
    let many = step
        .nodes
        .as_ref()
        .or(step.nodes_from.as_ref())
        .map(|n| n.span);
    if let (Some(one), Some(many)) = (one, many) {
        out.push(
            Diagnostic::new(
                Code::NodeAndNodes,
                format!(
                    "step `{}` in workflow `{}` names both `node` and `nodes`",
                    step.id.value, workflow.name.value
                ),
            )
            .with_label(many, "fans out over these nodes")
            .with_label(one, "`node` is given too")
            .with_help("keep `node` to run on one node, or `nodes` (a selector: `all`, a group, a node, `label=value`) to run on each node it names"),
        );
    }
}

/// Where a step sends its action, away from this machine.
#[derive(Clone, Copy)]
enum Away {
    /// `nodes:`, each node it names; `undoes` when the action is the compensation.
    FanOut { undoes: bool },
    /// `node:`, one other node.
    Node,
}

/// An action a step runs on other nodes (or undoes there) must be a plugin: an
/// action without `exec` is served by its module's process, which runs where the
/// module says (`lifecycle.node`, else this machine), not where the step says.
fn check_runs_away(
    workflow: &Workflow,
    step: &Step,
    action: &Action,
    name: &Spanned<String>,
    away: Away,
    out: &mut Vec<Diagnostic>,
) {
    if !action.exec.is_empty() || !action.remote_exec.is_empty() {
        return;
    }
    let (code, message, label, help) = match away {
        Away::FanOut { undoes } => (
            Code::FanOutWithoutPlugin,
            format!(
                "step `{}` in workflow `{}` fans out over nodes and {} `{}`, which has no plugin to run there",
                step.id.value,
                workflow.name.value,
                if undoes { "is undone by" } else { "runs" },
                name.value
            ),
            "served by its module's process, on this machine",
            "give the action a plugin (`exec`, shipped to each node, or `remote_exec`, installed there), or run the step here without `nodes`",
        ),
        Away::Node => (
            Code::NodeWithoutPlugin,
            format!(
                "step `{}` in workflow `{}` runs on another node, but `{}` has no plugin to run there",
                step.id.value, workflow.name.value, name.value
            ),
            "served by its module's process, where the module runs",
            "give the action a plugin (`exec`, shipped to the node, or `remote_exec`, installed there), or drop the step's `node` and run the module on that node (`lifecycle.node`)",
        ),
    };
    out.push(
        Diagnostic::new(code, message)
            .with_label(name.span, label)
            .with_help(help),
    );
}

/// A node reference whose value cannot be a string: it cannot name a node.
fn check_node_type(
    workflow: &Workflow,
    step: &Step,
    from: &Spanned<String>,
    produced: &Produced<'_>,
    out: &mut Vec<Diagnostic>,
) {
    if step_types::compatible(&produced.types, &["string"]) {
        return;
    }
    let made = step_types::describe(&produced.types);
    out.push(
        Diagnostic::new(
            Code::ReferenceTypeMismatch,
            format!(
                "step `{}` in workflow `{}` runs on the node {} names, {made}, but a node is named by a string",
                step.id.value,
                workflow.name.value,
                quote(&from.value)
            ),
        )
        .with_label(from.span, format!("{made}, by {}", produced.what))
        .with_label(
            produced.node.span,
            format!("`{}` is declared {made} here", produced.name),
        )
        .with_help("read a string (the name of a node of the inventory), or declare the value `type: string`"),
    );
}

/// A `when` that compares a value with a literal of a type the value cannot have:
/// `equals` is then never true, `not_equals` always.
fn check_when_type(
    workflow: &Workflow,
    step: &Step,
    when: &Node,
    from: &Spanned<String>,
    produced: &Produced<'_>,
    out: &mut Vec<Diagnostic>,
) {
    for (key, outcome) in [("equals", "never"), ("not_equals", "always")] {
        let Some(literal) = when.get(key) else {
            continue;
        };
        if step_types::compatible(&produced.types, &[step_types::literal_type(literal)]) {
            continue;
        }
        let made = step_types::describe(&produced.types);
        out.push(
            Diagnostic::new(
                Code::ReferenceTypeMismatch,
                format!(
                    "the `when` of step `{}` in workflow `{}` compares {}, {made}, with {}: `{key}` is {outcome} true",
                    step.id.value,
                    workflow.name.value,
                    quote(&from.value),
                    Found::Node(literal).describe()
                ),
            )
            .with_label(literal.span, format!("not {made}"))
            .with_label(
                produced.node.span,
                format!("`{}` is declared {made} by {}", produced.name, produced.what),
            )
            .with_help(format!(
                "write the value as {made}: unquoted, YAML reads `false` as a boolean and `1` as an integer; quoted, both are strings"
            )),
        );
    }
}

/// Report cycles among the steps of `workflow`; return which steps are on one.
fn step_cycles(
    workflow: &Workflow,
    index: &HashMap<&str, usize>,
    needs: &[Vec<(usize, Span)>],
    out: &mut Vec<Diagnostic>,
) -> Vec<bool> {
    let mut graph = petgraph::graph::DiGraph::<usize, Span>::with_capacity(index.len(), 0);
    let mut node_of = vec![None; workflow.steps.len()];
    let mut firsts: Vec<usize> = index.values().copied().collect();
    firsts.sort_unstable();
    for i in firsts {
        node_of[i] = Some(graph.add_node(i));
    }
    for (i, edges) in needs.iter().enumerate() {
        let from = node_of[index[workflow.steps[i].id.value.as_str()]]
            .expect("first declarations have nodes");
        for &(n, span) in edges {
            graph.add_edge(
                from,
                node_of[n].expect("needs point at first declarations"),
                span,
            );
        }
    }
    let mut cyclic = vec![false; workflow.steps.len()];
    let mut in_scc = vec![false; graph.node_count()];
    // Kosaraju, not petgraph's recursive Tarjan: a valid workflow may chain 150,000
    // steps, one stack frame each. Components are taken in declaration order of
    // their first step, so the diagnostics do not depend on the algorithm.
    let mut sccs = petgraph::algo::kosaraju_scc(&graph);
    sccs.retain(|scc| scc.len() > 1 || graph.contains_edge(scc[0], scc[0]));
    sccs.sort_by_cached_key(|scc| scc.iter().min().copied());
    for scc in sccs {
        let id = |n: petgraph::graph::NodeIndex| workflow.steps[graph[n]].id.value.as_str();
        let mut ids: Vec<&str> = scc.iter().map(|&n| id(n)).collect();
        ids.sort_unstable();
        scc.iter().for_each(|&n| in_scc[n.index()] = true);
        let mut d = Diagnostic::new(
            Code::WorkflowCycle,
            format!(
                "steps of workflow `{}` need each other in a cycle: {}",
                workflow.name.value,
                ids.join(", ")
            ),
        );
        for &n in &scc {
            cyclic[graph[n]] = true;
            for e in graph.edges(n) {
                use petgraph::visit::EdgeRef;
                if in_scc[e.target().index()] {
                    d = d.with_label(
                        *e.weight(),
                        format!("`{}` needs `{}`", id(n), id(e.target())),
                    );
                }
            }
        }
        scc.iter().for_each(|&n| in_scc[n.index()] = false);
        d.labels.sort_by_key(|l| l.span);
        out.push(d.with_help("remove one of these `needs` so the steps can run in order"));
    }
    cyclic
}

/// For each `(step, target)` read, whether `target` is among the transitive
/// `needs` of `step`; `None` when `step` sits behind a cycle (reported already).
///
/// Most reads are answered in constant time (or the degree of the reader): a
/// direct need; a target at a level no lower than the reader's (the level of a
/// step is the length of its longest chain of needs, so an ancestor's is lower);
/// or a target that is an ancestor in a spanning tree of the needs (each step
/// hangs under its first need; pre- and post-order numbers answer ancestry). In a
/// chain, a layered DAG or a tree, every read is answered so. The rest are
/// answered together: steps are visited in dependency order and each carries a bit
/// set of the targets it (transitively) needs, 64 targets per pass, each pass over
/// the steps between its first target and its last reader only.
fn transitively_needs(needs: &[Vec<(usize, Span)>], reads: &[(usize, usize)]) -> Vec<Option<bool>> {
    let count = needs.len();
    let mut answers = vec![None; reads.len()];
    if reads.is_empty() {
        return answers;
    }
    // Kahn's algorithm over `needs`: a step comes after every step it needs.
    let mut pending: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (i, edges) in needs.iter().enumerate() {
        for &(n, _) in edges {
            needed_by[n].push(i);
        }
    }
    let mut order: Vec<usize> = (0..count).filter(|&i| pending[i] == 0).collect();
    let mut at = 0;
    while at < order.len() {
        let step = order[at];
        at += 1;
        for &dependent in &needed_by[step] {
            pending[dependent] -= 1;
            if pending[dependent] == 0 {
                order.push(dependent);
            }
        }
    }
    const UNORDERED: usize = usize::MAX;
    let mut position = vec![UNORDERED; count];
    let mut level = vec![0usize; count];
    for (p, &step) in order.iter().enumerate() {
        position[step] = p;
        level[step] = needs[step]
            .iter()
            .map(|&(n, _)| level[n] + 1)
            .max()
            .unwrap_or(0);
    }
    // The spanning forest: each ordered step under its first need.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut roots = Vec::new();
    for &step in &order {
        match needs[step].first() {
            Some(&(parent, _)) => children[parent].push(step),
            None => roots.push(step),
        }
    }
    let (mut pre, mut post) = (vec![0usize; count], vec![0usize; count]);
    let mut clock = 0;
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in roots {
        pre[root] = clock;
        clock += 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if let Some(&child) = children[node].get(next) {
                top.1 += 1;
                pre[child] = clock;
                clock += 1;
                stack.push((child, 0));
            } else {
                post[node] = clock;
                clock += 1;
                stack.pop();
            }
        }
    }
    let tree_ancestor = |a: usize, d: usize| pre[a] <= pre[d] && post[d] <= post[a];

    let mut hard: Vec<usize> = Vec::new();
    for (k, &(step, target)) in reads.iter().enumerate() {
        if position[step] == UNORDERED {
            continue;
        }
        answers[k] = if needs[step].iter().any(|&(n, _)| n == target) {
            Some(true)
        } else if level[target] >= level[step] {
            Some(false)
        } else if tree_ancestor(target, step) {
            Some(true)
        } else {
            hard.push(k);
            continue;
        };
    }
    if hard.is_empty() {
        return answers;
    }
    let mut targets: Vec<usize> = hard.iter().map(|&k| reads[k].1).collect();
    targets.sort_unstable_by_key(|&t| position[t]);
    targets.dedup();
    // Bit of each target in its pass, plus one (0: not a target of this pass).
    let mut bit_of = vec![0u8; count];
    let mut chunk_of = vec![0usize; count];
    for (c, chunk) in targets.chunks(64).enumerate() {
        for &t in chunk {
            chunk_of[t] = c;
        }
    }
    hard.sort_unstable_by_key(|&k| chunk_of[reads[k].1]);
    let mut bits = vec![0u64; count];
    let mut readers = hard.as_slice();
    for (c, chunk) in targets.chunks(64).enumerate() {
        let split = readers.partition_point(|&k| chunk_of[reads[k].1] == c);
        let (these, rest) = readers.split_at(split);
        readers = rest;
        for (b, &t) in chunk.iter().enumerate() {
            bit_of[t] = b as u8 + 1;
        }
        // Targets are in dependency order, so nothing before the first can need
        // one; nothing after the last reader is asked about.
        let from = position[chunk[0]];
        let to = these
            .iter()
            .map(|&k| position[reads[k].0])
            .max()
            .unwrap_or(from);
        for &step in &order[from..=to.max(from)] {
            let mut set = 0u64;
            for &(n, _) in &needs[step] {
                set |= bits[n];
                if bit_of[n] != 0 {
                    set |= 1 << (bit_of[n] - 1);
                }
            }
            bits[step] = set;
        }
        for &k in these {
            let (step, target) = reads[k];
            answers[k] = Some(bits[step] & (1 << (bit_of[target] - 1)) != 0);
        }
        // Leave every set empty for the next pass, which may start earlier.
        for &step in &order[from..=to.max(from)] {
            bits[step] = 0;
        }
        for &t in chunk {
            bit_of[t] = 0;
        }
    }
    answers
}

/// A `$from` reference found in parameters: where it sits (as a JSON pointer path
/// into `params`) and what it says (`None` for a malformed one, which is reported
/// on its own and not checked as a literal either).
struct Reference {
    path: Vec<String>,
    from: Option<Spanned<String>>,
}

/// Every `{"$from": "..."}` reference inside a parameter value, with its path. A
/// mapping with `$from` and other keys, or a `$from` that is not a string, is
/// reported: it would otherwise be passed on as a literal object.
fn collect_refs(
    node: &Node,
    path: &mut Vec<String>,
    refs: &mut Vec<Reference>,
    out: &mut Vec<Diagnostic>,
) {
    match &node.value {
        crate::yaml::Value::Map(entries) => {
            if let Some(from) = entries.iter().find(|e| e.key.value == "$from") {
                let extra: Vec<&crate::yaml::Entry> =
                    entries.iter().filter(|e| e.key.value != "$from").collect();
                match (from.value.as_spanned_str(), extra.first()) {
                    (Some(s), None) => refs.push(Reference {
                        path: path.clone(),
                        from: Some(s),
                    }),
                    (_, Some(first)) => {
                        refs.push(Reference {
                            path: path.clone(),
                            from: None,
                        });
                        let keys: Vec<String> =
                            extra.iter().map(|e| format!("`{}`", e.key.value)).collect();
                        out.push(
                            Diagnostic::new(
                                Code::InvalidStepReference,
                                format!("a `$from` reference has other keys besides `$from`: {}", keys.join(", ")),
                            )
                            .with_label(first.key.span, "not part of a reference")
                            .with_label(from.key.span, "reference")
                            .with_help("a reference is a mapping with `$from` only; move the other keys out, or nest the reference under a key of its own"),
                        )
                    }
                    (None, None) => {
                        refs.push(Reference {
                            path: path.clone(),
                            from: None,
                        });
                        out.push(
                            Diagnostic::new(
                                Code::InvalidStepReference,
                                "`$from` takes a reference string",
                            )
                            .with_label(from.value.span, "not a string")
                            .with_help(
                                "write `$from: inputs.NAME`, `$from: steps.ID.output.FIELD` or `$from: steps.ID.params.NAME`",
                            ),
                        )
                    }
                }
                return;
            }
            for e in entries {
                path.push(e.key.value.to_string());
                collect_refs(&e.value, path, refs, out);
                path.pop();
            }
        }
        crate::yaml::Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                collect_refs(item, path, refs, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A required parameter given by `inputs.NAME` where the inputs schema does not
/// require NAME: a run without the input leaves the parameter out (the plan
/// substitutes inputs and drops the key of one not given), and cannot be planned.
fn optional_input(
    workflow: &Workflow,
    who: &str,
    name: &str,
    refs: &[Reference],
    action: &Action,
    out: &mut Vec<Diagnostic>,
) {
    let Some(from) = refs
        .iter()
        .find(|r| r.path.len() == 1 && r.path[0] == name)
        .and_then(|r| r.from.as_ref())
    else {
        return;
    };
    let Ok(reference::Reference {
        source: Source::Input(input),
        ..
    }) = reference::parse(&from.value)
    else {
        return;
    };
    let Some(inputs) = &workflow.inputs else {
        return;
    };
    let Some(declared) = inputs.get("properties").and_then(|p| p.entry(input)) else {
        return; // An undeclared input is reported on its own.
    };
    let required = inputs.get("required");
    // A `required` that is not a list is an invalid schema, reported as such.
    if required.is_some_and(|r| {
        !matches!(r.value, crate::yaml::Value::Seq(_))
            || r.as_seq().iter().any(|n| n.as_str() == Some(input))
    }) {
        return;
    }
    out.push(
        Diagnostic::new(
            Code::RequiredParameterFromOptionalInput,
            format!(
                "{who} gives `{name}`, which `{}` requires, from input `{input}`, which workflow `{}` does not require",
                action.name.value, workflow.name.value
            ),
        )
        .with_label(from.span, format!("left out when the run does not give `{input}`"))
        .with_label(
            required.map_or(declared.key.span, |r| r.span),
            format!("`{input}` is not required here"),
        )
        .with_help(format!(
            "add `{input}` to the workflow's `inputs.required`, so that `rune plan --workflow {}` asks for it",
            workflow.name.value
        )),
    );
}

/// Check the parameters of a step or of its compensation (`params`, or `None`
/// with the span of the action when there are none) against the action's
/// input_schema. A reference is filled at run time, so its value is not checked,
/// but its key counts as given (a required parameter provided by a reference is
/// provided). Top-level required parameters are reported on their own, as
/// [`Code::MissingStepParameter`], for steps with params and without.
#[allow(clippy::too_many_arguments)]
fn check_params<'a>(
    workflow: &Workflow,
    step: &Step,
    compensation: bool,
    (params, action_span): (Option<&Node>, Span),
    refs: &[Reference],
    action: &'a Action,
    validators: &mut HashMap<&'a str, Option<Validator>>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(schema) = &action.input_schema else {
        return;
    };
    let who = holder(workflow, step, compensation);
    if let Some(required) = schema.get("required") {
        for item in required.as_seq() {
            let Some(name) = item.as_str() else { continue };
            if params.is_some_and(|p| p.entry(name).is_some()) {
                optional_input(workflow, &who, name, refs, action, out);
                continue;
            }
            let (span, label) = match params {
                Some(params) => (params.span, format!("no `{name}` here")),
                None => (
                    action_span,
                    format!("runs `{}` without params", action.name.value),
                ),
            };
            out.push(
                Diagnostic::new(
                    Code::MissingStepParameter,
                    format!(
                        "{who} does not give `{name}`, which `{}` requires",
                        action.name.value
                    ),
                )
                .with_label(span, label)
                .with_label(item.span, "required here")
                .with_help(format!(
                    "give `{name}` a literal value or a reference, e.g. `{name}: {{ $from: inputs.{name} }}`"
                )),
            );
        }
    }
    let Some(params) = params else {
        return;
    };
    let validator = validators
        .entry(&action.name.value)
        .or_insert_with(|| jsonschema::validator_for(&schema.to_json()).ok());
    let Some(validator) = validator else {
        return;
    };
    let is_prefix = |short: &[String], long: &[String]| long.starts_with(short);
    let skip = |at: &[String], kind: &ValidationErrorKind| {
        // Reported above, with or without references.
        (at.is_empty() && matches!(kind, ValidationErrorKind::Required { .. }))
            || refs.iter().any(|r| {
                // On or inside a reference: its value is not known yet.
                is_prefix(&r.path, at)
                // Around a reference, only rules about keys can be judged.
                || (is_prefix(at, &r.path)
                    && !matches!(
                        kind,
                        ValidationErrorKind::Required { .. }
                            | ValidationErrorKind::AdditionalProperties { .. }
                            | ValidationErrorKind::UnevaluatedProperties { .. }
                            | ValidationErrorKind::MinProperties { .. }
                            | ValidationErrorKind::MaxProperties { .. }
                    ))
            })
    };
    validate_data_except(
        validator,
        params,
        schema,
        Code::StepParamsMismatch,
        (
            &format!(
                "params of {who} do not match the input_schema of `{}`",
                action.name.value
            ),
            "params",
        ),
        skip,
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workflow of `n` steps where step `i` needs step `i + 1` (and the last needs
    /// the first when `cycle`), declared top-down; every span distinct.
    fn needs_chain(n: usize, cycle: bool) -> Workflow {
        let at = |i: usize| Span::new(crate::source::FileId(0), i, i + 1);
        let steps = (0..n)
            .map(|i| Step {
                id: Spanned::new(format!("s{i}"), at(3 * i)),
                action: Spanned::new("a".to_string(), at(3 * i + 1)),
                params: None,
                needs: (i + 1 < n || cycle)
                    .then(|| Spanned::new(format!("s{}", (i + 1) % n), at(3 * i + 2)))
                    .into_iter()
                    .collect(),
                when: None,
                settings: Default::default(),
                node: None,
                node_from: None,
                nodes: None,
                nodes_from: None,
                forks: None,
                condition: Default::default(),
                continue_on_error: false,
                compensate: None,
            })
            .collect();
        Workflow {
            name: Spanned::new("w".to_string(), at(0)),
            description: String::new(),
            inputs: None,
            steps,
            forks: None,
        }
    }

    /// The `needs` edges and cycle report of `workflow`, as `check_workflow` makes them.
    fn step_cycles_of(workflow: &Workflow) -> (Vec<bool>, Vec<Diagnostic>) {
        let index: HashMap<&str, usize> = workflow
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.value.as_str(), i))
            .collect();
        let needs: Vec<Vec<(usize, Span)>> = workflow
            .steps
            .iter()
            .map(|s| {
                s.needs
                    .iter()
                    .map(|n| (index[n.value.as_str()], n.span))
                    .collect()
            })
            .collect();
        let mut out = Vec::new();
        let cyclic = step_cycles(workflow, &index, &needs, &mut out);
        (cyclic, out)
    }

    /// 200,000 steps in one `needs` chain or cycle, declared top-down, are walked
    /// without a stack frame per step (a recursive search overflows the 2 MiB stack
    /// of a test thread long before that).
    #[test]
    fn step_cycles_survive_a_200000_step_chain_and_cycle() {
        let n = 200_000;
        let (cyclic, out) = step_cycles_of(&needs_chain(n, false));
        assert!(out.is_empty(), "{:?}", out.first().map(|d| &d.message));
        assert!(cyclic.iter().all(|&c| !c));

        let (cyclic, out) = step_cycles_of(&needs_chain(n, true));
        assert!(cyclic.iter().all(|&c| c));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].code, Code::WorkflowCycle);
        assert_eq!(out[0].labels.len(), n, "one label per `needs` of the cycle");
        assert_eq!(out[0].labels[0].message, "`s0` needs `s1`");
        let listed = out[0]
            .message
            .strip_prefix("steps of workflow `w` need each other in a cycle: ")
            .expect("names the workflow");
        assert!(listed.starts_with("s0, s1, s10, s100, s1000, s10000, s100000, s100001"));
        // The message is prose and stays short; the labels name every edge.
        assert!(
            listed.contains('…') && out[0].message.len() < 2_000,
            "{}",
            out[0].message
        );
    }

    /// The fast answers (direct needs, levels, the spanning tree) and the bit-set
    /// passes agree with a plain search of each reader's ancestry, on random DAGs
    /// wide enough to need several passes, with steps declared in random order.
    #[test]
    fn transitively_needs_agrees_with_a_search() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut random = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        let span = Span::new(crate::source::FileId(0), 0, 1);
        for round in 0..20 {
            let n = 50 + random(400);
            // Rank r needs only lower ranks; ranks are shuffled onto step indices.
            let mut step_of: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                step_of.swap(i, random(i + 1));
            }
            let mut needs: Vec<Vec<(usize, Span)>> = vec![Vec::new(); n];
            for r in 1..n {
                for _ in 0..random(4) {
                    let lower = if round % 2 == 0 {
                        random(r)
                    } else {
                        r - 1 - random(r.min(5))
                    };
                    if !needs[step_of[r]].iter().any(|&(x, _)| x == step_of[lower]) {
                        needs[step_of[r]].push((step_of[lower], span));
                    }
                }
            }
            let reads: Vec<(usize, usize)> = (0..3 * n).map(|_| (random(n), random(n))).collect();
            let answers = transitively_needs(&needs, &reads);
            for (&(step, target), answer) in reads.iter().zip(answers) {
                let mut seen = vec![false; n];
                let mut todo: Vec<usize> = needs[step].iter().map(|&(x, _)| x).collect();
                while let Some(x) = todo.pop() {
                    if !std::mem::replace(&mut seen[x], true) {
                        todo.extend(needs[x].iter().map(|&(y, _)| y));
                    }
                }
                assert_eq!(
                    answer,
                    Some(seen[target]),
                    "round {round}: {step} needs {target}?"
                );
            }
        }
    }

    /// Two cycles in one workflow are reported in the order of their first step,
    /// each naming its steps sorted and labelling its own edges only.
    #[test]
    fn step_cycles_are_reported_in_declaration_order() {
        let mut workflow = needs_chain(4, false);
        // s0 -> s1 -> s0 and s2 -> s3 -> s2.
        let span = |i: usize| Span::new(crate::source::FileId(0), 100 + i, 101 + i);
        workflow.steps[1].needs = vec![Spanned::new("s0".to_string(), span(1))];
        workflow.steps[3].needs = vec![Spanned::new("s2".to_string(), span(3))];
        let (cyclic, out) = step_cycles_of(&workflow);
        assert_eq!(cyclic, [true; 4]);
        let messages: Vec<&str> = out.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "steps of workflow `w` need each other in a cycle: s0, s1",
                "steps of workflow `w` need each other in a cycle: s2, s3",
            ]
        );
        assert_eq!(out[1].labels.len(), 2);
    }
}
