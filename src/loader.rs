//! Load stage: find catalog files, read them, and parse them, in parallel.
//!
//! Paths may be files or directories (searched recursively for `*.yaml`, `*.yml`
//! and `*.json` in any letter case, hidden entries skipped). The file list is
//! sorted and deduplicated before any file is read, so file ids — and with them
//! every diagnostic's order — do not depend on thread scheduling or directory
//! iteration order. `.json` files are parsed as strict JSON, the rest as YAML; both
//! give the same spanned tree. The guards on reading (regular files only, a size
//! cap, UTF-8, no NUL bytes) also serve `--params-file`.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Whether a path names a catalog file by its extension (in any letter case:
/// `CATALOG.YAML` is as much a catalog as `catalog.yaml`).
/// Whether a file found in a catalog directory is read as a catalog: it ends in
/// `.yaml`, `.yml` or `.json`, in any letter case.
pub(crate) fn is_catalog_file(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["yaml", "yml", "json"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Whether a file is read as strict JSON rather than YAML: it ends in `.json`.
pub(crate) fn is_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Parse a file's text as JSON or YAML, by its name.
pub(crate) fn parse_text(id: FileId, path: &Path, text: &str) -> yaml::Parsed {
    if is_json(path) {
        yaml::strict_json::parse(id, text)
    } else {
        yaml::parse(id, text)
    }
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
            Err(err)
                if err.kind() == std::io::ErrorKind::NotFound
                    && path == Path::new(crate::config::DEFAULT_CATALOG_DIR) =>
            {
                diagnostics.push(
                    Diagnostic::new(
                        Code::Unreadable,
                        "no catalogs: there is no `catalogs` directory here, which is \
                         where rune looks when no catalog path is given",
                    )
                    .with_help(
                        "name the catalog files or directories: `rune validate PATH`, or \
                         `--catalog PATH` with any command",
                    ),
                );
            }
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
                let mut walk = Walk {
                    root: path,
                    visited: BTreeSet::new(),
                    found: &mut in_dir,
                    diagnostics,
                    too_deep: false,
                };
                walk.dir(path, 0);
                let too_deep = walk.too_deep;
                if in_dir.is_empty() && !too_deep {
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

/// A recursive search of one directory given on the command line.
struct Walk<'a> {
    root: &'a Path,
    /// The canonical path of every directory walked so far: a directory reached
    /// twice (through a symlink such as `a -> .`) is walked once, so two
    /// self-links cannot make the walk exponential.
    visited: BTreeSet<PathBuf>,
    found: &'a mut BTreeSet<PathBuf>,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Whether a part of the tree was too deep to search (then "no catalogs" would
    /// be a second, false, report of the same problem).
    too_deep: bool,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, depth: usize) {
        if depth > MAX_DIR_DEPTH {
            self.too_deep = true;
            // Catalogs below would be missing from the registry without a word.
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DirectoryTooDeep,
                    format!(
                        "`{}` is nested more than {MAX_DIR_DEPTH} directories below `{}`, so it was not searched",
                        crate::source::display_name(dir),
                        crate::source::display_name(self.root)
                    ),
                )
                .with_help("move the catalogs closer to the directory given to rune, or pass their directory itself"),
            );
            return;
        }
        let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !self.visited.insert(real) {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => {
                self.diagnostics.push(Diagnostic::new(
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
                Ok(meta) if meta.is_dir() => self.dir(&child, depth + 1),
                Ok(meta) if is_catalog_file(&child) && !meta.is_file() => self.diagnostics.push(
                    Diagnostic::new(
                        Code::Unreadable,
                        format!("cannot read `{}`: not a regular file", child.display()),
                    )
                    .with_help("catalogs are regular files; remove or rename this entry"),
                ),
                Ok(_) if is_catalog_file(&child) => {
                    self.found.insert(child);
                }
                Ok(_) => {}
                // A dangling link (or any unreadable entry) whose name is not a
                // catalog's is ignored like every other non-catalog entry.
                Err(err) if is_catalog_file(&child) => self.diagnostics.push(Diagnostic::new(
                    Code::Unreadable,
                    format!("cannot read `{}`: {}", child.display(), io_reason(&err)),
                )),
                Err(_) => {}
            }
        }
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        // The OS's own words, in the same lower-case form, without "(os error 40)".
        _ => {
            let text = err.to_string();
            let text = text
                .rfind(" (os error ")
                .map_or(text.as_str(), |at| &text[..at]);
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
    }
}

/// Read and parse one file. Returns the source (possibly lossy text) and the parse.
fn read_and_parse(id: FileId, path: &Path) -> (SourceFile, Option<Node>, Vec<Diagnostic>) {
    let empty = |diag: Diagnostic| (SourceFile::new(path, Arc::from("")), None, vec![diag]);
    let bytes = match read_limited(path, MAX_FILE_BYTES) {
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
        // Editors on Windows save UTF-16 by default: say so rather than "binary".
        let utf16 = bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]);
        let d = if utf16 {
            Diagnostic::new(Code::BinaryFile, "this file is UTF-16 text, not UTF-8")
                .with_label(span, "NUL byte here")
                .with_help("save the file as UTF-8: catalogs are UTF-8 YAML or JSON text")
        } else {
            Diagnostic::new(
                Code::BinaryFile,
                "this is a binary file, not a YAML catalog",
            )
            .with_label(span, "NUL byte here")
            .with_help(
                "catalogs are UTF-8 YAML or JSON text; remove the file from the catalog paths",
            )
        };
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
    let text: Arc<str> = Arc::from(without_bom(text));
    let parsed = parse_text(id, path, &text);
    (
        SourceFile::new(path, text),
        parsed.document,
        parsed.diagnostics,
    )
}

/// A UTF-8 byte order mark is allowed and dropped: spans, and the columns shown
/// from them, then count from the first character an editor shows.
pub(crate) fn without_bom(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// Read a regular file unless it is larger than `max` bytes (then `Ok(None)`).
/// Devices, FIFOs and sockets are refused before opening: opening a FIFO blocks
/// until a writer comes, and `/dev/zero` never ends.
pub(crate) fn read_limited(path: &Path, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    // Refused from its size alone, before a byte is read; the bounded read below
    // still holds if the file grows in between.
    if meta.len() > max {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(max + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// What [`load_each`] gives back: the files read and what was made of each.
#[derive(Debug)]
pub(crate) struct LoadedEach<T> {
    /// Every file read, for rendering spans.
    pub sources: SourceMap,
    /// What `each` made of every file, in file order (one per file in `sources`).
    pub parts: Vec<T>,
    /// Problems found while finding, reading or parsing files.
    pub diagnostics: Vec<Diagnostic>,
}

/// Find, read and parse the catalog files named by `paths`, handing each file's
/// tree (absent when it could not be read or parsed) with its id and source to
/// `each` on the thread that parsed it. `each` runs on every file in parallel;
/// its results come back in file order. Whatever `each` does not keep of a tree
/// is freed as soon as it returns, so a caller that keeps only a summary of each
/// file never holds every tree at once.
pub(crate) fn load_each<T, F>(paths: &[PathBuf], each: F) -> LoadedEach<T>
where
    T: Send,
    F: Fn(FileId, &SourceFile, Option<Node>) -> T + Sync,
{
    let mut diagnostics = Vec::new();
    let files = discover(paths, &mut diagnostics);
    // One file has nothing to share out.
    let results = crate::parallel::map_indexed(&files, 2, |i, path| {
        let id = FileId(i as u32);
        let (source, document, diags) = read_and_parse(id, path);
        let part = each(id, &source, document);
        (source, part, diags)
    });
    let mut sources = SourceMap::default();
    let mut parts = Vec::with_capacity(results.len());
    for (source, part, diags) in results {
        sources.add(source);
        parts.push(part);
        diagnostics.extend(diags);
    }
    LoadedEach {
        sources,
        parts,
        diagnostics,
    }
}

/// Find, read and parse the catalog files named by `paths`, keeping every tree.
pub fn load(paths: &[PathBuf]) -> Loaded {
    let each = load_each(paths, |id, _, document| LoadedFile { id, document });
    Loaded {
        sources: each.sources,
        files: each.parts,
        diagnostics: each.diagnostics,
    }
}
