//! `rune list-nodes`: the inventory's nodes, how ssh reaches each, their groups
//! and labels.

use crate::cli::{ListNodesArgs, OutputFormat};
use crate::config::Config;
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// Run `rune list-nodes`.
pub(crate) fn run(args: &ListNodesArgs, config: &Config, printer: &mut Printer) -> ExitStatus {
    let channel = Channel {
        json: args.format == OutputFormat::Json,
        color: config.color_stderr,
    };
    // The `nodes:` of the catalogs named with `--catalog` count too (not of
    // `./catalogs` by default: the inventory alone is what most lists want).
    let catalog = crate::loader::load(&config.catalogs);
    if !catalog.diagnostics.is_empty() {
        let kind = if catalog.diagnostics.iter().all(|d| d.is_io()) {
            Refused::Unreadable
        } else {
            Refused::InvalidCatalog
        };
        let diagnostics = crate::diagnostic::finish(catalog.diagnostics, &catalog.sources);
        return refuse(printer, kind, diagnostics, &catalog.sources, channel);
    }
    let files = crate::inventory::catalog_texts(catalog.sources.files());
    let mut sources = SourceMap::default();
    let loaded = crate::inventory::load(&args.inventories, &files, &mut sources);
    let inventory = match loaded {
        Ok(inventory) => inventory,
        Err(diagnostics) => {
            let kind = if diagnostics.iter().all(|d| d.is_io()) {
                Refused::Unreadable
            } else {
                Refused::InvalidCatalog
            };
            return refuse(printer, kind, diagnostics, &sources, channel);
        }
    };
    let nodes = match &args.selector {
        None => inventory.nodes.values().cloned().collect(),
        Some(selector) => match inventory.select(selector) {
            Ok(nodes) => nodes,
            Err(d) => return refuse(printer, Refused::Usage, vec![d], &sources, channel),
        },
    };
    let listed = crate::report::nodes::Listed {
        nodes: &nodes,
        groups: &inventory.groups,
        digest: &inventory.digest,
    };
    if channel.json {
        printer.out_with(|w| listed.write_json(w));
    } else {
        printer.out(&listed.render_human());
    }
    ExitStatus::Success
}

fn refuse(
    printer: &mut Printer,
    kind: Refused,
    diagnostics: Vec<crate::diagnostic::Diagnostic>,
    sources: &SourceMap,
    channel: Channel,
) -> ExitStatus {
    let refusal = Refusal {
        kind,
        diagnostics,
        sources,
        summary: Default::default(),
    };
    refusal::report(printer, refusal, channel)
}
