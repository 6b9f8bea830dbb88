//! Ansible inventories, INI and YAML: groups, `children`, `vars`, host ranges
//! (`web[01:20]`), and the connection variables `ansible_host`, `ansible_port`,
//! `ansible_user` and `ansible_ssh_private_key_file` (and their older
//! `ansible_ssh_*` spellings). Every other variable becomes a label, so
//! `--nodes env=prod` selects what `env=prod` marks. Variables apply from `all`,
//! then the other groups by name, then the host's own (Ansible gives child groups
//! precedence over parents; here a host's own variables always win).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};
use crate::yaml::{Node, Value};

use super::rune_format::{scalar_text, wrong_type};
use super::{check_def, path_from, FileNodes, NodeDef, Pending};

/// Most hosts one range pattern may expand to.
const MAX_RANGE: u64 = 100_000;

/// What a file declares before variables are applied.
#[derive(Default)]
struct Declared {
    /// Host name to where it was first written and its own variables.
    hosts: BTreeMap<String, (Span, Vars)>,
    /// Group name to its direct members (hosts and child groups).
    members: BTreeMap<String, BTreeSet<String>>,
    /// Group name to its variables.
    vars: BTreeMap<String, Vars>,
}

/// Variables: name to (text, where written).
type Vars = BTreeMap<String, (String, Span)>;

/// Read an INI inventory.
pub(crate) fn read_ini(
    file: FileId,
    text: &str,
    base: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> FileNodes {
    let mut declared = Declared::default();
    #[derive(PartialEq)]
    enum Section {
        Hosts(String),
        Vars(String),
        Children(String),
    }
    let mut section = Section::Hosts("ungrouped".to_string());
    let mut offset = 0usize;
    for raw in text.split_inclusive('\n') {
        let start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        let span = Span::new(file, start + lead, start + lead + trimmed.len());
        if let Some(header) = trimmed.strip_prefix('[') {
            let Some(header) = header.strip_suffix(']') else {
                diagnostics.push(
                    Diagnostic::new(Code::InvalidInventory, "inventory: a section header is `[group]`, `[group:vars]` or `[group:children]`")
                        .with_label(span, "unclosed `[`"),
                );
                continue;
            };
            section = match header.split_once(':') {
                None => Section::Hosts(header.to_string()),
                Some((g, "vars")) => Section::Vars(g.to_string()),
                Some((g, "children")) => Section::Children(g.to_string()),
                Some((_, other)) => {
                    diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidInventory,
                            format!(
                                "inventory: unknown section kind `:{}`",
                                crate::escape::untrusted(other)
                            ),
                        )
                        .with_label(span, "here")
                        .with_help("the kinds are `:vars` and `:children`"),
                    );
                    Section::Vars(String::new())
                }
            };
            let group = match &section {
                Section::Hosts(g) | Section::Vars(g) | Section::Children(g) => g.clone(),
            };
            if !group.is_empty() {
                declared.members.entry(group).or_default();
            }
            continue;
        }
        let words = split_words(trimmed);
        match &section {
            Section::Hosts(group) => {
                let Some((pattern, rest)) = words.split_first() else {
                    continue;
                };
                let mut vars = Vars::new();
                for word in rest {
                    match word.split_once('=') {
                        Some((k, v)) => {
                            vars.insert(k.to_string(), (v.to_string(), span));
                        }
                        None => diagnostics.push(
                            Diagnostic::new(
                                Code::InvalidInventory,
                                format!(
                                    "inventory: `{}` is not `key=value`",
                                    crate::escape::untrusted(word)
                                ),
                            )
                            .with_label(span, "on this host line"),
                        ),
                    }
                }
                match expand(pattern) {
                    Ok(names) => {
                        for name in names {
                            declared
                                .members
                                .entry(group.clone())
                                .or_default()
                                .insert(name.clone());
                            let entry = declared.hosts.entry(name).or_insert((span, Vars::new()));
                            entry.1.extend(vars.clone());
                        }
                    }
                    Err(why) => diagnostics.push(
                        Diagnostic::new(
                            Code::InvalidInventory,
                            format!(
                                "inventory: host pattern `{}`: {why}",
                                crate::escape::untrusted(pattern)
                            ),
                        )
                        .with_label(span, "here"),
                    ),
                }
            }
            Section::Vars(group) => match trimmed.split_once('=') {
                Some((k, v)) if !group.is_empty() => {
                    declared
                        .vars
                        .entry(group.clone())
                        .or_default()
                        .insert(k.trim().to_string(), (unquote(v.trim()), span));
                }
                Some(_) => {}
                None => diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidInventory,
                        "inventory: a `:vars` line is `key=value`",
                    )
                    .with_label(span, "here"),
                ),
            },
            Section::Children(group) => {
                declared
                    .members
                    .entry(group.clone())
                    .or_default()
                    .insert(trimmed.to_string());
                declared.members.entry(trimmed.to_string()).or_default();
            }
        }
    }
    finish(declared, base, diagnostics)
}

/// Read a YAML inventory: top-level keys are groups (usually `all`).
pub(crate) fn read_yaml(doc: &Node, base: &Path, diagnostics: &mut Vec<Diagnostic>) -> FileNodes {
    let mut declared = Declared::default();
    let Value::Map(groups) = &doc.value else {
        diagnostics.push(wrong_type(
            doc,
            "an inventory is a mapping: `nodes:` (rune's format) or Ansible groups such as `all:`",
        ));
        return FileNodes::default();
    };
    for entry in groups {
        yaml_group(
            &entry.key.value,
            &entry.value,
            &mut declared,
            diagnostics,
            0,
        );
    }
    finish(declared, base, diagnostics)
}

fn yaml_group(
    name: &str,
    node: &Node,
    declared: &mut Declared,
    diagnostics: &mut Vec<Diagnostic>,
    depth: usize,
) {
    declared.members.entry(name.to_string()).or_default();
    if depth > 64 {
        diagnostics.push(wrong_type(node, "groups nest more than 64 deep"));
        return;
    }
    let entries = match &node.value {
        Value::Null => return,
        Value::Map(entries) => entries,
        _ => {
            diagnostics.push(wrong_type(
                node,
                "a group is a mapping of `hosts`, `children` and `vars`",
            ));
            return;
        }
    };
    for entry in entries {
        let v = &entry.value;
        match entry.key.as_str() {
            "hosts" => match &v.value {
                Value::Null => {}
                Value::Map(hosts) => {
                    for host in hosts {
                        let vars = yaml_vars(&host.value, diagnostics);
                        match expand(&host.key.value) {
                            Ok(names) => {
                                for h in names {
                                    declared
                                        .members
                                        .entry(name.to_string())
                                        .or_default()
                                        .insert(h.clone());
                                    declared
                                        .hosts
                                        .entry(h)
                                        .or_insert((host.key.span, Vars::new()))
                                        .1
                                        .extend(vars.clone());
                                }
                            }
                            Err(why) => diagnostics.push(
                                Diagnostic::new(
                                    Code::InvalidInventory,
                                    format!(
                                        "inventory: host pattern `{}`: {why}",
                                        crate::escape::untrusted(&host.key.value)
                                    ),
                                )
                                .with_label(host.key.span, "here"),
                            ),
                        }
                    }
                }
                _ => diagnostics.push(wrong_type(
                    v,
                    "`hosts` is a mapping of host name to its variables",
                )),
            },
            "children" => match &v.value {
                Value::Null => {}
                Value::Map(children) => {
                    for child in children {
                        declared
                            .members
                            .entry(name.to_string())
                            .or_default()
                            .insert(child.key.value.to_string());
                        yaml_group(
                            &child.key.value,
                            &child.value,
                            declared,
                            diagnostics,
                            depth + 1,
                        );
                    }
                }
                _ => diagnostics.push(wrong_type(v, "`children` is a mapping of group names")),
            },
            "vars" => {
                let vars = yaml_vars(v, diagnostics);
                declared
                    .vars
                    .entry(name.to_string())
                    .or_default()
                    .extend(vars);
            }
            other => diagnostics.push(super::rune_format::unknown_key(
                other,
                entry.key.span,
                &["hosts", "children", "vars"],
            )),
        }
    }
}

fn yaml_vars(node: &Node, diagnostics: &mut Vec<Diagnostic>) -> Vars {
    let mut vars = Vars::new();
    match &node.value {
        Value::Null => {}
        Value::Map(entries) => {
            for e in entries {
                // Lists and mappings are Ansible data no connection or label needs.
                if let Some(text) = scalar_text(&e.value) {
                    vars.insert(e.key.value.to_string(), (text, e.value.span));
                }
            }
        }
        _ => diagnostics.push(wrong_type(node, "variables are a mapping")),
    }
    vars
}

/// Apply the variables and make the nodes.
fn finish(declared: Declared, base: &Path, diagnostics: &mut Vec<Diagnostic>) -> FileNodes {
    let mut out = FileNodes::default();
    // Which groups (closed over children) hold each host.
    let mut holding: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for group in declared.members.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![group.as_str()];
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            for m in declared.members.get(g).into_iter().flatten() {
                if declared.hosts.contains_key(m) {
                    holding
                        .entry(m.as_str())
                        .or_default()
                        .insert(group.as_str());
                } else {
                    stack.push(m.as_str());
                }
            }
        }
    }
    for (name, (span, own)) in &declared.hosts {
        let mut vars = Vars::new();
        if let Some(all) = declared.vars.get("all") {
            vars.extend(all.clone());
        }
        for g in holding.get(name.as_str()).into_iter().flatten() {
            if *g != "all" {
                if let Some(v) = declared.vars.get(*g) {
                    vars.extend(v.clone());
                }
            }
        }
        vars.extend(own.clone());
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
        for (key, (value, at)) in vars {
            match key.as_str() {
                "ansible_host" | "ansible_ssh_host" => def.host = value,
                "ansible_port" | "ansible_ssh_port" => match value.parse::<u16>() {
                    Ok(p) if p > 0 => def.port = Some(p),
                    _ => {
                        ok = false;
                        diagnostics.push(
                            Diagnostic::new(
                                Code::OutOfRange,
                                format!("node `{name}`: `{key}` is a port from 1 to 65535"),
                            )
                            .with_label(at, "not a port"),
                        );
                    }
                },
                "ansible_user" | "ansible_ssh_user" => def.user = Some(value),
                "ansible_ssh_private_key_file" | "ansible_private_key_file" => {
                    def.identity_file = Some(path_from(base, &value));
                }
                // Other Ansible settings (become, python interpreter...) mean
                // nothing to rune's transport.
                k if k.starts_with("ansible_") => {}
                _ => {
                    def.labels.insert(key, value);
                }
            }
        }
        if ok && check_def(&def, *span, diagnostics) {
            out.nodes.push(Pending { def, span: *span });
        }
    }
    for (group, members) in declared.members {
        out.groups.insert(group, members);
    }
    out
}

/// Split a host line into words; `key="a b"` keeps its quoted value whole.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if word.is_empty() => break,
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn unquote(v: &str) -> String {
    let bytes = v.as_bytes();
    if bytes.len() >= 2
        && (bytes[0] == b'"' || bytes[0] == b'\'')
        && bytes[bytes.len() - 1] == bytes[0]
    {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// Expand one numeric or letter range, `web[01:20]` or `db-[a:c]`; a name
/// without brackets is itself.
fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let Some(close) = pattern[open..].find(']').map(|c| c + open) else {
        return Err("`[` without `]`".to_string());
    };
    let (prefix, inner, suffix) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let Some((from, to)) = inner.split_once(':') else {
        return Err("a range is `[FROM:TO]`".to_string());
    };
    let to = to.split(':').next().unwrap_or(to);
    let rest = expand(suffix)?;
    let mut names = Vec::new();
    if let (Ok(a), Ok(b)) = (from.parse::<u64>(), to.parse::<u64>()) {
        if b < a || b - a >= MAX_RANGE {
            return Err(format!(
                "the range must rise and hold at most {MAX_RANGE} names"
            ));
        }
        let width = if from.starts_with('0') { from.len() } else { 0 };
        for n in a..=b {
            for r in &rest {
                names.push(format!("{prefix}{n:0width$}{r}"));
            }
        }
        return Ok(names);
    }
    let (fa, ta): (Vec<char>, Vec<char>) = (from.chars().collect(), to.chars().collect());
    match (fa.as_slice(), ta.as_slice()) {
        (&[a], &[b]) if a.is_ascii_lowercase() && b.is_ascii_lowercase() && a <= b => {
            for c in a..=b {
                for r in &rest {
                    names.push(format!("{prefix}{c}{r}"));
                }
            }
            Ok(names)
        }
        _ => Err("a range is numbers (`[01:20]`) or letters (`[a:f]`)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_with_their_width() {
        assert_eq!(
            expand("web[01:03].x").unwrap(),
            ["web01.x", "web02.x", "web03.x"]
        );
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert!(expand("x[3:1]").is_err());
        assert!(expand("x[1:").is_err());
    }

    #[test]
    fn ini_groups_children_and_vars() {
        let text = "h0\n[web]\nweb[1:2] ansible_user=ops\n[db]\ndb1 ansible_host=10.0.0.9 ansible_port=2222 env=prod\n[prod:children]\nweb\ndb\n[prod:vars]\nansible_ssh_private_key_file=keys/id\n";
        let mut d = Vec::new();
        let out = read_ini(FileId(0), text, Path::new("/inv"), &mut d);
        assert!(d.is_empty(), "{d:?}");
        let by: BTreeMap<_, _> = out
            .nodes
            .iter()
            .map(|p| (p.def.name.as_str(), &p.def))
            .collect();
        assert_eq!(by.len(), 4);
        assert_eq!(by["web1"].user.as_deref(), Some("ops"));
        assert_eq!(by["db1"].host, "10.0.0.9");
        assert_eq!(by["db1"].port, Some(2222));
        assert_eq!(by["db1"].labels["env"], "prod");
        assert_eq!(
            by["db1"].identity_file.as_deref(),
            Some(Path::new("/inv/keys/id"))
        );
        assert_eq!(by["h0"].identity_file, None);
        assert!(out.groups["prod"].contains("web"));
    }
}
