//! `list-nodes` renderers: a table for people, a JSON document for scripts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;

use serde::Serialize;

use crate::escape::untrusted;
use crate::inventory::NodeDef;

/// What `list-nodes` shows.
pub(crate) struct Listed<'a> {
    /// The nodes, sorted by name.
    pub nodes: &'a [Arc<NodeDef>],
    /// Every group and its members.
    pub groups: &'a BTreeMap<String, BTreeSet<String>>,
    /// The inventory's digest (empty when no file was read).
    pub digest: &'a str,
}

#[derive(Serialize)]
struct NodesJson<'a> {
    format_version: u32,
    inventory_digest: &'a str,
    nodes: Vec<&'a NodeDef>,
    groups: &'a BTreeMap<String, BTreeSet<String>>,
}

impl Listed<'_> {
    /// One line per node: name, how ssh reaches it, groups, labels.
    pub(crate) fn render_human(&self) -> String {
        if self.nodes.is_empty() {
            return "no nodes (name an inventory with --inventory FILE; localhost always runs here)\n"
                .to_string();
        }
        let rows: Vec<[String; 4]> = self
            .nodes
            .iter()
            .map(|n| {
                let mut target = String::new();
                if let Some(user) = &n.user {
                    target.push_str(user);
                    target.push('@');
                }
                target.push_str(&n.host);
                if let Some(port) = n.port {
                    target.push_str(&format!(":{port}"));
                }
                let labels: Vec<String> =
                    n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                [
                    untrusted(&n.name).into_owned(),
                    untrusted(&target).into_owned(),
                    untrusted(&n.groups.join(",")).into_owned(),
                    untrusted(&labels.join(",")).into_owned(),
                ]
            })
            .collect();
        let headers = ["NODE", "SSH", "GROUPS", "LABELS"];
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count()).min(48);
            }
        }
        let mut out = String::new();
        let mut line = |cells: [&str; 4]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(&format!("{cell:<w$}  "));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(headers);
        for row in &rows {
            line([&row[0], &row[1], &row[2], &row[3]]);
        }
        out.push_str(&format!(
            "\n{} node{}, {} group{}\n",
            rows.len(),
            if rows.len() == 1 { "" } else { "s" },
            self.groups.len(),
            if self.groups.len() == 1 { "" } else { "s" }
        ));
        out
    }

    /// The JSON document, indented.
    pub(crate) fn write_json(&self, out: &mut impl Write) -> std::io::Result<()> {
        let doc = NodesJson {
            format_version: 1,
            inventory_digest: self.digest,
            nodes: self.nodes.iter().map(|n| &**n).collect(),
            groups: self.groups,
        };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        out.write_all(b"\n")
    }
}
