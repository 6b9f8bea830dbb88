//! Load stage: find catalog files, read them, and parse them, in parallel.
//!
//! Paths may be files or directories (searched recursively for `*.yaml`, `*.yml`
//! and `*.json`, hidden entries skipped). The file list is sorted and deduplicated
//! before any file is read, so file ids — and with them every diagnostic's order —
//! do not depend on thread scheduling or directory iteration order.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, SourceFile, SourceMap, Span};
use crate::yaml::{self, Node};

/// Largest catalog file rune reads.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Deepest directory recursion (a backstop; symlink loops are cut by `visited`).
const MAX_DIR_DEPTH: usize = 32;

/// One parsed catalog file.
#[derive(Debug)]
pub struct LoadedFile {
    /// The file's id in the source map.
    pub id: FileId,
    /// The parsed document; absent when the file could not be read or parsed.
    pub document: Option<Node>,
}

/// The output of the load stage.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every file read, for rendering spans.
    pub sources: SourceMap,
    /// The files, in sorted order.
    pub files: Vec<LoadedFile>,
    /// Problems found while finding, reading or parsing files.
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a path names a catalog file by its extension.
fn is_catalog_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Find the catalog files named by `paths`, sorted, reporting paths that cannot be read.
pub fn discover(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    let mut seen_real = BTreeSet::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(err) => diagnostics.push(
                Diagnostic::new(
                    Code::Unreadable,
                    format!("cannot read `{}`: {}", path.display(), io_reason(&err)),
                )
                .with_help("check the path; `rune validate` takes catalog files and directories"),
            ),
            Ok(meta) if meta.is_dir() => {
                // Collected apart, so a directory named twice still counts its files.
                let mut in_dir = BTreeSet::new();
                walk(path, 0, &mut BTreeSet::new(), &mut in_dir, diagnostics);
                if in_dir.is_empty() {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::NoCatalogs,
                            format!(
                                "no catalog files (*.yaml, *.yml, *.json) in `{}`",
                                crate::source::display_name(path)
                            ),
                        )
                        .with_help("point rune at the directory that holds your catalogs, or pass the files"),
                    );
                }
                found.extend(in_dir);
            }
            // Devices, FIFOs and sockets can block forever or never end.
            Ok(meta) if !meta.is_file() => diagnostics.push(
                Diagnostic::new(
                    Code::Unreadable,
                    format!("cannot read `{}`: not a regular file", path.display()),
                )
                .with_help("catalogs are regular files; pass the file or its directory"),
            ),
            Ok(_) => {
                found.insert(path.clone());
            }
        }
    }
    // The same file named twice (`a.yaml ./a.yaml`) is loaded once.
    found
        .into_iter()
        .filter(|p| seen_real.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
        .collect()
}

/// Walk `dir` recursively. `visited` holds the canonical path of every directory
/// walked so far: a directory reached twice (through a symlink such as `a -> .`)
/// is walked once, so two self-links cannot make the walk exponential.
fn walk(
    dir: &Path,
    depth: usize,
    visited: &mut BTreeSet<PathBuf>,
    found: &mut BTreeSet<PathBuf>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    if depth > MAX_DIR_DEPTH {
        return;
    }
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(real) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            diagnostics.push(Diagnostic::new(
                Code::Unreadable,
                format!(
                    "cannot read directory `{}`: {}",
                    dir.display(),
                    io_reason(&err)
                ),
            ));
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        if is_hidden(&child) {
            continue;
        }
        match std::fs::metadata(&child) {
            Ok(meta) if meta.is_dir() => walk(&child, depth + 1, visited, found, diagnostics),
            Ok(meta) if is_catalog_file(&child) && !meta.is_file() => diagnostics.push(
                Diagnostic::new(
                    Code::Unreadable,
                    format!("cannot read `{}`: not a regular file", child.display()),
                )
                .with_help("catalogs are regular files; remove or rename this entry"),
            ),
            Ok(_) if is_catalog_file(&child) => {
                found.insert(child);
            }
            Ok(_) => {}
            Err(err) => diagnostics.push(Diagnostic::new(
                Code::Unreadable,
                format!("cannot read `{}`: {}", child.display(), io_reason(&err)),
            )),
        }
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

/// Read and parse one file. Returns the source (possibly lossy text) and the parse.
fn read_and_parse(id: FileId, path: &Path) -> (SourceFile, Option<Node>, Vec<Diagnostic>) {
    let empty = |diag: Diagnostic| (SourceFile::new(path, Arc::from("")), None, vec![diag]);
    let bytes = match read_limited(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return empty(
                Diagnostic::new(
                    Code::FileTooLarge,
                    format!(
                        "`{}` is larger than {} MiB",
                        crate::source::display_name(path),
                        MAX_FILE_BYTES / (1024 * 1024)
                    ),
                )
                .with_help("split the catalog into several files"),
            )
        }
        Err(err) => {
            return empty(Diagnostic::new(
                Code::Unreadable,
                format!(
                    "cannot read `{}`: {}",
                    crate::source::display_name(path),
                    io_reason(&err)
                ),
            ))
        }
    };
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        // Show the text up to the end of the line with the first NUL, the NUL as
        // `␀`, so the label has something visible to point at.
        let line_end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i);
        let before = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let after = String::from_utf8_lossy(&bytes[at + 1..line_end]).replace('\0', "␀");
        let start = before.len();
        let text: Arc<str> = Arc::from(format!("{before}␀{after}\n"));
        let source = SourceFile::new(path, text);
        let span = Span::new(id, start, start + '␀'.len_utf8());
        let d = Diagnostic::new(
            Code::BinaryFile,
            "this is a binary file, not a YAML catalog",
        )
        .with_label(span, "NUL byte here")
        .with_help("catalogs are UTF-8 YAML or JSON text; remove the file from the catalog paths");
        return (source, None, vec![d]);
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(err.as_bytes()).into_owned();
            let source = SourceFile::new(path, Arc::from(lossy));
            // The lossy text has U+FFFD (three bytes) where the invalid bytes were.
            let span = Span::new(id, at, at + char::REPLACEMENT_CHARACTER.len_utf8());
            let d = Diagnostic::new(Code::NotUtf8, "the file is not valid UTF-8")
                .with_label(span, "invalid UTF-8 starts here")
                .with_help("save the file as UTF-8");
            return (source, None, vec![d]);
        }
    };
    // A UTF-8 byte order mark is allowed and ignored.
    let text: Arc<str> = Arc::from(text);
    let parsed = yaml::parse(id, &text);
    (
        SourceFile::new(path, text),
        parsed.document,
        parsed.diagnostics,
    )
}

/// Read a file unless it is larger than [`MAX_FILE_BYTES`] (then `Ok(None)`).
fn read_limited(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

/// Find, read and parse the catalog files named by `paths`.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let mut diagnostics = Vec::new();
    let files = discover(paths, &mut diagnostics);
    let results: Vec<_> = files
        .par_iter()
        .enumerate()
        .map(|(i, path)| read_and_parse(FileId(i as u32), path))
        .collect();
    let mut loaded = Loaded::default();
    for (source, document, diags) in results {
        let id = loaded.sources.add(source);
        loaded.files.push(LoadedFile { id, document });
        diagnostics.extend(diags);
    }
    loaded.diagnostics = diagnostics;
    loaded
}
