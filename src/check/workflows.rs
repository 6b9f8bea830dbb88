//! Workflows: unique names and step ids, actions that exist, `needs` without
//! cycles, step references that resolve, and literal parameters that match.

use std::collections::HashMap;

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;

use super::schemas::validate_data_except;
use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::{Action, Registry, Step, Workflow};
use crate::schema::quote;
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

/// The checks of one workflow: step ids, actions, `needs` (existence and cycles),
/// references and literal parameters.
fn check_workflow<'a>(
    workflow: &'a Workflow,
    actions: &HashMap<&str, &'a Action>,
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

    // References: grammar and existence now; "does the step need the step it
    // reads?" is answered for all of them at once below.
    let mut reads: Vec<(usize, usize, Span)> = Vec::new();
    for (i, step) in workflow.steps.iter().enumerate() {
        let mut refs = Vec::new();
        if let Some(params) = &step.params {
            collect_refs(params, &mut Vec::new(), &mut refs, out);
        }
        let when = step
            .when
            .as_ref()
            .and_then(|w| w.get("from"))
            .and_then(Node::as_spanned_str);
        for from in refs.iter().filter_map(|r| r.from.as_ref()).chain(&when) {
            match parse_reference(&from.value) {
                Ok(Ref::Input(name)) => {
                    let declared = workflow.inputs.as_ref().map(|inputs| {
                        inputs
                            .get("properties")
                            .is_some_and(|p| p.entry(name).is_some())
                    });
                    let problem = match declared {
                        Some(true) => continue,
                        Some(false) => format!(
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
                }
                Ok(Ref::StepOutput(id)) => match index.get(id) {
                    None => {
                        let name = Spanned::new(id.to_string(), from.span);
                        out.push(unknown_step(
                            &name,
                            &format!("step `{}` reads", step.id.value),
                        ));
                    }
                    Some(&target) if !cyclic[target] => reads.push((i, target, from.span)),
                    Some(_) => {}
                },
                Err(help) => out.push(
                    Diagnostic::new(
                        Code::InvalidStepReference,
                        format!("{} is not a valid reference", quote(&from.value)),
                    )
                    .with_label(from.span, "invalid reference")
                    .with_help(help),
                ),
            }
        }
        if let (Some(params), Some(action)) =
            (&step.params, actions.get(step.action.value.as_str()))
        {
            check_step_params(workflow, step, params, &refs, action, validators, out);
        }
    }
    let needed = transitively_needs(&needs, &reads);
    for (&(i, target, span), needed) in reads.iter().zip(needed) {
        if needed == Some(false) {
            let (step, id) = (
                &workflow.steps[i].id.value,
                &workflow.steps[target].id.value,
            );
            out.push(
                Diagnostic::new(
                    Code::InvalidStepReference,
                    format!("step `{step}` reads the output of `{id}` but does not need it"),
                )
                .with_label(span, "output read here")
                .with_help(format!(
                    "add `{id}` to the `needs` of `{step}` so it runs first"
                )),
            );
        }
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

/// For each `(step, target, _)` read, whether `target` is among the transitive
/// `needs` of `step`; `None` when `step` sits behind a cycle (reported already).
///
/// Answered for all reads together: steps are visited in dependency order and each
/// carries a bit set of the targets it (transitively) needs, 64 targets per pass,
/// so the cost is (steps + needs) x ceil(distinct targets / 64) rather than a walk
/// of every step's ancestry per read.
fn transitively_needs(
    needs: &[Vec<(usize, Span)>],
    reads: &[(usize, usize, Span)],
) -> Vec<Option<bool>> {
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
    let ordered: Vec<bool> = {
        let mut o = vec![false; count];
        order.iter().for_each(|&i| o[i] = true);
        o
    };
    let mut targets: Vec<usize> = reads.iter().map(|&(_, t, _)| t).collect();
    targets.sort_unstable();
    targets.dedup();
    let mut bit_of: HashMap<usize, usize> = HashMap::new();
    let mut bits = vec![0u64; count];
    for chunk in targets.chunks(64) {
        bit_of.clear();
        bit_of.extend(chunk.iter().enumerate().map(|(b, &t)| (t, b)));
        bits.iter_mut().for_each(|b| *b = 0);
        for &step in &order {
            let mut set = 0u64;
            for &(n, _) in &needs[step] {
                set |= bits[n] | bit_of.get(&n).map_or(0, |&b| 1 << b);
            }
            bits[step] = set;
        }
        for (answer, &(step, target, _)) in answers.iter_mut().zip(reads) {
            if let Some(&b) = bit_of.get(&target) {
                if ordered[step] {
                    *answer = Some(bits[step] & (1 << b) != 0);
                }
            }
        }
    }
    answers
}

/// A `$from` reference found in step parameters: where it sits (as a JSON pointer
/// path into `params`) and what it says (`None` for a malformed one, which is
/// reported on its own and not checked as a literal either).
struct Reference {
    path: Vec<String>,
    from: Option<Spanned<String>>,
}

/// What a reference reads.
enum Ref<'a> {
    /// `inputs.NAME`.
    Input(&'a str),
    /// `steps.ID.output.FIELD[.FIELD...]`: the step id.
    StepOutput(&'a str),
}

/// Parse a reference; on error, a help text saying what was probably meant.
fn parse_reference(text: &str) -> Result<Ref<'_>, String> {
    let parts: Vec<&str> = text.split('.').collect();
    let forms = "references are `inputs.NAME` or `steps.ID.output.FIELD` (more `.FIELD`s reach into the output)";
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("a reference has no empty parts; {forms}"));
    }
    match parts.as_slice() {
        ["inputs", name] => Ok(Ref::Input(name)),
        ["inputs", name, ..] => Err(format!("an input is read whole: `inputs.{name}`; {forms}")),
        ["steps", id, "output", _, ..] => Ok(Ref::StepOutput(id)),
        ["steps", id, "output"] => Err(format!("name the output field: `steps.{id}.output.FIELD`")),
        ["steps", id, field, rest @ ..] => Err(format!(
            "did you mean `steps.{id}.output.{}`? a step's result is read through `output`",
            std::iter::once(*field)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(".")
        )),
        _ => Err(forms.to_string()),
    }
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
                                "write `$from: inputs.NAME` or `$from: steps.ID.output.FIELD`",
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

/// Check a step's literal parameters against its action's input_schema. A
/// reference is filled at run time, so its value is not checked, but its key counts
/// as given (a required parameter provided by a reference is provided).
fn check_step_params<'a>(
    workflow: &Workflow,
    step: &Step,
    params: &Node,
    refs: &[Reference],
    action: &'a Action,
    validators: &mut HashMap<&'a str, Option<Validator>>,
    out: &mut Vec<Diagnostic>,
) {
    let Some(schema) = &action.input_schema else {
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
        refs.iter().any(|r| {
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
                "params of step `{}` in workflow `{}` do not match the input_schema of `{}`",
                step.id.value, workflow.name.value, action.name.value
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
