//! rune's own inventory format (also what `nodes:` means in a catalog file):
//!
//! ```yaml
//! nodes:
//!   web-1: { host: 10.0.0.5, user: ops, labels: { role: web } }
//!   db-1:  { host: db-1.internal, port: 2222, ssh_options: [ProxyJump=bastion] }
//! groups:
//!   backend: [web-1, db-1]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic};
use crate::yaml::{Node, Value};

use super::{check_def, path_from, FileNodes, NodeDef, Pending};

/// The keys a node may have.
const NODE_KEYS: [&str; 7] = [
    "host",
    "port",
    "user",
    "identity_file",
    "ssh_config",
    "ssh_options",
    "labels",
];

/// The top-level keys of an inventory file.
const TOP_KEYS: [&str; 3] = ["nodes", "groups", "catalog_version"];

/// Read the `nodes:` (and `groups:`) of one parsed file: an inventory file, or a
/// catalog file (whose other top-level keys the catalog schema checks).
pub(super) fn read(
    doc: &Node,
    base: &Path,
    in_catalog: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> FileNodes {
    let mut out = FileNodes::default();
    for entry in doc.as_map() {
        if !in_catalog && !TOP_KEYS.contains(&entry.key.as_str()) {
            diagnostics.push(unknown_key(&entry.key.value, entry.key.span, &TOP_KEYS));
        }
    }
    read_nodes(doc.get("nodes"), base, diagnostics, &mut out);
    if let Some(groups) = doc.get("groups") {
        let Value::Map(entries) = &groups.value else {
            diagnostics.push(wrong_type(
                groups,
                "`groups` is a mapping of group name to node names",
            ));
            return out;
        };
        for entry in entries {
            let mut members = BTreeSet::new();
            match &entry.value.value {
                Value::Seq(items) => {
                    for item in items {
                        match item.as_str() {
                            Some(name) => {
                                members.insert(name.to_string());
                            }
                            None => {
                                diagnostics.push(wrong_type(item, "a group member is a node name"))
                            }
                        }
                    }
                }
                _ => diagnostics.push(wrong_type(&entry.value, "a group is a list of node names")),
            }
            out.groups.insert(entry.key.value.to_string(), members);
        }
    }
    out
}

/// The nodes of a `nodes:` mapping (the catalog loader calls this too).
pub(crate) fn read_nodes(
    nodes: Option<&Node>,
    base: &Path,
    diagnostics: &mut Vec<Diagnostic>,
    out: &mut FileNodes,
) {
    let Some(nodes) = nodes else { return };
    let Value::Map(entries) = &nodes.value else {
        diagnostics.push(wrong_type(
            nodes,
            "`nodes` is a mapping of node name to its settings",
        ));
        return;
    };
    for entry in entries {
        let name = entry.key.value.to_string();
        let span = entry.key.span;
        let fields = &entry.value;
        let mut def = NodeDef {
            name: name.clone(),
            host: name.clone(),
            port: None,
            user: None,
            identity_file: None,
            ssh_config: None,
            ssh_options: Vec::new(),
            labels: BTreeMap::new(),
            groups: Vec::new(),
        };
        let mut ok = true;
        match &fields.value {
            // `web-1:` alone: the name is the host.
            Value::Null => {}
            Value::Map(fields) => {
                for field in fields {
                    let v = &field.value;
                    match field.key.as_str() {
                        "host" => match v.as_str() {
                            Some(s) => def.host = s.to_string(),
                            None => {
                                ok = false;
                                diagnostics.push(wrong_type(v, "`host` is a string"));
                            }
                        },
                        "port" => match v
                            .as_u64()
                            .and_then(|p| u16::try_from(p).ok())
                            .filter(|p| *p > 0)
                        {
                            Some(p) => def.port = Some(p),
                            None => {
                                ok = false;
                                diagnostics.push(
                                    Diagnostic::new(
                                        Code::OutOfRange,
                                        format!(
                                            "node `{name}`: `port` is a number from 1 to 65535"
                                        ),
                                    )
                                    .with_label(v.span, "not a port"),
                                );
                            }
                        },
                        "user" => match v.as_str() {
                            Some(s) => def.user = Some(s.to_string()),
                            None => {
                                ok = false;
                                diagnostics.push(wrong_type(v, "`user` is a string"));
                            }
                        },
                        "identity_file" => match v.as_str() {
                            Some(s) => def.identity_file = Some(path_from(base, s)),
                            None => {
                                ok = false;
                                diagnostics.push(wrong_type(v, "`identity_file` is a path"));
                            }
                        },
                        "ssh_config" => match v.as_str() {
                            Some(s) => def.ssh_config = Some(path_from(base, s)),
                            None => {
                                ok = false;
                                diagnostics.push(wrong_type(v, "`ssh_config` is a path"));
                            }
                        },
                        "ssh_options" => match &v.value {
                            Value::Seq(items) => {
                                for item in items {
                                    match item.as_str() {
                                        Some(s) => def.ssh_options.push(s.to_string()),
                                        None => {
                                            ok = false;
                                            diagnostics.push(wrong_type(
                                                item,
                                                "an ssh option is a string `Key=Value`",
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => {
                                ok = false;
                                diagnostics.push(wrong_type(
                                    v,
                                    "`ssh_options` is a list of `Key=Value` strings",
                                ));
                            }
                        },
                        "labels" => match &v.value {
                            Value::Map(labels) => {
                                for label in labels {
                                    match scalar_text(&label.value) {
                                        Some(text) => {
                                            def.labels.insert(label.key.value.to_string(), text);
                                        }
                                        None => {
                                            ok = false;
                                            diagnostics.push(wrong_type(
                                                &label.value,
                                                "a label's value is a string",
                                            ));
                                        }
                                    }
                                }
                            }
                            _ => {
                                ok = false;
                                diagnostics.push(wrong_type(v, "`labels` is a mapping of strings"));
                            }
                        },
                        other => {
                            ok = false;
                            diagnostics.push(unknown_key(other, field.key.span, &NODE_KEYS));
                        }
                    }
                }
            }
            _ => {
                ok = false;
                diagnostics.push(wrong_type(
                    fields,
                    "a node is a mapping (`host`, `port`, `user`, ...)",
                ));
            }
        }
        if ok && check_def(&def, span, diagnostics) {
            out.nodes.push(Pending { def, span });
        }
    }
}

/// A scalar's text (labels may be written as numbers or booleans).
pub(super) fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::String(s) => Some(s.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(super) fn wrong_type(node: &Node, what: &str) -> Diagnostic {
    Diagnostic::new(Code::WrongType, format!("inventory: {what}")).with_label(node.span, "here")
}

pub(super) fn unknown_key(key: &str, span: crate::source::Span, known: &[&str]) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::UnknownKey,
        format!("inventory: unknown key `{}`", crate::escape::untrusted(key)),
    )
    .with_label(span, "not an inventory key");
    d = match crate::diagnostic::did_you_mean(key, known.iter().copied()) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d.with_help(format!("the keys are {}", known.join(", "))),
    };
    d
}
