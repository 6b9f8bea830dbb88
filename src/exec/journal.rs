//! The journal: `--journal FILE` appends every event as one JSON line.
//!
//! The file is opened for appending (never truncated; created 0600, since events
//! carry parameters, outputs and module messages) and each event is written with a single `write` and flushed, so an interrupted run
//! leaves a complete record up to the interruption and two runs journaling to the
//! same file interleave whole lines. A write that fails is kept and reported at the
//! end of the run, and journaling stops there; execution itself goes on (and the
//! run keeps its own exit code). What a failed write left of its line (a full disk
//! takes part of it) is cut off again when no other writer appended since, and a
//! journal found ending inside a line (a run killed mid-write, or an earlier
//! failure) gets a newline before the first event, so a torn line never corrupts
//! the next one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::event::{Event, Sink};

/// An open journal file.
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    failed: Mutex<Option<io::Error>>,
}

impl Journal {
    /// Open `path` for appending, creating it (0600) if needed, unless it is a file
    /// the command reads (see [`refuse_input`]).
    pub(crate) fn open_checked(path: &Path, inputs: &Inputs) -> io::Result<Self> {
        refuse_input(path, inputs).map_err(io::Error::other)?;
        Self::open(path)
    }

    /// Open `path` for appending, creating it (0600) if needed.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        // Opening a FIFO for writing blocks until a reader comes: look first, so a
        // journal path that is not a regular file is refused, never waited on.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(io::Error::other("not a regular file"));
            }
            _ => {}
        }
        // Read as well, to look at the last byte; a journal we may only write to
        // is appended to without that look.
        let (mut file, readable) = match OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
        {
            Ok(file) => (file, true),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => (
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(path)?,
                false,
            ),
            Err(e) => return Err(e),
        };
        // A directory or a FIFO would accept the open and then fail or block later.
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        // A file that ends inside a line: start on a line of our own.
        if readable && meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(meta.len() - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failed: Mutex::new(None),
        })
    }

    /// The journal's path, as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The first write that failed, if any.
    pub(crate) fn take_failure(&self) -> Option<io::Error> {
        self.failed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// What a command reads, which its journal must never be: appending to any of
/// them would corrupt the input (a catalog, the plan being applied) for the next run.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    /// The catalog paths given (files and directories).
    pub catalog_paths: Vec<PathBuf>,
    /// Every other file read, with what it is ("the plan being applied",
    /// "--params-file", a catalog file found in a directory, ...).
    pub files: Vec<(String, PathBuf)>,
}

/// Refuse a journal path that is a file the command reads, a catalog file a
/// catalog directory would read back next time, or a symbolic link to nothing
/// (creating through it would write wherever the link points, which is rarely
/// what was meant and may be planted).
pub(crate) fn refuse_input(path: &Path, inputs: &Inputs) -> Result<(), String> {
    let shown = |p: &Path| crate::escape::untrusted(&crate::source::display_name(p)).to_string();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() && std::fs::metadata(path).is_err() {
            return Err(format!(
                "`{}` is a symbolic link to a file that does not exist; name the file itself",
                shown(path)
            ));
        }
    }
    let Some(target) = canonical(path) else {
        // Its directory does not exist: the open says so.
        return Ok(());
    };
    for (what, read) in &inputs.files {
        if std::fs::canonicalize(read).is_ok_and(|read| read == target) {
            return Err(format!(
                "`{}` is {what}, which this command reads; journal elsewhere",
                shown(path)
            ));
        }
    }
    for given in &inputs.catalog_paths {
        let Ok(input) = std::fs::canonicalize(given) else {
            continue;
        };
        if input == target {
            return Err(format!(
                "`{}` is a catalog file this command reads; journal elsewhere",
                shown(path)
            ));
        }
        if input.is_dir() && target.starts_with(&input) && crate::loader::is_catalog_file(&target) {
            return Err(format!(
                "`{}` lies in the catalog directory `{}` with a catalog file's name, so the next run would read the journal as a catalog; journal elsewhere",
                shown(path),
                shown(given)
            ));
        }
    }
    Ok(())
}

/// The absolute, link-free path `path` names, existing or not (its directory
/// must exist).
fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = std::fs::canonicalize(path) {
        return Some(path);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

impl Sink for Journal {
    fn emit(&self, event: &Event) {
        let mut line = match serde_json::to_vec(event) {
            Ok(line) => line,
            Err(e) => {
                self.failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(io::Error::other(e));
                return;
            }
        };
        line.push(b'\n');
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_some() {
            // After a failed write the journal is incomplete: writing on would
            // leave holes that look like a complete record.
            return;
        }
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = append_line(&mut file, &line) {
            *failed = Some(e);
        }
    }
}

/// Append `line` whole: one `write` with O_APPEND puts it at the end of the file
/// in one piece. When the file system takes only part of it (a full disk), the
/// part is cut off again, unless another writer appended after it.
fn append_line(file: &mut File, line: &[u8]) -> io::Result<()> {
    let mut written = 0;
    let error = loop {
        match file.write(&line[written..]) {
            Ok(0) => break io::Error::from(io::ErrorKind::WriteZero),
            Ok(n) => {
                written += n;
                if written == line.len() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break e,
        }
    };
    if written > 0 {
        // With O_APPEND the offset is the end of our last write.
        if let (Ok(end), Ok(meta)) = (file.stream_position(), file.metadata()) {
            if meta.len() == end {
                let _ = file.set_len(end - written as u64);
            }
        }
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[test]
    fn appends_one_line_per_event_and_never_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
        let journal = Journal::open(&path).unwrap();
        journal.emit(&Event::Interrupted {
            at: Timestamp::UNIX_EPOCH,
            count: 1,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "{\"earlier\":true}");
        assert!(lines[1].starts_with("{\"event\":\"interrupted\""));
        assert!(journal.take_failure().is_none());
    }

    #[test]
    fn a_journal_ending_inside_a_line_gets_a_newline_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"torn\":").unwrap();
        let journal = Journal::open(&path).unwrap();
        journal.emit(&Event::Interrupted {
            at: Timestamp::UNIX_EPOCH,
            count: 1,
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "{\"torn\":");
        assert!(lines[1].starts_with("{\"event\":\"interrupted\""));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_reader() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(Journal::open(&fifo).is_err());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Journal::open(dir.path()).is_err());
    }
}
