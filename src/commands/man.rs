//! `rune man`: manual pages in roff, generated from the clap definition.
//!
//! By default the `rune(1)` page goes to stdout (it lists every command); with
//! `--out-dir` every page (`rune.1`, `rune-plan.1`, ...) is written there, which is
//! what packagers install under `share/man/man1`.

use std::path::Path;

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::diagnostic::{Code, Diagnostic};
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::save::SaveError;
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// Run `rune man`.
pub(crate) fn run(args: &ManArgs, color: bool, printer: &mut Printer) -> ExitStatus {
    let pages = pages();
    let Some(dir) = &args.out_dir else {
        printer.out(&pages[0].1);
        return ExitStatus::Success;
    };
    let shown = crate::escape::untrusted(&crate::source::display_name(dir)).into_owned();
    for (name, page) in &pages {
        if let Err(e) = write_page(dir, name, page) {
            let d = Diagnostic::new(
                Code::UnwritableOut,
                format!("cannot write {name} in `{shown}`: {e}"),
            );
            let refusal = Refusal {
                kind: Refused::Usage,
                diagnostics: vec![d],
                sources: &SourceMap::default(),
                summary: Default::default(),
            };
            return refusal::report(printer, refusal, Channel { json: false, color });
        }
    }
    printer.err(&format!("{} man pages written to {shown}\n", pages.len()));
    ExitStatus::Success
}

/// Every page as (file name, roff text): `rune.1` first, then one per command.
fn pages() -> Vec<(String, String)> {
    // `rune help` is clap's own; it has no page of its own, like `git help`.
    let mut root = Cli::command().disable_help_subcommand(true);
    // Building gives subcommands their display names (`rune-plan`).
    root.build();
    let mut pages = vec![render(root.clone())];
    pages.extend(
        root.get_subcommands()
            .filter(|c| !c.is_hide_set())
            .cloned()
            .map(render),
    );
    pages
}

fn render(command: clap::Command) -> (String, String) {
    // Every page names the program and version it documents (a subcommand has no
    // version of its own, so clap_mangen would print only its name).
    let man = clap_mangen::Man::new(command).source(concat!("rune ", env!("CARGO_PKG_VERSION")));
    let mut roff = Vec::new();
    // Rendering into memory cannot fail.
    let _ = man.render(&mut roff);
    (
        man.get_filename(),
        String::from_utf8_lossy(&roff).into_owned(),
    )
}

fn write_page(dir: &Path, name: &str, page: &str) -> Result<(), String> {
    if !dir.is_dir() {
        return Err(if dir.exists() {
            "not a directory".to_string()
        } else {
            "no such directory".to_string()
        });
    }
    // As `plan --out` saves: a FIFO or device at a page's name is refused, not
    // opened (writing to a FIFO nobody reads would hang), and a reader never sees
    // half a page.
    match crate::report::save::save_atomically(&dir.join(name), page.as_bytes()) {
        Ok(_) => Ok(()),
        Err(SaveError::NotAFile { kind, .. }) => Err(format!("it is {kind}, not a regular file")),
        Err(e) => Err(e.to_string()),
    }
}
