//! The catalog root: the directory every path in a plan document is relative to.
//!
//! A plan must mean the same thing however its catalog paths were spelled
//! (`catalogs`, `./catalogs/`, `catalogs/*.yaml`) and apply from any working
//! directory, so the document names files, working directories and resolved
//! `exec` paths relative to one recorded root, never relative to where rune ran.
//! Paths are compared lexically (no symbolic links followed, nothing read): the
//! same spelling gives the same plan on any machine. The one exception is where a
//! saved plan lies ([`CatalogRoot::seen_from`]): its reader resolves the recorded
//! root from the file's real directory, so that is compared by real directories.

use std::path::{Component, Path, PathBuf};

/// The directory that holds every catalog path given, lexically normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRoot {
    /// The root as the user spelled it (relative unless a catalog path was absolute).
    dir: PathBuf,
    /// Whether `dir` is absolute; then every path compared with it is made absolute.
    absolute: bool,
    /// The working directory, to make relative paths absolute when needed.
    cwd: PathBuf,
}

impl CatalogRoot {
    /// The deepest directory holding every path of `catalog_paths` (a directory
    /// counts as itself, a file as its parent).
    pub fn new(catalog_paths: &[PathBuf], cwd: &Path) -> Self {
        let absolute = catalog_paths.iter().any(|p| p.is_absolute());
        let prefix = catalog_paths
            .iter()
            .map(|p| {
                let dir = if p.is_dir() {
                    p.as_path()
                } else {
                    p.parent().unwrap_or(Path::new(""))
                };
                normalize(&if absolute {
                    cwd.join(dir)
                } else {
                    dir.to_path_buf()
                })
            })
            .reduce(|common, dir| common_prefix(&common, &dir));
        CatalogRoot {
            dir: prefix.unwrap_or_default(),
            absolute,
            cwd: cwd.to_path_buf(),
        }
    }

    /// The root as the working directory sees it, `/`-separated (`.` for itself).
    pub fn display(&self) -> String {
        slash(&self.dir)
    }

    /// The root as seen from `dir` (the directory of a saved plan file): relative
    /// unless the root is absolute, so plan and catalogs can move together.
    pub fn seen_from(&self, dir: &Path) -> String {
        if self.absolute {
            return self.display();
        }
        // Whoever opens the plan resolves the recorded path from the file's real
        // directory, `..` included, so compare real directories when both exist: a
        // plan written through a symbolic link (`link/../plan.json`, a linked
        // directory) must not be read against the link's lexical parent.
        let real = |p: &Path| std::fs::canonicalize(self.cwd.join(p)).ok();
        let (from, to) = match (real(dir), real(&self.dir)) {
            (Some(from), Some(to)) => (from, to),
            _ => (
                normalize(&self.cwd.join(dir)),
                normalize(&self.cwd.join(&self.dir)),
            ),
        };
        slash(&relative(&from, &to))
    }

    /// `path` (a catalog file or a path inside the catalog) relative to the root,
    /// `/`-separated. A path outside the root cannot happen for catalog files (the
    /// root holds them all); anything else keeps its normalised spelling.
    pub fn relative(&self, path: &Path) -> String {
        let path = if self.absolute {
            normalize(&self.cwd.join(path))
        } else {
            normalize(path)
        };
        match path.strip_prefix(&self.dir) {
            Ok(rest) => slash(rest),
            Err(_) => slash(&path),
        }
    }
}

/// `path` without `.` components and with `name/..` pairs removed; leading `..`
/// stay (nothing is known above the start).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(c),
            },
            _ => out.push(c),
        }
    }
    out.iter().collect()
}

/// The longest common leading directory of two normalised paths.
fn common_prefix(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

/// The path that leads from directory `from` to `to` (both absolute, normalised).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let common = common_prefix(from, to);
    let depth = common.components().count();
    let mut out = PathBuf::new();
    for _ in from.components().skip(depth) {
        out.push("..");
    }
    for c in to.components().skip(depth) {
        out.push(c);
    }
    out
}

/// A path as a plan writes it: `/`-separated, `.` when empty.
pub(crate) fn slash(path: &Path) -> String {
    let text = crate::source::slashed(path);
    if text.is_empty() {
        ".".to_string()
    } else {
        text
    }
}

/// Join two `/`-separated relative paths and normalise (`a/b` + `../c` = `a/c`).
pub(crate) fn join(base: &str, rest: &str) -> String {
    slash(&normalize(&Path::new(base).join(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(paths: &[&str]) -> CatalogRoot {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        CatalogRoot::new(&paths, Path::new("/work/repo"))
    }

    #[test]
    fn spellings_of_one_directory_give_one_root() {
        // Not directories on this machine: treated as files, so their parent counts.
        let a = root(&["cat/a.yaml", "cat/sub/b.yaml"]);
        let b = root(&["./cat/a.yaml", "cat/./sub/../sub/b.yaml"]);
        assert_eq!(a.display(), "cat");
        assert_eq!(a, b);
        assert_eq!(a.relative(Path::new("./cat/sub/b.yaml")), "sub/b.yaml");
    }

    #[test]
    fn a_file_in_the_working_directory_has_root_dot() {
        let r = root(&["a.yaml"]);
        assert_eq!(r.display(), ".");
        assert_eq!(r.relative(Path::new("a.yaml")), "a.yaml");
    }

    #[test]
    fn the_root_is_seen_from_the_plan_file_directory() {
        let r = root(&["cat/a.yaml"]);
        assert_eq!(r.seen_from(Path::new("ci/plans")), "../../cat");
        assert_eq!(r.seen_from(Path::new("")), "cat");
        assert_eq!(r.seen_from(Path::new("cat")), ".");
        assert_eq!(r.seen_from(Path::new("../elsewhere")), "../repo/cat");
    }

    #[test]
    fn an_absolute_catalog_path_keeps_the_root_absolute() {
        let r = root(&["/etc/rune/a.yaml", "local/b.yaml"]);
        assert_eq!(r.display(), "/");
        assert_eq!(
            r.relative(Path::new("local/b.yaml")),
            "work/repo/local/b.yaml"
        );
        assert_eq!(r.seen_from(Path::new("x")), "/");
    }

    #[test]
    fn join_resolves_against_a_directory() {
        assert_eq!(join(".", "plugins/x.sh"), "plugins/x.sh");
        assert_eq!(join("sub", "../bin/x"), "bin/x");
        assert_eq!(join("sub", "./x"), "sub/x");
    }
}
