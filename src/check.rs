//! Check stage: the lifecycle rules the JSON Schema cannot express.
//!
//! Names and versions, duplicate modules and actions, dependencies (existence,
//! semver requirements, cycles), event ownership, embedded schemas and the data
//! validated by them, policy references and workflow references. Every check runs
//! on the whole registry and reports everything it finds.

use std::collections::{BTreeMap, HashMap, HashSet};

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use rayon::prelude::*;

use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::graph::DependencyGraph;
use crate::registry::{Criticality, Module, Registry};
use crate::schema::{display_path, pointer_segments};
use crate::source::Span;
use crate::yaml::Node;

static NAME_RULE: &str =
    "letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 128 characters";

/// Whether a module, action, workflow or step name is well-formed.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Run every check on the registry.
pub fn check(registry: &Registry, graph: &DependencyGraph) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    check_names_and_versions(registry, &mut diagnostics);
    check_duplicate_modules(registry, &mut diagnostics);
    check_dependencies(registry, &mut diagnostics);
    diagnostics.extend(graph.cycle_diagnostics(registry));
    check_events(registry, &mut diagnostics);
    check_actions(registry, &mut diagnostics);
    diagnostics.extend(check_embedded_schemas(registry));
    check_policy(registry, &mut diagnostics);
    check_workflows(registry, &mut diagnostics);
    diagnostics
}

fn check_names_and_versions(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let bad_name = |what: &str, name: &crate::source::Spanned<String>| {
        Diagnostic::new(
            Code::InvalidName,
            format!("invalid {what} name `{}`", name.value),
        )
        .with_label(name.span, "not a valid name")
        .with_help(format!("names use {NAME_RULE}"))
    };
    for module in &registry.modules {
        if !is_valid_name(&module.name.value) {
            out.push(bad_name("module", &module.name));
        }
        if let Some(version) = &module.version {
            if let Err(err) = semver::Version::parse(&version.value) {
                out.push(
                    Diagnostic::new(
                        Code::InvalidVersion,
                        format!(
                            "module_version `{}` of `{}` is not a semantic version",
                            version.value, module.name.value
                        ),
                    )
                    .with_label(version.span, err.to_string())
                    .with_help("use MAJOR.MINOR.PATCH, e.g. `2.1.0` or `1.0.0-rc.1`"),
                );
            }
        }
        for dep in &module.dependencies {
            if !is_valid_name(&dep.module_name.value) {
                out.push(bad_name("dependency module", &dep.module_name));
            }
            if let Some(req) = &dep.version_requirement {
                if let Err(err) = semver::VersionReq::parse(&req.value) {
                    out.push(
                        Diagnostic::new(
                            Code::InvalidVersionRequirement,
                            format!(
                                "version_requirement `{}` is not a semver requirement",
                                req.value
                            ),
                        )
                        .with_label(req.span, err.to_string())
                        .with_help(
                            "write a requirement like `>=1.2.0`, `^2.0`, or `>=1.0.0, <2.0.0`",
                        ),
                    );
                }
            }
        }
        for action in &module.actions {
            if !is_valid_name(&action.name.value) {
                out.push(bad_name("action", &action.name));
            }
        }
    }
}

fn check_duplicate_modules(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, &Module> = HashMap::new();
    for module in &registry.modules {
        match first.get(module.name.value.as_str()) {
            None => {
                first.insert(&module.name.value, module);
            }
            Some(original) => out.push(
                Diagnostic::new(
                    Code::DuplicateModule,
                    format!("module `{}` is registered twice", module.name.value),
                )
                .with_label(module.name.span, "registered again here")
                .with_label(original.name.span, "first registered here")
                .with_help(
                    "module names are unique across all catalog files; rename or remove one",
                ),
            ),
        }
    }
}

fn check_dependencies(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let index = registry.module_index();
    let mut names: Vec<&str> = index.keys().copied().collect();
    names.sort_unstable();
    for module in &registry.modules {
        for dep in &module.dependencies {
            let target = index
                .get(dep.module_name.value.as_str())
                .map(|&i| &registry.modules[i]);
            let Some(target) = target else {
                let (code, what) = match dep.criticality {
                    Criticality::Required => (Code::MissingDependency, "requires"),
                    Criticality::Optional => (Code::MissingOptionalDependency, "optionally uses"),
                };
                let mut d = Diagnostic::new(
                    code,
                    format!(
                        "`{}` {what} `{}`, which is not in the catalog",
                        module.name.value, dep.module_name.value
                    ),
                )
                .with_label(dep.module_name.span, "no module with this name");
                d = match did_you_mean(&dep.module_name.value, names.iter().copied()) {
                    Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                    None if dep.criticality == Criticality::Required => d.with_help(
                        "add the module's catalog to the paths being checked, or mark the dependency `criticality: optional`",
                    ),
                    None => d.with_help("the dependency is ignored until the module is registered"),
                };
                out.push(d);
                continue;
            };
            let (Some(req), Some(version)) = (&dep.version_requirement, &target.semver) else {
                continue;
            };
            let Ok(parsed) = semver::VersionReq::parse(&req.value) else {
                continue;
            };
            if !parsed.matches(version) {
                let mut d = Diagnostic::new(
                    Code::VersionConflict,
                    format!(
                        "`{}` requires `{}` {}, but the catalog has version {}",
                        module.name.value, dep.module_name.value, req.value, version
                    ),
                )
                .with_label(req.span, "requirement not satisfied");
                if let Some(v) = &target.version {
                    d = d.with_label(
                        v.span,
                        format!("`{}` is version {}", target.name.value, version),
                    );
                }
                out.push(d.with_help(
                    "update the requirement or register a matching version of the module",
                ));
            }
        }
    }
}

fn check_events(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut providers: HashMap<&str, (&Module, Span)> = HashMap::new();
    for module in &registry.modules {
        for event in &module.provides_events {
            match providers.get(event.event_type.value.as_str()) {
                None => {
                    providers.insert(&event.event_type.value, (module, event.event_type.span));
                }
                Some((owner, span)) => out.push(
                    Diagnostic::new(
                        Code::EventConflict,
                        format!(
                            "event type `{}` is provided by both `{}` and `{}`",
                            event.event_type.value, owner.name.value, module.name.value
                        ),
                    )
                    .with_label(event.event_type.span, "provided again here")
                    .with_label(*span, format!("first provided by `{}`", owner.name.value))
                    .with_help("an event type has one owner; rename one of them or consume the other module's event"),
                ),
            }
        }
    }
    let mut provided: Vec<&str> = providers.keys().copied().collect();
    provided.sort_unstable();
    for module in &registry.modules {
        for event in &module.consumes_events {
            if !providers.contains_key(event.value.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnprovidedEvent,
                    format!(
                        "`{}` consumes `{}`, which no module provides",
                        module.name.value, event.value
                    ),
                )
                .with_label(event.span, "no provider in the catalog");
                if let Some(hint) = did_you_mean(&event.value, provided.iter().copied()) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
    }
}

fn check_actions(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, (&Module, Span)> = HashMap::new();
    for (module, action) in registry.actions() {
        match first.get(action.name.value.as_str()) {
            None => {
                first.insert(&action.name.value, (module, action.name.span));
            }
            Some((owner, span)) => out.push(
                Diagnostic::new(
                    Code::DuplicateAction,
                    format!(
                        "action `{}` is declared twice (by `{}` and `{}`)",
                        action.name.value, owner.name.value, module.name.value
                    ),
                )
                .with_label(action.name.span, "declared again here")
                .with_label(*span, "first declared here")
                .with_help("`rune run ACTION` finds actions by name, so names are unique across the catalog"),
            ),
        }
    }
}

/// Check that `schema` is a valid JSON Schema; compile and return its validator
/// when `compile` is set (only schemas that validate data here need one: compiling
/// is the expensive part, and a catalog holds tens of thousands of schemas).
fn embedded_schema(
    schema: &Node,
    what: &str,
    owner: &str,
    compile: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<Validator> {
    let json = schema.to_json();
    // Beyond the meta-schema, only regular expressions and references can make a
    // schema unusable; schemas without them need no compiling to be checked, and
    // checking against the meta-schema is cheap.
    if !compile && !needs_compiling(&json) {
        if !jsonschema::meta::is_valid(&json) {
            out.extend(meta_schema_error(schema, &json, what, owner));
        }
        return None;
    }
    // A schema that needs compiling only for its `pattern`s (input schemas often
    // have one, and the same few patterns recur across a catalog) is usable when it
    // meets the meta-schema and each pattern compiles; patterns are checked once
    // each. Anything else, or any failure, takes the full compile below, which
    // gives the located diagnostic.
    if !compile && jsonschema::meta::is_valid(&json) && only_valid_patterns(&json) {
        return None;
    }
    // Compiling checks the schema against the meta-schema too; only a failure
    // needs the slower look at which rule it breaks.
    match jsonschema::validator_for(&json) {
        Ok(validator) => Some(validator),
        Err(error) => {
            if let Some(d) = meta_schema_error(schema, &json, what, owner) {
                out.push(d);
                return None;
            }
            let relative = pointer_segments(error.instance_path().as_str());
            let (node, _) = schema.pointer_lookup(relative.iter().map(String::as_str));
            out.push(
                Diagnostic::new(
                    Code::InvalidEmbeddedSchema,
                    format!("the {what} of `{owner}` cannot be used: {}", error.masked()),
                )
                .with_label(node.span, match (error.kind(), node.as_str()) {
                    (ValidationErrorKind::Format { format }, Some(text)) if format == "regex" => {
                        format!("`{text}` is not a valid regular expression")
                    }
                    _ => error.masked().to_string(),
                })
                .with_help("embedded schemas must be self-contained: local `$ref`s only, valid regular expressions"),
            );
            None
        }
    }
}

/// The diagnostic for a schema that breaks the JSON Schema meta-schema, if it does.
fn meta_schema_error(
    schema: &Node,
    json: &serde_json::Value,
    what: &str,
    owner: &str,
) -> Option<Diagnostic> {
    let error = jsonschema::meta::validate(json).err()?;
    let relative = pointer_segments(error.instance_path().as_str());
    let (node, entry) = schema.pointer_lookup(relative.iter().map(String::as_str));
    let span = match (&error.kind(), entry) {
        (ValidationErrorKind::AdditionalProperties { .. }, Some(e)) => e.key.span,
        _ => node.span,
    };
    const TYPES: [&str; 7] = [
        "array", "boolean", "integer", "null", "number", "object", "string",
    ];
    let bad_type = (relative.last().map(String::as_str) == Some("type"))
        .then(|| node.as_str())
        .flatten();
    let label = match bad_type {
        Some(t) => match did_you_mean(t, TYPES) {
            Some(hint) => format!("`{t}` is not a JSON Schema type; did you mean `{hint}`?"),
            None => format!("`{t}` is not a JSON Schema type ({})", TYPES.join(", ")),
        },
        None => error.masked().to_string(),
    };
    Some(
        Diagnostic::new(
            Code::InvalidEmbeddedSchema,
            format!("the {what} of `{owner}` is not a valid JSON Schema"),
        )
        .with_label(span, label)
        .with_help("embedded schemas follow JSON Schema 2020-12; see https://json-schema.org/understanding-json-schema"),
    )
}

/// Whether a schema has keywords whose values only compiling can check.
fn needs_compiling(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            matches!(
                k.as_str(),
                "pattern" | "patternProperties" | "$ref" | "$dynamicRef"
            ) || needs_compiling(v)
        }),
        serde_json::Value::Array(items) => items.iter().any(needs_compiling),
        _ => false,
    }
}

/// Whether the only keywords of `json` that need compiling are `pattern`s whose
/// regular expressions compile. Conservative: any `$`-keyword or
/// `patternProperties` answers no, and so does a `pattern` string in a data
/// position (`const`, `default`, ...) that is not a valid regex.
fn only_valid_patterns(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Object(map) => map.iter().all(|(k, v)| {
            if k.starts_with('$') || k == "patternProperties" {
                return false;
            }
            match (k.as_str(), v) {
                ("pattern", serde_json::Value::String(p)) => pattern_compiles(p),
                _ => only_valid_patterns(v),
            }
        }),
        serde_json::Value::Array(items) => items.iter().all(only_valid_patterns),
        _ => true,
    }
}

/// Whether `pattern` compiles as a JSON Schema `pattern`, remembered per thread.
fn pattern_compiles(pattern: &str) -> bool {
    thread_local! {
        static KNOWN: std::cell::RefCell<HashMap<String, bool>> = Default::default();
    }
    KNOWN.with(|known| {
        if let Some(&ok) = known.borrow().get(pattern) {
            return ok;
        }
        let ok = jsonschema::validator_for(&serde_json::json!({ "pattern": pattern })).is_ok();
        known.borrow_mut().insert(pattern.to_string(), ok);
        ok
    })
}

/// Validate `data` against `validator`, one diagnostic per error, located in `data`;
/// `field` is where the data sits in its module (`lifecycle.config`).
fn validate_data(
    validator: &Validator,
    data: &Node,
    schema: &Node,
    code: Code,
    (message, field): (&str, &str),
    out: &mut Vec<Diagnostic>,
) {
    let json = data.to_json();
    for error in validator.iter_errors(&json) {
        let relative = pointer_segments(error.instance_path().as_str());
        let (node, _) = data.pointer_lookup(relative.iter().map(String::as_str));
        // An unexpected key is shown where it is written, not on its whole mapping.
        let span = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
                .first()
                .and_then(|k| node.entry(k))
                .map_or(node.span, |e| e.key.span),
            _ => node.span,
        };
        // The rule that failed, located in the embedded schema: the keyword's
        // parent, so the label sits on e.g. `max_connections: { type: integer }`.
        // At the schema's root that would be the whole schema; use the keyword there.
        let mut rule_path = pointer_segments(error.schema_path().as_str());
        if rule_path.len() > 1 {
            rule_path.pop();
        }
        let (rule, rule_entry) = schema.pointer_lookup(rule_path.iter().map(String::as_str));
        let rule_span = rule_entry.map_or(rule.span, |e| e.key.span);
        let path: Vec<String> = field
            .split('.')
            .map(str::to_string)
            .chain(relative.iter().cloned())
            .collect();
        let found = crate::schema::describe_mismatch(
            &error,
            crate::schema::Found::Node(node),
            &display_path(&path),
            None,
        );
        let mut d = Diagnostic::new(code, format!("{message}: {}", found.message))
            .with_label(span, found.label)
            .with_label(rule_span, "required by this part of the schema");
        if let Some(help) = found.help {
            d = d.with_help(help);
        }
        out.push(d);
    }
}

fn check_module_schemas(module: &Module) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let owner = module.name.value.as_str();
    for event in &module.provides_events {
        let Some(schema) = &event.data_schema else {
            continue;
        };
        let what = format!("data_schema of event `{}`", event.event_type.value);
        let compile = event.example_data.is_some();
        if let Some(validator) = embedded_schema(schema, &what, owner, compile, &mut out) {
            if let Some(example) = &event.example_data {
                validate_data(
                    &validator,
                    example,
                    schema,
                    Code::ExampleDataMismatch,
                    (
                        &format!(
                            "example_data of event `{}` does not match its data_schema",
                            event.event_type.value
                        ),
                        "example_data",
                    ),
                    &mut out,
                );
            }
        }
    }
    for action in &module.actions {
        for (schema, kind) in [
            (&action.input_schema, "input_schema"),
            (&action.output_schema, "output_schema"),
        ] {
            if let Some(schema) = schema {
                embedded_schema(
                    schema,
                    &format!("{kind} of action `{}`", action.name.value),
                    owner,
                    false,
                    &mut out,
                );
            }
        }
    }
    if let Some(schema) = &module.configuration_schema {
        let compile = module.lifecycle.config.is_some();
        if let Some(validator) =
            embedded_schema(schema, "configuration_schema", owner, compile, &mut out)
        {
            if let Some(config) = &module.lifecycle.config {
                validate_data(
                    &validator,
                    config,
                    schema,
                    Code::ConfigMismatch,
                    (
                        &format!(
                            "lifecycle.config of `{owner}` does not match its configuration_schema"
                        ),
                        "lifecycle.config",
                    ),
                    &mut out,
                );
            }
        }
    }
    out
}

fn check_embedded_schemas(registry: &Registry) -> Vec<Diagnostic> {
    registry
        .modules
        .par_iter()
        .flat_map_iter(check_module_schemas)
        .collect()
}

fn check_policy(registry: &Registry, out: &mut Vec<Diagnostic>) {
    if let Some((first, rest)) = registry.policies.split_first() {
        for again in rest {
            out.push(
                Diagnostic::new(
                    Code::DuplicatePolicy,
                    "more than one catalog file declares a policy",
                )
                .with_label(again.span, "policy declared again here")
                .with_label(first.span, "first declared here")
                .with_help("keep the policy in one file so that one place decides what may run"),
            );
        }
    }
    let actions: HashSet<&str> = registry
        .actions()
        .map(|(_, a)| a.name.value.as_str())
        .collect();
    let mut sorted: Vec<&str> = actions.iter().copied().collect();
    sorted.sort_unstable();
    for policy in &registry.policies {
        for window in &policy.change_windows {
            if jiff::tz::db().get(&window.timezone.value).is_err() {
                let mut d = Diagnostic::new(
                    Code::UnknownTimeZone,
                    format!(
                        "change window `{}` uses unknown time zone `{}`",
                        window.name.value, window.timezone.value
                    ),
                )
                .with_label(window.timezone.span, "not an IANA time zone name");
                let names = jiff::tz::db().available();
                let names: Vec<String> = names.map(|n| n.to_string()).collect();
                d = match did_you_mean(&window.timezone.value, names.iter().map(String::as_str)) {
                    Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                    None => d.with_help(
                        "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",
                    ),
                };
                out.push(d);
            }
        }
        for (name, _) in &policy.overrides {
            if !actions.contains(name.value.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnknownPolicyAction,
                    format!(
                        "policy override for `{}`, which no module provides",
                        name.value
                    ),
                )
                .with_label(name.span, "no such action");
                if let Some(hint) = did_you_mean(&name.value, sorted.iter().copied()) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
    }
}

fn check_workflows(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let actions: Vec<&str> = {
        let mut a: Vec<&str> = registry
            .actions()
            .map(|(_, a)| a.name.value.as_str())
            .collect();
        a.sort_unstable();
        a
    };
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
        let mut steps: BTreeMap<&str, &crate::registry::Step> = BTreeMap::new();
        for step in &workflow.steps {
            if let Some(first) = steps.get(step.id.value.as_str()) {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateStep,
                        format!(
                            "step `{}` appears twice in workflow `{}`",
                            step.id.value, workflow.name.value
                        ),
                    )
                    .with_label(step.id.span, "declared again here")
                    .with_label(first.id.span, "first declared here"),
                );
            } else {
                steps.insert(&step.id.value, step);
            }
            if !actions.contains(&step.action.value.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnknownWorkflowAction,
                    format!(
                        "step `{}` of workflow `{}` runs `{}`, which no module provides",
                        step.id.value, workflow.name.value, step.action.value
                    ),
                )
                .with_label(step.action.span, "unknown action");
                if let Some(hint) = did_you_mean(&step.action.value, actions.iter().copied()) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
        let step_names: Vec<&str> = steps.keys().copied().collect();
        let unknown_step = |name: &crate::source::Spanned<String>, how: &str| {
            let mut d = Diagnostic::new(
                Code::InvalidStepReference,
                format!(
                    "{how} `{}`, which is not a step of workflow `{}`",
                    name.value, workflow.name.value
                ),
            )
            .with_label(name.span, "unknown step");
            if let Some(hint) = did_you_mean(&name.value, step_names.iter().copied()) {
                d = d.with_help(format!("did you mean `{hint}`?"));
            }
            d
        };
        for step in &workflow.steps {
            for need in &step.needs {
                if !steps.contains_key(need.value.as_str()) {
                    out.push(unknown_step(
                        need,
                        &format!("step `{}` needs", step.id.value),
                    ));
                }
            }
        }
        // Cycles among steps.
        let mut graph = petgraph::graph::DiGraph::<&str, Span>::new();
        let nodes: HashMap<&str, _> = steps.keys().map(|&id| (id, graph.add_node(id))).collect();
        for step in &workflow.steps {
            for need in &step.needs {
                if let (Some(&a), Some(&b)) = (
                    nodes.get(step.id.value.as_str()),
                    nodes.get(need.value.as_str()),
                ) {
                    graph.add_edge(a, b, need.span);
                }
            }
        }
        let mut cyclic: HashSet<&str> = HashSet::new();
        for scc in petgraph::algo::tarjan_scc(&graph) {
            let self_loop = scc.len() == 1 && graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let mut ids: Vec<&str> = scc.iter().map(|&n| graph[n]).collect();
            ids.sort_unstable();
            cyclic.extend(ids.iter().copied());
            let mut d = Diagnostic::new(
                Code::WorkflowCycle,
                format!(
                    "steps of workflow `{}` need each other in a cycle: {}",
                    workflow.name.value,
                    ids.join(", ")
                ),
            );
            for &n in &scc {
                for e in graph.edges(n) {
                    use petgraph::visit::EdgeRef;
                    if scc.contains(&e.target()) {
                        d = d.with_label(
                            *e.weight(),
                            format!("`{}` needs `{}`", graph[n], graph[e.target()]),
                        );
                    }
                }
            }
            d.labels.sort_by_key(|l| l.span);
            out.push(d.with_help("remove one of these `needs` so the steps can run in order"));
        }
        // `$from` references: inputs must be declared, steps must be earlier (needed).
        let input_names: Option<HashSet<String>> = workflow.inputs.as_ref().map(|i| {
            i.get("properties")
                .map(|p| p.as_map().iter().map(|e| e.key.value.to_string()).collect())
                .unwrap_or_default()
        });
        for step in &workflow.steps {
            let ancestors = ancestors(&steps, &step.id.value);
            let mut refs = Vec::new();
            if let Some(params) = &step.params {
                collect_refs(params, &mut refs);
            }
            if let Some(when) = &step.when {
                if let Some(from) = when.get("from").and_then(Node::as_spanned_str) {
                    refs.push(from);
                }
            }
            for r in refs {
                let parts: Vec<&str> = r.value.split('.').collect();
                match parts.as_slice() {
                    ["inputs", name, ..] => {
                        if let Some(inputs) = &input_names {
                            if !inputs.contains(*name) {
                                out.push(
                                    Diagnostic::new(
                                        Code::InvalidStepReference,
                                        format!("`{}` names input `{name}`, which workflow `{}` does not declare", r.value, workflow.name.value),
                                    )
                                    .with_label(r.span, "unknown input")
                                    .with_help("declare it under the workflow's `inputs.properties`"),
                                );
                            }
                        }
                    }
                    ["steps", id, "output", ..] | ["steps", id] | ["steps", id, ..] => {
                        if !steps.contains_key(id) {
                            let name = crate::source::Spanned::new(id.to_string(), r.span);
                            out.push(unknown_step(
                                &name,
                                &format!("step `{}` reads", step.id.value),
                            ));
                        } else if !ancestors.contains(*id) && !cyclic.contains(id) {
                            out.push(
                                Diagnostic::new(
                                    Code::InvalidStepReference,
                                    format!(
                                        "step `{}` reads the output of `{id}` but does not need it",
                                        step.id.value
                                    ),
                                )
                                .with_label(r.span, "output read here")
                                .with_help(format!(
                                    "add `{id}` to the `needs` of `{}` so it runs first",
                                    step.id.value
                                )),
                            );
                        }
                    }
                    _ => out.push(
                        Diagnostic::new(
                            Code::InvalidStepReference,
                            format!("`{}` is not a valid reference", r.value),
                        )
                        .with_label(r.span, "invalid reference")
                        .with_help("references look like `inputs.NAME` or `steps.ID.output.FIELD`"),
                    ),
                }
            }
        }
    }
}

/// All steps that `id` needs, directly or transitively.
fn ancestors<'a>(
    steps: &BTreeMap<&'a str, &'a crate::registry::Step>,
    id: &str,
) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = steps
        .get(id)
        .map(|s| s.needs.iter().map(|n| n.value.as_str()).collect())
        .unwrap_or_default();
    while let Some(n) = stack.pop() {
        if let Some((&key, step)) = steps.get_key_value(n) {
            if seen.insert(key) {
                stack.extend(step.needs.iter().map(|n| n.value.as_str()));
            }
        }
    }
    seen
}

/// Every `{"$from": "..."}` reference inside a parameter value.
fn collect_refs(node: &Node, out: &mut Vec<crate::source::Spanned<String>>) {
    match &node.value {
        crate::yaml::Value::Map(entries) => {
            if entries.len() == 1 && entries[0].key.value == "$from" {
                if let Some(s) = entries[0].value.as_spanned_str() {
                    out.push(s);
                }
                return;
            }
            for e in entries {
                collect_refs(&e.value, out);
            }
        }
        crate::yaml::Value::Seq(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_diagnostics(text: &str) -> Vec<String> {
        let node = crate::yaml::parse(crate::source::FileId(0), text)
            .document
            .unwrap();
        let mut out = Vec::new();
        embedded_schema(&node, "input_schema", "m", false, &mut out);
        out.into_iter().map(|d| d.message).collect()
    }

    /// Schemas with `pattern`s skip compiling only when they are sure to compile.
    #[test]
    fn pattern_shortcut_agrees_with_compiling() {
        let ok = "type: object\nproperties: { n: { type: string, pattern: '^[a-z]+$' } }\n";
        assert!(schema_diagnostics(ok).is_empty());
        assert!(schema_diagnostics(ok).is_empty(), "cached the second time");
        let bad_regex = "properties: { n: { type: string, pattern: '^[a-z' } }\n";
        assert_eq!(
            schema_diagnostics(bad_regex),
            ["the input_schema of `m` cannot be used: value is not a \"regex\""]
        );
        let bad_type = "properties: { n: { type: strnig, pattern: x } }\n";
        assert_eq!(
            schema_diagnostics(bad_type),
            ["the input_schema of `m` is not a valid JSON Schema"]
        );
        let bad_ref = "properties: { n: { $ref: '#/nope', pattern: x } }\n";
        assert_eq!(schema_diagnostics(bad_ref).len(), 1);
        // A `pattern` key in data is not a regex: compiling accepts it.
        let data = "pattern: x\nconst: { pattern: '(' }\n";
        assert!(schema_diagnostics(data).is_empty());
    }
}
