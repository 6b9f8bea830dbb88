//! The inventory: the nodes rune can reach over OpenSSH, their groups and labels.
//!
//! A stage of its own beside the catalog loader: `--inventory FILE` (repeatable)
//! names rune's own format (YAML or JSON, a top-level `nodes:` mapping) or an
//! Ansible inventory (INI, or YAML with `all:`/groups, `hosts`, `children`, `vars`;
//! [`ansible`]). Each file is read with the loader's limits and parsed with spans,
//! so every problem is a located [`Diagnostic`], all reported at once. The result
//! is one [`Inventory`] with a digest of what was read (a saved plan records it).
//!
//! `localhost` and `local` always mean this machine, without ssh; an inventory
//! that defines them is refused, so the name can never silently change meaning.

pub(crate) mod ansible;
mod rune_format;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{SourceFile, SourceMap, Span};

/// Largest inventory file read (16 MiB: far beyond 10,000 nodes).
const MAX_FILE: u64 = 16 << 20;

/// The names that always mean this machine.
pub(crate) const LOCAL_NAMES: [&str; 2] = ["localhost", "local"];

/// One node: how ssh reaches it, and how selectors find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NodeDef {
    /// The inventory name (what `--node` and steps say).
    pub name: String,
    /// An address or an ssh_config alias.
    pub host: String,
    /// `ssh -p`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `ssh -l`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `ssh -i`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<PathBuf>,
    /// `ssh -F`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_config: Option<PathBuf>,
    /// Each one `ssh -o OPTION`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_options: Vec<String>,
    /// Labels for `--nodes key=value`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The groups it belongs to (directly or through children), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// Every node of every inventory given, by name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Inventory {
    /// By name, sorted.
    pub nodes: BTreeMap<String, Arc<NodeDef>>,
    /// Group name to its members (children included), sorted.
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// sha256 of the files read, in the order given (empty when none was).
    pub digest: String,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// A node while one file is being read: where its name was written.
pub(crate) struct Pending {
    pub def: NodeDef,
    pub span: Span,
}

/// What one file gave.
#[derive(Default)]
pub(crate) struct FileNodes {
    pub nodes: Vec<Pending>,
    /// Group name to its direct members.
    pub groups: BTreeMap<String, BTreeSet<String>>,
}

impl Inventory {
    /// The node called `name`, or a diagnostic with a did-you-mean.
    pub(crate) fn node(&self, name: &str) -> Result<&Arc<NodeDef>, Diagnostic> {
        self.nodes.get(name).ok_or_else(|| self.unknown(name))
    }

    /// Unknown node `name`, with the closest name the inventory has.
    pub(crate) fn unknown(&self, name: &str) -> Diagnostic {
        let shown = crate::escape::untrusted(name);
        let mut d = Diagnostic::new(
            Code::UnknownNode,
            format!("no node `{shown}` in the inventory"),
        );
        let suggestion =
            crate::diagnostic::did_you_mean(name, self.nodes.keys().map(String::as_str));
        d = match (suggestion, self.files.is_empty()) {
            (Some(s), _) => d.with_help(format!("did you mean `{s}`?")),
            (None, true) => d.with_help(
                "name the nodes with `--inventory FILE` (rune's `nodes:` format or an Ansible inventory); `localhost` runs here",
            ),
            (None, false) => d.with_help("`rune list-nodes --inventory FILE` lists the nodes"),
        };
        d
    }

    /// The nodes a selector names, sorted by name: `all`, a group, `key=value`
    /// (a label), or one node's name.
    pub(crate) fn select(&self, selector: &str) -> Result<Vec<Arc<NodeDef>>, Diagnostic> {
        let subject = format!("--nodes {}", crate::escape::untrusted(selector.trim()));
        self.select_as(selector, &subject)
    }

    /// [`Inventory::select`], its problems said of `subject` (`--nodes web`, a
    /// workflow step's `nodes`).
    pub(crate) fn select_as(
        &self,
        selector: &str,
        subject: &str,
    ) -> Result<Vec<Arc<NodeDef>>, Diagnostic> {
        let selector = selector.trim();
        if selector == "all" {
            return Ok(self.nodes.values().cloned().collect());
        }
        if let Some((key, value)) = selector.split_once('=') {
            let found: Vec<_> = self
                .nodes
                .values()
                .filter(|n| n.labels.get(key).is_some_and(|v| v == value))
                .cloned()
                .collect();
            if found.is_empty() {
                return Err(Diagnostic::new(
                    Code::UnknownNode,
                    format!(
                        "{subject}: no node has the label `{}={}`",
                        crate::escape::untrusted(key),
                        crate::escape::untrusted(value)
                    ),
                )
                .with_help("`rune list-nodes` shows each node's labels"));
            }
            return Ok(found);
        }
        if let Some(members) = self.groups.get(selector) {
            return Ok(members
                .iter()
                .filter_map(|m| self.nodes.get(m).cloned())
                .collect());
        }
        if let Some(node) = self.nodes.get(selector) {
            return Ok(vec![node.clone()]);
        }
        let candidates = self
            .groups
            .keys()
            .chain(self.nodes.keys())
            .map(String::as_str)
            .chain(["all"]);
        let mut d = Diagnostic::new(
            Code::UnknownNode,
            format!("{subject}: no group or node of that name in the inventory"),
        );
        d = match crate::diagnostic::did_you_mean(selector, candidates) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help("a selector is `all`, a group, a node, or `label=value`"),
        };
        Err(d)
    }
}

/// Whether a catalog file's text may define nodes: a top-level `nodes:` or
/// `groups:` line (YAML), or a `"nodes"` key (JSON). Only those are parsed again.
pub(crate) fn may_define_nodes(path: &Path, text: &str) -> bool {
    if crate::loader::is_json(path) {
        return text.contains("\"nodes\"") || text.contains("\"groups\"");
    }
    // Every command on a catalog asks this of every file: a substring search
    // for a line starting with the key, not a walk over every line.
    let key_at = |rest: &str, key: &str| {
        rest.strip_prefix(key)
            .is_some_and(|after| after.trim_start_matches([' ', '\t']).starts_with(':'))
    };
    ["nodes", "groups"].iter().any(|key| {
        key_at(text, key)
            || text
                .match_indices(&format!("\n{key}"))
                .any(|(i, _)| key_at(&text[i + 1..], key))
    })
}

/// The path and text of the catalog files that may define nodes, for [`load`].
pub(crate) fn catalog_texts<'a>(
    files: impl Iterator<Item = (crate::source::FileId, &'a SourceFile)>,
) -> Vec<(PathBuf, Arc<str>)> {
    files
        .map(|(_, f)| f)
        .filter(|f| may_define_nodes(&f.path, &f.text))
        .map(|f| (f.path.clone(), f.text.clone()))
        .collect()
}

/// Read every inventory file into `sources`, with the `nodes:` and `groups:` of
/// the catalog files already read (`catalog`: path and text, of the files
/// [`may_define_nodes`] picks); the inventory, or every problem found.
pub(crate) fn load(
    paths: &[PathBuf],
    catalog: &[(PathBuf, Arc<str>)],
    sources: &mut SourceMap,
) -> Result<Inventory, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut inventory = Inventory::default();
    let mut hasher = Sha256::new();
    let mut where_defined: BTreeMap<String, Span> = BTreeMap::new();
    for path in paths {
        let Some((id, text)) = read(path, sources, &mut diagnostics) else {
            continue;
        };
        record(&mut inventory, &mut hasher, path, &text);
        let base = path.parent().unwrap_or(Path::new(""));
        let file = if is_yaml(path, &text) {
            let parsed = crate::loader::parse_text(id, path, &text);
            diagnostics.extend(parsed.diagnostics);
            let Some(doc) = parsed.document else { continue };
            if doc.get("nodes").is_some() {
                rune_format::read(&doc, base, false, &mut diagnostics)
            } else {
                ansible::read_yaml(&doc, base, &mut diagnostics)
            }
        } else {
            ansible::read_ini(id, &text, base, &mut diagnostics)
        };
        merge(&mut inventory, file, &mut where_defined, &mut diagnostics);
    }
    for (path, text) in catalog.iter().filter(|(p, t)| may_define_nodes(p, t)) {
        let id = sources.add(SourceFile::new(path, text.clone()));
        let parsed = crate::loader::parse_text(id, path, text);
        // The catalog stage has reported its parse errors already.
        let Some(doc) = parsed.document else { continue };
        if doc.get("nodes").is_none() && doc.get("groups").is_none() {
            continue;
        }
        record(&mut inventory, &mut hasher, path, text);
        let base = path.parent().unwrap_or(Path::new(""));
        let nodes = rune_format::read(&doc, base, true, &mut diagnostics);
        merge(&mut inventory, nodes, &mut where_defined, &mut diagnostics);
    }
    inventory.digest = if inventory.files.is_empty() {
        String::new()
    } else {
        format!("{:x}", hasher.finalize())
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(crate::diagnostic::finish(diagnostics, sources));
    }
    Ok(inventory)
}

/// Count a file the inventory was read from, in its list and its digest.
fn record(inventory: &mut Inventory, hasher: &mut Sha256, path: &Path, text: &str) {
    hasher.update(path.to_string_lossy().as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hasher.update([0]);
    inventory.files.push(path.to_path_buf());
}

/// Add one file's nodes and groups; a name defined twice is an error at the second.
fn merge(
    inventory: &mut Inventory,
    file: FileNodes,
    where_defined: &mut BTreeMap<String, Span>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for Pending { def, span } in file.nodes {
        if LOCAL_NAMES.contains(&def.name.as_str()) {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidInventory,
                    format!(
                        "`{}` always means this machine; an inventory cannot define it",
                        def.name
                    ),
                )
                .with_label(span, "reserved name")
                .with_help(
                    "give the node another name; `host: localhost` reaches this machine over ssh",
                ),
            );
            continue;
        }
        if let Some(first) = where_defined.get(&def.name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidInventory,
                    format!("node `{}` is defined twice", def.name),
                )
                .with_label(span, "defined again here")
                .with_label(*first, "first defined here")
                .with_help("merge the two definitions, or rename one node"),
            );
            continue;
        }
        where_defined.insert(def.name.clone(), span);
        inventory.nodes.insert(def.name.clone(), Arc::new(def));
    }
    for (group, members) in file.groups {
        inventory.groups.entry(group).or_default().extend(members);
    }
    resolve_groups(inventory);
}

/// Close groups over their child groups (Ansible `children`), then record each
/// node's groups on it. A member that is neither a node nor a group is dropped.
fn resolve_groups(inventory: &mut Inventory) {
    let direct = inventory.groups.clone();
    let mut closed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for group in direct.keys() {
        let mut nodes = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![group.clone()];
        while let Some(g) = stack.pop() {
            if !seen.insert(g.clone()) {
                continue; // a cycle of children ends here
            }
            for member in direct.get(&g).into_iter().flatten() {
                if direct.contains_key(member) && !inventory.nodes.contains_key(member) {
                    stack.push(member.clone());
                } else if inventory.nodes.contains_key(member) {
                    nodes.insert(member.clone());
                }
            }
        }
        closed.insert(group.clone(), nodes);
    }
    for (name, node) in inventory.nodes.iter_mut() {
        let groups: Vec<String> = closed
            .iter()
            .filter(|(_, members)| members.contains(name))
            .map(|(g, _)| g.clone())
            .collect();
        if groups != node.groups {
            Arc::make_mut(node).groups = groups;
        }
    }
    inventory.groups = closed;
}

/// Whether to read `path` as YAML (rune's format, Ansible YAML) rather than INI.
fn is_yaml(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if ["yaml", "yml", "json"].contains(&e.to_ascii_lowercase().as_str()) => true,
        Some(e) if ["ini", "cfg"].contains(&e.to_ascii_lowercase().as_str()) => false,
        // No telling extension (Ansible's `hosts`): INI unless it reads as a mapping.
        _ => {
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'));
            first.is_some_and(|l| {
                l == "---" || (l.ends_with(':') && !l.starts_with('[')) || l.starts_with('{')
            })
        }
    }
}

/// Read one file with the loader's limits; its id and text, or a diagnostic.
fn read(
    path: &Path,
    sources: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(crate::source::FileId, Arc<str>)> {
    let shown = crate::source::display_name(path);
    let bytes = match crate::loader::read_limited(path, MAX_FILE) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::FileTooLarge,
                    format!("inventory `{shown}` is larger than {} MiB", MAX_FILE >> 20),
                )
                .with_help("split it, or name only the nodes this run needs"),
            );
            return None;
        }
        Err(e) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::Unreadable,
                    format!("cannot read inventory `{shown}`: {e}"),
                )
                .with_help(
                    "--inventory names a rune inventory (`nodes:`) or an Ansible inventory file",
                ),
            );
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => crate::loader::without_bom(text),
        Err(_) => {
            diagnostics.push(Diagnostic::new(
                Code::NotUtf8,
                format!("inventory `{shown}` is not UTF-8 text"),
            ));
            return None;
        }
    };
    if text.contains('\0') {
        diagnostics.push(Diagnostic::new(
            Code::BinaryFile,
            format!("inventory `{shown}` holds binary data"),
        ));
        return None;
    }
    let text: Arc<str> = Arc::from(text);
    let id = sources.add(SourceFile::new(path, text.clone()));
    Some((id, text))
}

/// A path from an inventory: `~` is left to ssh, a relative path is taken from
/// the inventory file's directory.
pub(crate) fn path_from(base: &Path, written: &str) -> PathBuf {
    let path = PathBuf::from(written);
    if written.starts_with('~') || path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

/// Whether `name` can name a node: what ssh and a shell-free argv can carry
/// without surprise (no leading `-`, no whitespace or control characters).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('-')
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '[' | ']')
        })
}

/// Check the fields every format shares; problems are located at `span`.
pub(crate) fn check_def(def: &NodeDef, span: Span, diagnostics: &mut Vec<Diagnostic>) -> bool {
    let mut ok = true;
    if !valid_name(&def.name) {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidInventory,
                format!(
                    "`{}` is not a node name",
                    crate::escape::untrusted(&def.name)
                ),
            )
            .with_label(span, "here")
            .with_help("use letters, digits, `-`, `_`, `.`, and no leading `-`"),
        );
        ok = false;
    }
    if !valid_name(&def.host) {
        diagnostics.push(
            Diagnostic::new(
                Code::InvalidInventory,
                format!(
                    "node `{}`: host `{}` is not an address or an ssh_config alias",
                    def.name,
                    crate::escape::untrusted(&def.host)
                ),
            )
            .with_label(span, "this node")
            .with_help("a host name, an IP address or an ssh_config alias, without a leading `-`"),
        );
        ok = false;
    }
    if let Some(user) = &def.user {
        if !valid_name(user) {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidInventory,
                    format!(
                        "node `{}`: user `{}` is not a user name",
                        def.name,
                        crate::escape::untrusted(user)
                    ),
                )
                .with_label(span, "this node"),
            );
            ok = false;
        }
    }
    for option in &def.ssh_options {
        let lower = option.to_ascii_lowercase().replace([' ', '\t'], "");
        // rune never lets an inventory turn host key checking off or let ssh prompt.
        let weakens = [
            "stricthostkeychecking=no",
            "stricthostkeychecking=off",
            "batchmode=no",
        ]
        .iter()
        .any(|w| lower == *w);
        let bad = option.is_empty()
            || option.starts_with('-')
            || !option.contains('=')
            || option.chars().any(char::is_control);
        if bad || weakens {
            diagnostics.push(
                Diagnostic::new(
                    Code::InvalidInventory,
                    format!(
                        "node `{}`: ssh option `{}` is refused",
                        def.name,
                        crate::escape::untrusted(option)
                    ),
                )
                .with_label(span, "this node")
                .with_help("rune never turns host key checking off nor lets ssh prompt; options are `Key=Value`"),
            );
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_top_level_nodes_or_groups_key_asks_for_a_second_parse() {
        let yaml = Path::new("c.yaml");
        assert!(may_define_nodes(yaml, "nodes:\n  a:\n"));
        assert!(may_define_nodes(
            yaml,
            "catalog_version: \"1\"\ngroups :\n  g: [a]\n"
        ));
        assert!(!may_define_nodes(
            yaml,
            "workflows:\n  w:\n    steps:\n      - nodes: all\n"
        ));
        assert!(!may_define_nodes(yaml, "nodesx: 1\n# nodes: here\n"));
        assert!(may_define_nodes(Path::new("c.json"), r#"{"nodes": {}}"#));
        assert!(!may_define_nodes(Path::new("c.json"), r#"{"modules": []}"#));
    }
}
