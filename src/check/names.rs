//! Names and versions: well-formed names and semantic versions, and names that
//! must be unique across the catalog (modules, actions).

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::{Module, Registry};
use crate::schema::quote;
use crate::source::Span;

static NAME_RULE: &str =
    "letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 128 characters";

/// Whether a module, action, workflow or step name is well-formed.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Well-formed module, dependency and action names; semantic versions and requirements.
pub(super) fn check_names_and_versions(registry: &Registry, out: &mut Vec<Diagnostic>) {
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

/// Module names unique across every catalog file.
pub(super) fn check_duplicate_modules(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut first: HashMap<&str, &Module> = HashMap::new();
    for module in &registry.modules {
        match first.get(module.name.value.as_str()) {
            None => {
                first.insert(&module.name.value, module);
            }
            Some(original) => {
                let mut d = Diagnostic::new(
                    Code::DuplicateModule,
                    format!("module `{}` is registered twice", module.name.value),
                )
                .with_label(module.name.span, "registered again here")
                .with_label(original.name.span, "first registered here")
                .with_help(duplicate_help(original, module));
                for m in [module, *original] {
                    if let (Some(span), true) = (
                        m.registration.update_mode_span,
                        m.registration.update_mode != crate::registry::UpdateMode::Replace,
                    ) {
                        d = d.with_label(span, "an update, but no previous_registration_id");
                    }
                }
                out.push(d);
            }
        }
    }
}

/// How to resolve a second registration of a module: rename or remove one, or
/// make it an MRS update of the first (what a merge or append without
/// `previous_registration_id` most likely meant).
fn duplicate_help(original: &Module, again: &Module) -> String {
    use crate::registry::UpdateMode;
    let id_of = |m: &Module| {
        m.registration.id.as_ref().map_or_else(
            || "the other registration's registration_id".to_string(),
            |id| format!("`{}`", id.value),
        )
    };
    // Either may be the update: files are read in name order, not in time order.
    let update = [(again, original), (original, again)]
        .into_iter()
        .find(|(m, _)| m.registration.update_mode != UpdateMode::Replace);
    match update {
        Some((update, other)) => format!(
            "one registration says update_mode {} but names no previous_registration_id, so it \
             updates nothing; to update the other one, set previous_registration_id to {}",
            update.registration.update_mode.as_str(),
            id_of(other)
        ),
        None => match &original.registration.id {
            Some(id) => format!(
                "module names are unique across all catalog files; rename or remove one, or make \
                 the later one an update of the earlier: previous_registration_id `{}` with \
                 update_mode replace, merge or append",
                id.value
            ),
            None => "module names are unique across all catalog files; rename or remove one, or \
                     make one an update of the other: give the earlier a registration_id and name \
                     it in the later one's previous_registration_id (update_mode replace, merge or \
                     append)"
                .to_string(),
        },
    }
}

/// Action names unique across the catalog (actions are found by name alone).
pub(super) fn check_actions(registry: &Registry, out: &mut Vec<Diagnostic>) {
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
