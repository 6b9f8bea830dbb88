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
pub enum SaveError {
    /// The path names something that is neither a regular file nor absent.
    NotAFile {
        /// The path, after following symbolic links.
        target: PathBuf,
        /// What is there: "a directory", "a FIFO", ...
        kind: &'static str,
    },
    /// Symbolic links that never end at a file.
    TooManyLinks,
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
pub fn resolve_target(path: &Path) -> Result<PathBuf, SaveError> {
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

/// Write `bytes` to `path` atomically (see the module doc); returns the file written.
/// An existing file keeps its permissions.
pub fn save_atomically(path: &Path, bytes: &[u8]) -> Result<PathBuf, SaveError> {
    let target = resolve_target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // A unique name created exclusively: nothing planted at a guessable name is
    // followed or truncated.
    let mut temp = tempfile::Builder::new()
        .prefix(".rune-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        temp.as_file().set_permissions(meta.permissions())?;
    }
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(&target).map_err(|e| SaveError::Io(e.error))?;
    Ok(target)
}
