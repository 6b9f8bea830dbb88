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

use crate::diagnostic::{did_you_mean, Code, Diagnostic, Suggester};
use crate::graph::DependencyGraph;
use crate::registry::{Action, Criticality, Module, Registry, Step, Workflow};
use crate::schema::{display_path, pointer_segments, quote, Locator};
use crate::source::{Span, Spanned};
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
    let mut diagnostics = registry.diagnostics.clone();
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
            format!("invalid {what} name {}", quote(&name.value)),
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
                            "module_version {} of {} is not a semantic version",
                            quote(&version.value),
                            quote(&module.name.value)
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
                                "version_requirement {} is not a semver requirement",
                                quote(&req.value)
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
    let names = Suggester::new(index.keys().copied());
    for module in &registry.modules {
        let mut listed: HashMap<&str, Span> = HashMap::new();
        for dep in &module.dependencies {
            // The first listing is the one that counts: a third points back at it.
            if let Some(&first) = listed.get(dep.module_name.value.as_str()) {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateDependency,
                        format!(
                            "`{}` lists its dependency on `{}` twice",
                            module.name.value, dep.module_name.value
                        ),
                    )
                    .with_label(dep.module_name.span, "listed again here")
                    .with_label(first, "first listed here")
                    .with_help(
                        "list each dependency once, with the requirement and criticality you mean",
                    ),
                );
                continue;
            }
            listed.insert(&dep.module_name.value, dep.module_name.span);
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
                        "{} {what} {}, which is not in the catalog",
                        quote(&module.name.value),
                        quote(&dep.module_name.value)
                    ),
                )
                .with_label(dep.module_name.span, "no module with this name");
                d = match names.suggest(&dep.module_name.value, Some(&module.name.value)) {
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
                out.push(d.with_help(version_conflict_help(&req.value, &parsed, version)));
            }
        }
    }
}

/// What to do about a version conflict, with the semver rule behind the two
/// surprising cases: a bare version is a caret requirement, and a pre-release is
/// matched only by a requirement that names a pre-release of the same version.
fn version_conflict_help(
    written: &str,
    req: &semver::VersionReq,
    version: &semver::Version,
) -> String {
    let mut help =
        "update the requirement or register a matching version of the module".to_string();
    let bare = written
        .trim_start()
        .starts_with(|c: char| c.is_ascii_digit());
    if let (true, [only]) = (bare, req.comparators.as_slice()) {
        let (major, minor, patch) = (only.major, only.minor.unwrap_or(0), only.patch.unwrap_or(0));
        let below = match (major, only.minor, only.patch) {
            (0, Some(0), Some(_)) => format!("0.0.{}", patch + 1),
            (0, Some(m), _) if m > 0 || only.patch.is_none() => format!("0.{}.0", m + 1),
            (0, None, _) => "1.0.0".to_string(),
            _ => format!("{}.0.0", major + 1),
        };
        help.push_str(&format!(
            "; a bare version is a caret requirement: `{}` means >={major}.{minor}.{patch}, <{below}",
            written.trim()
        ));
    }
    let names_prerelease = req.comparators.iter().any(|c| !c.pre.is_empty());
    if !version.pre.is_empty() || names_prerelease {
        help.push_str(&format!(
            "; a requirement matches a pre-release only if it names a pre-release of the same MAJOR.MINOR.PATCH (`>={}.{}.{}-0` matches {version})",
            version.major, version.minor, version.patch
        ));
    }
    help
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
    let provided = Suggester::new(providers.keys().copied());
    // Event types by their lower-case spelling, first provider in name order wins,
    // so a consumer that only got the case wrong is told the exact spelling.
    let mut by_lower_case: BTreeMap<String, &str> = BTreeMap::new();
    let mut sorted: Vec<&str> = providers.keys().copied().collect();
    sorted.sort_unstable();
    for &event in sorted.iter().rev() {
        by_lower_case.insert(event.to_lowercase(), event);
    }
    for module in &registry.modules {
        let mut consumed: HashMap<&str, Span> = HashMap::new();
        for event in &module.consumes_events {
            if let Some(&first) = consumed.get(event.value.as_str()) {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateConsumedEvent,
                        format!("`{}` consumes `{}` twice", module.name.value, event.value),
                    )
                    .with_label(event.span, "consumed again here")
                    .with_label(first, "first consumed here")
                    .with_help(format!(
                        "remove the second `{}`; an event is delivered once per consumer",
                        event.value
                    )),
                );
                continue;
            }
            consumed.insert(&event.value, event.span);
            if providers.contains_key(event.value.as_str()) {
                continue;
            }
            if let Some(&exact) = by_lower_case.get(&event.value.to_lowercase()) {
                out.push(
                    Diagnostic::new(
                        Code::EventCaseMismatch,
                        format!(
                            "`{}` consumes `{}`, but the event provided is `{exact}`",
                            module.name.value, event.value
                        ),
                    )
                    .with_label(event.span, format!("differs from `{exact}` only in case"))
                    .with_label(providers[exact].1, format!("provided as `{exact}` here"))
                    .with_help(format!(
                        "did you mean `{exact}`? event types are case-sensitive"
                    )),
                );
                continue;
            }
            {
                let mut d = Diagnostic::new(
                    Code::UnprovidedEvent,
                    format!(
                        "{} consumes {}, which no module provides",
                        quote(&module.name.value),
                        quote(&event.value)
                    ),
                )
                .with_label(event.span, "no provider in the catalog");
                if let Some(hint) = provided.suggest(&event.value, None) {
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
                .with_help("`rune plan --action NAME` and workflow steps find actions by name, so names are unique across the catalog"),
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
    validate_data_except(
        validator,
        data,
        schema,
        code,
        (message, field),
        |_, _| false,
        out,
    );
}

/// [`validate_data`], leaving out errors for which `skip(instance path, kind)` holds.
fn validate_data_except(
    validator: &Validator,
    data: &Node,
    schema: &Node,
    code: Code,
    (message, field): (&str, &str),
    skip: impl Fn(&[String], &ValidationErrorKind) -> bool,
    out: &mut Vec<Diagnostic>,
) {
    let json = data.to_json();
    let (data, schema) = (Locator::new(data), Locator::new(schema));
    for error in validator.iter_errors(&json) {
        let relative = pointer_segments(error.instance_path().as_str());
        if skip(&relative, error.kind()) {
            continue;
        }
        let (node, _) = data.lookup(relative.iter().map(String::as_str));
        // An unexpected key is shown where it is written, not on its whole mapping.
        let span = match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
                .first()
                .and_then(|k| data.entry(node, k))
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
        let (rule, rule_entry) = schema.lookup(rule_path.iter().map(String::as_str));
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
    let action_names = Suggester::new(actions.iter().copied());
    let zone_names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    let zones = std::cell::OnceCell::new();
    for policy in &registry.policies {
        for window in &policy.change_windows {
            if let Some(d) = inert_window(window) {
                out.push(d);
            }
            if jiff::tz::db().get(&window.timezone.value).is_err() {
                let mut d = Diagnostic::new(
                    Code::UnknownTimeZone,
                    format!(
                        "change window {} uses unknown time zone {}",
                        quote(&window.name.value),
                        quote(&window.timezone.value)
                    ),
                )
                .with_label(window.timezone.span, "not an IANA time zone name");
                let zones =
                    zones.get_or_init(|| Suggester::new(zone_names.iter().map(String::as_str)));
                d = match zones.suggest(&window.timezone.value, None) {
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
                        "policy override for {}, which no module provides",
                        quote(&name.value)
                    ),
                )
                .with_label(name.span, "no such action");
                if let Some(hint) = action_names.suggest(&name.value, None) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
    }
}

/// A warning for a change window that can never matter: an `applies_to` list or
/// `days` written empty means none, so the window governs no action or never opens.
/// Before empty lists meant none, an empty `applies_to` list meant all; the warning
/// catches catalogs written with that in mind.
fn inert_window(window: &crate::registry::ChangeWindow) -> Option<Diagnostic> {
    let empty = |list: Option<usize>| list == Some(0);
    let why = if empty(window.categories.as_ref().map(Vec::len)) {
        "its `applies_to.categories` is empty, so it governs no action"
    } else if empty(window.impacts.as_ref().map(Vec::len)) {
        "its `applies_to.impacts` is empty, so it governs no action"
    } else if empty(window.days.as_ref().map(Vec::len)) {
        "its `days` is empty, so it never opens and every action it governs is denied"
    } else {
        return None;
    };
    Some(
        Diagnostic::new(
            Code::InertChangeWindow,
            format!("change window `{}` cannot work as written: {why}", window.name.value),
        )
        .with_label(window.name.span, "this window")
        .with_help("an empty list means none; leave the list out to mean all (every category, impact or day)"),
    )
}

fn check_workflows(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut actions: HashMap<&str, &Action> = HashMap::new();
    for (_, action) in registry.actions() {
        actions.entry(&action.name.value).or_insert(action);
    }
    let action_names = Suggester::new(actions.keys().copied());
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

    fn schema_diagnostics(text: &str) -> Vec<String> {
        let node = crate::yaml::parse(crate::source::FileId(0), text)
            .document
            .unwrap();
        let mut out = Vec::new();
        embedded_schema(&node, "input_schema", "m", false, &mut out);
        out.into_iter().map(|d| d.message).collect()
    }

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
