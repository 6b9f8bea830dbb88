//! Check stage: the lifecycle rules the JSON Schema cannot express.
//!
//! Names and versions, duplicate modules and actions, dependencies (existence,
//! semver requirements, cycles), event ownership, embedded schemas and the data
//! validated by them, policy references and workflow references. Every check runs
//! on the whole registry and reports everything it finds.

mod dependencies;
mod events;
mod names;
mod policy;
pub mod reference;
mod registration;
mod schemas;
mod step_types;
mod workflows;

use crate::diagnostic::Diagnostic;
use crate::graph::DependencyGraph;
use crate::registry::Registry;

use dependencies::check_dependencies;
use events::check_events;
use names::{check_actions, check_duplicate_modules, check_names_and_versions};
use policy::check_policy;
use registration::check_registrations;
use schemas::check_embedded_schemas;
use workflows::check_workflows;

pub use names::is_valid_name;
pub use registration::{check_expiry, SPOKEN_PROTOCOLS};

/// Run every check on the registry.
pub fn check(registry: &Registry, graph: &DependencyGraph) -> Vec<Diagnostic> {
    let mut diagnostics = registry.diagnostics.clone();
    check_names_and_versions(registry, &mut diagnostics);
    check_duplicate_modules(registry, &mut diagnostics);
    check_registrations(registry, &mut diagnostics);
    check_dependencies(registry, &mut diagnostics);
    diagnostics.extend(graph.cycle_diagnostics(registry));
    check_events(registry, &mut diagnostics);
    check_actions(registry, &mut diagnostics);
    diagnostics.extend(check_embedded_schemas(registry));
    check_policy(registry, &mut diagnostics);
    check_workflows(registry, &mut diagnostics);
    diagnostics
}
