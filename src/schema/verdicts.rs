//! Schema verdicts remembered between runs: a catalog file this very rune binary
//! found clean against the catalog schema is not checked against it again while
//! its bytes are unchanged.
//!
//! Why: compiling the catalog schema (and jsonschema's Draft 7 meta-schema, which
//! it checks every schema against first) is most of what a command costs on a
//! small catalog: about two thirds of the instructions of `rune run` of a one-line
//! plugin. Operators run the same catalogs again and again, so the verdict is
//! worth keeping, the way a build tool keeps fingerprints.
//!
//! What is kept: one empty file per clean catalog file, named by the sha256 of its
//! format and bytes, in a directory named by the identity of the binary (its
//! version, its embedded catalog schema, and its executable's size, inode and
//! modification time), so a rebuilt or upgraded rune never trusts an older one's
//! verdict. Only a file with no schema diagnostic at all is remembered; every
//! other stage (the registry, the graph, the lifecycle rules) runs every time.
//!
//! Where: `$RUNE_CACHE_DIR`, else `$XDG_CACHE_HOME/rune`, else `$HOME/.cache/rune`;
//! an empty `RUNE_CACHE_DIR` turns the store off. The directory is created 0700
//! and used only when it is a real directory owned by this user that no one else
//! can write: a verdict is trusted, so only its owner may leave one. A store that
//! cannot be created, read or written is simply not used; it never changes a
//! result. `rune validate` never reads it: its job is the full check.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use data_encoding::HEXLOWER;
use sha2::{Digest, Sha256};

use crate::source::SourceFile;

/// Identity directories of other binaries untouched this long are removed when a
/// new one is made (a developer rebuilding rune makes one per build).
const STALE_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// The store of clean verdicts for this binary.
#[derive(Debug)]
pub(crate) struct Verdicts {
    /// `<store>/schema-verdicts/<binary identity>`.
    dir: PathBuf,
}

impl Verdicts {
    /// The store of this user and binary, or `None` when it is turned off or
    /// cannot be used safely.
    pub(crate) fn open() -> Option<Verdicts> {
        let base = store_dir()?;
        let uid = rustix::process::getuid().as_raw();
        let _ = fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&base);
        if !private_dir(&base, uid) {
            return None;
        }
        let verdicts = base.join("schema-verdicts");
        let _ = fs::DirBuilder::new().mode(0o700).create(&verdicts);
        if !private_dir(&verdicts, uid) {
            return None;
        }
        let dir = verdicts.join(binary_identity()?);
        if fs::symlink_metadata(&dir).is_err() {
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => prune_others(&verdicts, &dir),
                // Another run of the same binary made it first.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(_) => return None,
            }
        }
        private_dir(&dir, uid).then_some(Verdicts { dir })
    }

    /// The name a file's verdict is kept under: its format (JSON files are
    /// parsed strictly, the rest as YAML) and its bytes.
    pub(crate) fn key(file: &SourceFile) -> String {
        let format = if crate::loader::is_json(&file.path) {
            "json"
        } else {
            "yaml"
        };
        let mut hash = Sha256::new();
        hash.update(format.as_bytes());
        hash.update([0u8]);
        hash.update(file.text.as_bytes());
        HEXLOWER.encode(&hash.finalize())
    }

    /// Whether the file under `key` was found clean before.
    pub(crate) fn is_clean(&self, key: &str) -> bool {
        fs::symlink_metadata(self.dir.join(key)).is_ok_and(|m| m.is_file())
    }

    /// Remember that the file under `key` is clean (best effort: a full disk or
    /// a read-only store only costs the next run the check).
    pub(crate) fn remember_clean(&self, key: &str) {
        let _ = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.dir.join(key));
    }
}

/// Where the store lives, unless turned off.
fn store_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("RUNE_CACHE_DIR") {
        return (!dir.is_empty()).then(|| PathBuf::from(dir));
    }
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").and_then(absolute) {
        return Some(xdg.join("rune"));
    }
    let home = std::env::var_os("HOME").and_then(absolute)?;
    Some(home.join(".cache").join("rune"))
}

/// A real directory (not a link to one) owned by `uid` that no one else can write.
fn private_dir(dir: &Path, uid: u32) -> bool {
    fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o022 == 0)
}

/// The catalog schema's fingerprint, computed when rune is compiled: hashing its
/// 35 KB at every start would cost more than a verdict saves on a small catalog.
const SCHEMA_FINGERPRINT: u64 = fnv1a(super::SCHEMAS[0].text.as_bytes());

/// 64-bit FNV-1a: a fingerprint that a `const fn` can compute, not a defence
/// against anyone (the binary's identity below is what keys the store).
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// What makes one rune binary's verdicts different from another's.
fn binary_identity() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = fs::metadata(exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    hash.update([0u8]);
    hash.update(SCHEMA_FINGERPRINT.to_le_bytes());
    hash.update(format!("{} {} {}", meta.len(), meta.ino(), modified.as_nanos()).as_bytes());
    Some(HEXLOWER.encode(&hash.finalize()[..16]))
}

/// Remove identity directories of other binaries nobody has used for a while.
fn prune_others(verdicts: &Path, keep: &Path) {
    let Ok(entries) = fs::read_dir(verdicts) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() > STALE_AFTER);
        if path != keep && stale {
            let _ = fs::remove_dir_all(path);
        }
    }
}
