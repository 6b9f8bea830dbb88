//! The programs a plan runs, bound by digest.
//!
//! A plan that was reviewed names its programs by path; the bytes at that path
//! are what actually runs. The plan records the sha256 of every program file
//! (`exec` program given as a path) and, for a program named without a path, of
//! the script its first argument names inside the catalog root (`[python3,
//! plugin.py]`), so a program replaced after planning is caught: by `rune apply`
//! before anything runs, and again just before each spawn (see
//! `crate::exec::programs`). A bare program name is looked up on `PATH` when it
//! runs and is not bound; neither is what a program reads at run time.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::document::{Command, FileDigest, PlanDocument};

/// The digests of the program files `doc`'s commands name, as found under
/// `root_dir` (the directory `doc.inputs.catalog_root` names): sorted by path
/// relative to the root, each file once. A file that is not there (a plan made
/// where its plugins are not installed) is not recorded; it cannot run either.
pub(crate) fn digests(doc: &PlanDocument, root_dir: &Path) -> Vec<FileDigest> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let commands = doc
        .startup_modules()
        .filter_map(|m| m.command.as_ref())
        .chain(doc.all_actions().filter_map(|a| a.command.as_ref()));
    for command in commands {
        // Shipped files run on a node exactly as the program does: bound alike.
        let shipped = command.ship.iter().filter_map(|f| inside(Path::new(f)));
        for name in program_files(command).into_iter().chain(shipped) {
            found
                .entry(name)
                .or_insert_with_key(|name| root_dir.join(name));
        }
    }
    found
        .into_iter()
        .filter_map(|(file, path)| {
            let sha256 = file_sha256(&path)?;
            Some(FileDigest { file, sha256 })
        })
        .collect()
}

/// The root-relative names of the files `command` runs: its program when given
/// as a relative path; for a program named without a path (an interpreter such
/// as `bash` or `python3`), its first argument that is not an option, resolved
/// from the command's working directory (the script it runs). Only these: a
/// later argument may name a file the program writes, which must not bind it.
/// Names that leave the root are not bound here.
fn program_files(command: &Command) -> Vec<String> {
    let Some((program, args)) = command.argv.split_first() else {
        return Vec::new();
    };
    if program.contains('/') {
        return inside(Path::new(program)).into_iter().collect();
    }
    args.iter()
        .find(|arg| !arg.starts_with('-') && !arg.is_empty())
        .and_then(|script| inside(&Path::new(&command.working_dir).join(script)))
        .into_iter()
        .collect()
}

/// `path` as a `/`-separated name inside the root, if it stays there (relative,
/// no `..`); `.` components are dropped.
fn inside(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// sha256 of the regular file at `path` (following links, as `exec` does), read
/// in pieces; None when it is not a readable regular file.
pub(crate) fn file_sha256(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut digest = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => digest.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(format!("{:x}", digest.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str], dir: &str) -> Command {
        Command {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            working_dir: dir.to_string(),
            env: Default::default(),
            ship: Vec::new(),
        }
    }

    #[test]
    fn programs_and_script_arguments_inside_the_root_are_named() {
        assert_eq!(
            program_files(&command(&["plugins/x.sh", "--stdio"], "plugins")),
            ["plugins/x.sh"]
        );
        assert_eq!(
            program_files(&command(&["python3", "-u", "tool.py", "out.log"], "mods")),
            ["mods/tool.py"]
        );
        // A program's own arguments may be files it writes: not bound.
        assert_eq!(
            program_files(&command(&["./x.sh", "state.json"], ".")),
            ["x.sh"]
        );
        // Outside the root, absolute or bare: not bound here.
        assert!(program_files(&command(&["/bin/sh", "/etc/x", "../y"], ".")).is_empty());
    }
}
