//! Dependencies: each names a module in the catalog, at most once, whose version
//! satisfies the requirement. (Cycles are found by the dependency graph.)

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::{Criticality, Registry};
use crate::schema::quote;
use crate::source::Span;

/// Each dependency: a known module, listed once, at a version its requirement accepts.
pub(super) fn check_dependencies(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let index = registry.module_index();
    // Built on the first unknown module: a valid catalog never needs the index.
    let names = std::cell::LazyCell::new(|| Suggester::new(index.keys().copied()));
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
