//! The program digests of the plan being applied, checked just before each spawn.
//!
//! `rune apply` pins the digests its plan records (`inputs.programs`, as absolute
//! paths) before it runs anything; every spawn of a plugin or module process then
//! hashes each pinned file its command line names and refuses to start a program
//! whose bytes changed since planning. `rune run` plans nothing ahead and pins
//! nothing. (A file swapped between this check and the kernel's exec is not
//! caught: the check narrows that window to one spawn, it does not close it.)

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::process::Spec;

static PINNED: OnceLock<HashMap<PathBuf, String>> = OnceLock::new();

/// Pin the digests of the plan being applied (absolute path, sha256), once per
/// process; a second call is ignored (one rune applies one plan).
pub(crate) fn pin(digests: impl IntoIterator<Item = (PathBuf, String)>) {
    let _ = PINNED.set(
        digests
            .into_iter()
            .map(|(path, sha)| (normalized(&path), sha))
            .collect(),
    );
}

/// Refuse `spec` when a pinned file it names (its program, or an argument
/// resolved from its working directory) no longer has its pinned digest.
pub(crate) fn check(spec: &Spec) -> io::Result<()> {
    let Some(pinned) = PINNED.get().filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    for (i, arg) in spec.argv.iter().enumerate() {
        let path = if i == 0 {
            PathBuf::from(arg)
        } else {
            spec.working_dir.join(arg)
        };
        let Some(expected) = pinned.get(&normalized(&path)) else {
            continue;
        };
        let now = crate::plan::programs::file_sha256(&path);
        if now.as_deref() != Some(expected.as_str()) {
            return Err(io::Error::other(format!(
                "`{}` changed since the plan was made (sha256 {expected} planned, {} now); not started",
                crate::escape::untrusted(&path.to_string_lossy()),
                now.as_deref().unwrap_or("unreadable")
            )));
        }
    }
    Ok(())
}

/// Refuse to ship `path` when it is pinned and no longer has its pinned digest
/// (the ssh transport checks every file of a bundle before sending it).
pub(crate) fn check_file(path: &Path) -> io::Result<()> {
    let Some(expected) = PINNED.get().and_then(|p| p.get(&normalized(path))) else {
        return Ok(());
    };
    let now = crate::plan::programs::file_sha256(path);
    if now.as_deref() == Some(expected.as_str()) {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "`{}` changed since the plan was made (sha256 {expected} planned, {} now); not shipped",
        crate::escape::untrusted(&path.to_string_lossy()),
        now.as_deref().unwrap_or("unreadable")
    )))
}

/// `path` with `.` components dropped, so `root/./x` and `root/x` are one key.
fn normalized(path: &Path) -> PathBuf {
    path.components().collect()
}
