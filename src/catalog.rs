//! The validation pipeline every command starts with: load → schema → registry →
//! graph → check. Commands that need a valid catalog (plan, graph, list-actions)
//! take it from [`load_valid`] and stop when it has errors; `validate` reports them.
//! Nothing here prints: the diagnostics go back to the command and its report.

use std::path::PathBuf;

use crate::diagnostic::{self, Diagnostic, Severity};
use crate::graph::DependencyGraph;
use crate::loader;
use crate::registry::{self, Registry};
use crate::report::diagnostics::Summary;
use crate::schema::verdicts::Verdicts;
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
///
/// Each file goes through loading, the schema stage and the registry on its own,
/// in parallel with the others, and its tree is freed as soon as its part of the
/// registry is built: the trees are the bulk of a catalog's memory, and holding
/// every file's at once would set the peak. The parts and every file's
/// diagnostics are joined in file order, so the result does not depend on which
/// file finished first.
pub fn load_and_check(paths: &[PathBuf]) -> CheckedCatalog {
    load_and_check_at(paths, None, None)
}

/// Whether loading `paths` is worth rayon's threads: more than one file, or one
/// large enough that its parse outlasts compiling the schema beside it. One small
/// file (`rune run` in a one-file catalog) costs less on one thread than the
/// threads cost to start.
fn worth_sharing(paths: &[PathBuf]) -> bool {
    match paths {
        [one] => std::fs::metadata(one).map_or(true, |m| m.is_dir() || m.len() > 256 << 10),
        _ => true,
    }
}

/// [`load_and_check`], and when `at` is given, a warning for each registration
/// that has expired by then (`rune validate` passes `--at`, SOURCE_DATE_EPOCH or now).
/// A file `verdicts` holds as clean is not checked against the schema again.
pub(crate) fn load_and_check_at(
    paths: &[PathBuf],
    at: Option<jiff::Timestamp>,
    verdicts: Option<&Verdicts>,
) -> CheckedCatalog {
    let parallel = worth_sharing(paths);
    // A small catalog is read and checked on one thread, so warming the schema
    // first gains nothing; with verdicts it may not be needed at all.
    let warm = parallel || verdicts.is_none();
    let (_, loaded) = crate::parallel::join(
        parallel,
        || {
            if warm {
                crate::schema::warm(parallel);
            }
        },
        || {
            loader::load_each(paths, |id, source, document| {
                let Some(mut document) = document else {
                    return (Vec::new(), Registry::default());
                };
                let text = &source.text;
                let schema = match verdicts {
                    Some(verdicts) => {
                        let key = Verdicts::key(source);
                        if verdicts.is_clean(&key) {
                            Vec::new()
                        } else {
                            let found = crate::schema::check_file(&document, text);
                            if found.is_empty() {
                                verdicts.remember_clean(&key);
                            }
                            found
                        }
                    }
                    None => crate::schema::check_file(&document, text),
                };
                let part = registry::build_file(id, &mut document, text);
                (schema, part)
            })
        },
    );
    let mut diagnostics = loaded.diagnostics;
    let mut parts = Vec::with_capacity(loaded.parts.len());
    for (schema, part) in loaded.parts {
        diagnostics.extend(schema);
        parts.push(part);
    }
    let mut registry = registry::concat(parts);
    diagnostics.extend(registry::apply_updates(&mut registry, &loaded.sources));
    if let Some(at) = at {
        diagnostics.extend(crate::check::check_expiry(&registry, at));
    }
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
///
/// The schema verdicts of earlier runs of this binary are reused (see
/// [`crate::schema::verdicts`]): these commands run the same catalogs again and
/// again, and `validate` is there for the full check.
pub(crate) fn load_valid(paths: &[PathBuf]) -> Result<CheckedCatalog, Box<CheckedCatalog>> {
    let verdicts = Verdicts::open();
    let checked = load_and_check_at(paths, None, verdicts.as_ref());
    if checked.has_errors() {
        return Err(Box::new(checked));
    }
    Ok(checked)
}
