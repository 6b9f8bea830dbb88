//! The validation pipeline every command starts with: load → schema → registry →
//! graph → check. Commands that need a valid catalog (plan, graph, list-actions)
//! take it from [`load_valid`] and stop when it has errors; `validate` reports them.
//! Nothing here prints: the diagnostics go back to the command and its report.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::diagnostic::{self, Diagnostic, Severity};
use crate::graph::DependencyGraph;
use crate::loader;
use crate::registry::{self, Registry};
use crate::report::diagnostics::Summary;
use crate::source::SourceMap;

/// A loaded and checked catalog.
#[derive(Debug)]
pub struct CheckedCatalog {
    /// Every file read.
    pub sources: SourceMap,
    /// The merged registry.
    pub registry: Registry,
    /// The module dependency graph.
    pub graph: DependencyGraph,
    /// Every diagnostic of every stage, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// How many of `sources` are catalog files (a command may add others, such as
    /// a parameters file, to point diagnostics into them).
    pub catalog_files: usize,
}

impl CheckedCatalog {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// Whether a path could not be read at all (usage / I/O error).
    pub fn has_io_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_io)
    }

    /// Counts for the report footer.
    pub fn summary(&self) -> Summary {
        Summary {
            files: self.catalog_files,
            modules: self.registry.modules.len(),
            actions: self.registry.actions().count(),
            workflows: self.registry.workflows.len(),
        }
    }
}

/// Load, schema-check, build and check the catalogs at `paths`.
pub fn load_and_check(paths: &[PathBuf]) -> CheckedCatalog {
    let mut loaded = loader::load(paths);
    let mut diagnostics = std::mem::take(&mut loaded.diagnostics);
    let schema_diagnostics: Vec<Vec<Diagnostic>> = loaded
        .files
        .par_iter()
        .map(|f| {
            f.document
                .as_ref()
                .map(|d| crate::schema::check_file(d, &loaded.sources.get(f.id).text))
                .unwrap_or_default()
        })
        .collect();
    diagnostics.extend(schema_diagnostics.into_iter().flatten());
    let registry = registry::build(&mut loaded);
    // The documents are not needed past the registry; free them before the checks,
    // which are the other memory-hungry stage. Dropping a large tree takes a while,
    // so it happens on another thread.
    let documents: Vec<_> = loaded.files.iter_mut().map(|f| f.document.take()).collect();
    rayon::spawn(move || drop(documents));
    let graph = DependencyGraph::build(&registry);
    diagnostics.extend(crate::check::check(&registry, &graph));
    let diagnostics = diagnostic::finish(diagnostics, &loaded.sources);
    CheckedCatalog {
        catalog_files: loaded.sources.len(),
        sources: loaded.sources,
        registry,
        graph,
        diagnostics,
    }
}

/// [`load_and_check`], for commands that need a valid catalog: the checked catalog
/// when it has no errors (its warnings are kept for the command to show), else the
/// catalog with every diagnostic, for the command to report and refuse. An input
/// that could not be read is an error like any other here;
/// [`CheckedCatalog::has_io_errors`] tells it apart.
pub fn load_valid(paths: &[PathBuf]) -> Result<CheckedCatalog, Box<CheckedCatalog>> {
    let checked = load_and_check(paths);
    if checked.has_errors() {
        return Err(Box::new(checked));
    }
    Ok(checked)
}
