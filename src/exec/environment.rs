//! The environment of every child rune starts (plugins and module processes).
//!
//! A child never inherits rune's environment wholesale: operators export cloud keys
//! and tokens in the shell they run rune from, and a plugin that echoes its
//! environment, or a module that logs it, would hand them on. A child gets the
//! small allowlist below (what programs need to find tools, files, the locale and
//! the time zone), plus what the catalog declares for the action or module under
//! `env:`: `pass` names taken from rune's environment when set there, and `set`
//! literal values. The complete environment is computed here, once per command
//! line, and [`super::process`] clears the child's environment and sets exactly it.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Variables every child gets from rune's environment when they are set there.
pub(crate) const ALLOWLIST: &[&str] = &["PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR"];

/// Prefix of the locale variables every child also gets (`LC_ALL`, `LC_CTYPE`, ...).
pub(crate) const LOCALE_PREFIX: &str = "LC_";

/// A child's complete environment, sorted by name (deterministic for tests and
/// reports).
pub(crate) type Environment = Vec<(OsString, OsString)>;

/// `program` (a bare name) in the directories of `path`, as `execvp` would find
/// it: the first regular file there that is executable.
pub(crate) fn find_in_path(program: &str, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// A regular file with an execute bit.
pub(crate) fn executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the catalog declares under an action's or a module lifecycle's `env:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvDecl {
    /// Names passed through from rune's environment (left out when unset there).
    pub pass: Vec<String>,
    /// Literal values, in catalog order; they win over the allowlist and `pass`.
    pub set: Vec<(String, String)>,
}

/// Whether `name` is passed to every child without being declared.
pub fn allowed(name: &str) -> bool {
    ALLOWLIST.contains(&name) || name.starts_with(LOCALE_PREFIX)
}

/// The complete environment of a child declared with `decl`, from rune's own.
pub fn compute(decl: &EnvDecl) -> Environment {
    compute_from(decl, std::env::vars_os())
}

/// [`compute`] over an explicit parent environment.
pub(crate) fn compute_from(
    decl: &EnvDecl,
    parent: impl IntoIterator<Item = (OsString, OsString)>,
) -> Environment {
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    for (name, value) in parent {
        // A name that is not UTF-8 can be neither allowlisted nor declared.
        let Some(text) = name.to_str() else { continue };
        if allowed(text) || decl.pass.iter().any(|p| p == text) {
            env.insert(name, value);
        }
    }
    for (name, value) in &decl.set {
        env.insert(OsString::from(name), OsString::from(value));
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/op"),
            ("LC_TIME", "C"),
            ("AWS_SECRET_ACCESS_KEY", "k"),
            ("HTTPS_PROXY", "http://proxy"),
            ("TZ", "UTC"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
    }

    fn names(env: &Environment) -> Vec<&str> {
        env.iter().map(|(k, _)| k.to_str().unwrap()).collect()
    }

    #[test]
    fn only_the_allowlist_passes_by_default() {
        let env = compute_from(&EnvDecl::default(), parent());
        assert_eq!(names(&env), ["HOME", "LC_TIME", "PATH", "TZ"]);
    }

    #[test]
    fn declared_names_pass_and_literal_values_win() {
        let decl = EnvDecl {
            pass: vec!["HTTPS_PROXY".into(), "NOT_SET".into()],
            set: vec![
                ("TZ".into(), "Europe/Paris".into()),
                ("MODE".into(), "safe".into()),
            ],
        };
        let env = compute_from(&decl, parent());
        assert_eq!(
            names(&env),
            ["HOME", "HTTPS_PROXY", "LC_TIME", "MODE", "PATH", "TZ"]
        );
        let tz = env.iter().find(|(k, _)| k == "TZ").unwrap();
        assert_eq!(tz.1, "Europe/Paris");
    }
}
