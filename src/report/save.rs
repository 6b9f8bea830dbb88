//! Saving a document to a file the user named (`plan --out FILE`).
//!
//! The file is replaced atomically (a temporary file beside it, synced, renamed
//! over it), so a reader sees the old document or the new one, never half of each.
//! Renaming replaces whatever sits at the path, so the path is looked at first: a
//! symbolic link is followed to the file it names (the link stays a link), a new
//! file or a regular file is written, and anything else (a directory, a FIFO, a
//! device, a socket) is refused rather than replaced.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Symbolic links followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Why a document was not saved.
#[derive(Debug)]
pub(crate) enum SaveError {
    /// The path names something that is neither a regular file nor absent.
    NotAFile {
        /// The path, after following symbolic links.
        target: PathBuf,
        /// What is there: "a directory", "a FIFO", ...
        kind: &'static str,
    },
    /// Symbolic links that never end at a file.
    TooManyLinks,
    /// The directory the file would go in does not exist.
    NoDirectory(PathBuf),
    /// The path is a catalog file rune reads, or would be read as one.
    CatalogInput {
        /// The path, after following symbolic links.
        target: PathBuf,
        /// Why writing there would clobber or pollute the catalog.
        why: String,
    },
    /// Reading the path, or writing, syncing or renaming the temporary file, failed.
    Io(io::Error),
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::NotAFile { target, kind } => write!(
                f,
                "`{}` is {kind}, not a regular file; give a file path, or `-` for stdout",
                crate::escape::untrusted(&crate::source::display_name(target))
            ),
            SaveError::TooManyLinks => f.write_str("too many levels of symbolic links"),
            SaveError::NoDirectory(dir) => write!(
                f,
                "the directory `{}` does not exist",
                crate::escape::untrusted(&crate::source::display_name(dir))
            ),
            SaveError::CatalogInput { target, why } => write!(
                f,
                "`{}` {why}; write the plan outside the catalog paths",
                crate::escape::untrusted(&crate::source::display_name(target))
            ),
            SaveError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SaveError {}

impl From<io::Error> for SaveError {
    fn from(e: io::Error) -> Self {
        SaveError::Io(e)
    }
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The file a write to `path` should replace: `path` itself, or where its symbolic
/// links lead. Refuses anything that is not a regular file or absent.
pub(crate) fn resolve_target(path: &Path) -> Result<PathBuf, SaveError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(meta) if meta.file_type().is_file() => return Ok(current),
            Ok(meta) => {
                return Err(SaveError::NotAFile {
                    target: current,
                    kind: kind_of(meta.file_type()),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e.into()),
        }
    }
    Err(SaveError::TooManyLinks)
}

/// Refuse a target that is one of the catalog files read (it would be replaced) or
/// that lies in a catalog directory with a catalog extension (the next run would
/// read the plan as a catalog).
pub(crate) fn refuse_catalog_input(
    path: &Path,
    catalog_paths: &[PathBuf],
) -> Result<(), SaveError> {
    let target = resolve_target(path)?;
    let Some(canonical) = canonical_target(&target) else {
        return Err(SaveError::NoDirectory(directory_of(&target)));
    };
    for given in catalog_paths {
        let Ok(input) = std::fs::canonicalize(given) else {
            continue;
        };
        if input == canonical {
            return Err(SaveError::CatalogInput {
                target,
                why: "is a catalog file this plan reads".to_string(),
            });
        }
        // The walk skips hidden entries, so a hidden file is never read back.
        let read_back = canonical.strip_prefix(&input).is_ok_and(|rest| {
            !rest
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        });
        if input.is_dir() && read_back && crate::loader::is_catalog_file(&canonical) {
            return Err(SaveError::CatalogInput {
                target,
                why: format!(
                    "lies in the catalog directory `{}`, so the next run would read the plan as a catalog",
                    crate::escape::untrusted(&crate::source::display_name(given))
                ),
            });
        }
    }
    Ok(())
}

/// The directory a file at `target` goes in (`.` for a bare name).
fn directory_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The absolute, link-free path a target will have, when its directory exists.
fn canonical_target(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?;
    let dir = std::fs::canonicalize(directory_of(target)).ok()?;
    dir.is_dir().then(|| dir.join(name))
}

/// Write `bytes` to `path` atomically (see the module doc); returns the file written.
/// An existing file keeps its permissions.
pub(crate) fn save_atomically(path: &Path, bytes: &[u8]) -> Result<PathBuf, SaveError> {
    save_streaming(path, |w| w.write_all(bytes)).map(|(target, _)| target)
}

/// Write what `write` produces to `path` atomically, streamed into the temporary
/// file (never held whole in memory); returns the file written and the sha256 of
/// its bytes. Every error of `write`, of the final flush and of the sync is
/// returned, and then the temporary file is removed and `path` left as it was.
pub(crate) fn save_streaming(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(PathBuf, String), SaveError> {
    let target = resolve_target(path)?;
    let dir = directory_of(&target);
    if !dir.is_dir() {
        return Err(SaveError::NoDirectory(dir));
    }
    // A unique name created exclusively: nothing planted at a guessable name is
    // followed or truncated. A new file gets the mode a shell redirect would give
    // (0666 less the umask), not the private 0600 of a temporary file.
    let mut builder = tempfile::Builder::new();
    builder.prefix(".rune-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let temp = builder.tempfile_in(&dir)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        temp.as_file().set_permissions(meta.permissions())?;
    }
    let mut hashing = Hashing {
        inner: io::BufWriter::with_capacity(1 << 16, temp),
        digest: sha2::Sha256::default(),
    };
    write(&mut hashing)?;
    hashing.flush()?;
    let Hashing { inner, digest } = hashing;
    // `into_inner` flushes again; its error is the write error, not a lost one.
    let temp = inner
        .into_inner()
        .map_err(|e| SaveError::Io(e.into_error()))?;
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|e| SaveError::Io(e.error))?;
    use sha2::Digest;
    let hex = data_encoding::HEXLOWER.encode(&digest.finalize());
    Ok((target, hex))
}

/// A writer that digests what it passes on, so the digest of a saved file needs
/// no second read (which could see a different file).
struct Hashing<W> {
    inner: W,
    digest: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
