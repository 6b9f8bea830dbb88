//! Settings resolved from the command line.
//!
//! `cli` holds what the user typed; this turns it into what commands use, so the
//! rules for defaults (catalog paths, colour) live in one place.

use std::path::PathBuf;

use crate::cli::{ColorChoice, GlobalArgs};

/// Where catalogs are read from when no path is given.
pub(crate) const DEFAULT_CATALOG_DIR: &str = "catalogs";

/// Resolved global settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Catalog paths from `--catalog`.
    pub catalogs: Vec<PathBuf>,
    /// Whether diagnostics on stderr are coloured (nothing on stdout ever is).
    pub color_stderr: bool,
    /// `SOURCE_DATE_EPOCH`, when set: the instant plans are evaluated at when `--at`
    /// is not given (the reproducible-builds convention), as written.
    pub source_date_epoch: Option<String>,
}

impl Config {
    /// Resolve the global arguments and the command's `--color`.
    pub(crate) fn from_args(args: &GlobalArgs, color: ColorChoice) -> Self {
        Config {
            catalogs: args.catalogs.clone(),
            color_stderr: crate::report::use_color(color, crate::report::stderr_is_terminal()),
            source_date_epoch: std::env::var_os("SOURCE_DATE_EPOCH")
                .map(|v| v.to_string_lossy().into_owned()),
        }
    }

    /// The catalog paths for a command: its own arguments, else `--catalog`, else `./catalogs`.
    pub(crate) fn catalog_paths(&self, positional: &[PathBuf]) -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = positional.iter().chain(&self.catalogs).cloned().collect();
        if paths.is_empty() {
            paths.push(PathBuf::from(DEFAULT_CATALOG_DIR));
        }
        paths
    }
}
