//! The journal: `--journal FILE` appends every event as one JSON line.
//!
//! The file is opened for appending (never truncated, created 0666 less the umask)
//! and each event is written with a single `write` and flushed, so an interrupted run
//! leaves a complete record up to the interruption and two runs journaling to the
//! same file interleave whole lines. A write that fails is kept and reported at the
//! end of the run; execution itself goes on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::event::{Event, Sink};

/// An open journal file.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    failed: Mutex<Option<io::Error>>,
}

impl Journal {
    /// Open `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> io::Result<Self> {
        // Opening a FIFO for writing blocks until a reader comes: look first, so a
        // journal path that is not a regular file is refused, never waited on.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(io::Error::other("not a regular file"));
            }
            _ => {}
        }
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        // A directory or a FIFO would accept the open and then fail or block later.
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other("not a regular file"));
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            failed: Mutex::new(None),
        })
    }

    /// The journal's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first write that failed, if any.
    pub fn take_failure(&self) -> Option<io::Error> {
        self.failed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
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
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line: with O_APPEND each lands whole at the end of the file.
        if let Err(e) = file.write_all(&line).and_then(|()| file.flush()) {
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    }
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
