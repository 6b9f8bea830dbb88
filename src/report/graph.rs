//! Dependency graph renderers: Graphviz DOT, Mermaid and JSON.
//!
//! Nodes are modules labelled `name@version`; edges point from a dependent to its
//! dependency, optional ones dashed. Both are sorted by name, and a dependency
//! declared twice is drawn once (required wins over optional), so the output is
//! stable and diffs cleanly in a pull request.

use serde_json::json;

use crate::escape::untrusted;
use crate::graph::DependencyGraph;
use crate::registry::{Criticality, Registry};

/// One module as drawn.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphNode {
    /// Module name.
    pub name: String,
    /// `module_version`, when declared.
    pub version: Option<String>,
    /// `lifecycle.runtime`.
    pub runtime: &'static str,
}

impl GraphNode {
    fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One dependency as drawn.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraphEdge {
    /// The dependent module.
    pub from: String,
    /// The module depended on.
    pub to: String,
    /// Required or optional.
    pub criticality: Criticality,
}

/// The sorted nodes and edges of the graph.
pub fn sorted_graph(
    registry: &Registry,
    graph: &DependencyGraph,
) -> (Vec<GraphNode>, Vec<GraphEdge>) {
    let mut nodes: Vec<GraphNode> = graph
        .graph
        .node_weights()
        .map(|&m| {
            let module = &registry.modules[m];
            GraphNode {
                name: module.name.value.clone(),
                version: module.version.as_ref().map(|v| v.value.clone()),
                runtime: module.lifecycle.runtime.as_str(),
            }
        })
        .collect();
    nodes.sort();
    let mut edges: Vec<GraphEdge> = graph
        .graph
        .edge_indices()
        .filter_map(|e| {
            let (from, to) = graph.graph.edge_endpoints(e)?;
            let r = graph.graph[e];
            Some(GraphEdge {
                from: registry.modules[graph.graph[from]].name.value.clone(),
                to: registry.modules[graph.graph[to]].name.value.clone(),
                criticality: registry.modules[r.module].dependencies[r.dependency].criticality,
            })
        })
        .collect();
    // Required sorts before optional, so dedup on (from, to) keeps the required edge.
    edges.sort();
    edges.dedup_by(|b, a| a.from == b.from && a.to == b.to);
    (nodes, edges)
}

/// A DOT quoted string: control characters as visible escapes, then backslashes and
/// quotes escaped, so a name cannot end the string or the statement.
fn dot_quote(s: &str) -> String {
    format!(
        "\"{}\"",
        untrusted(s).replace('\\', "\\\\").replace('"', "\\\"")
    )
}

/// A Mermaid node label: control characters as visible escapes, and the characters
/// that end a label or start markup as Mermaid entity codes.
fn mermaid_label(s: &str) -> String {
    untrusted(s)
        .replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Graphviz DOT: `dot -Tsvg` renders it.
pub fn render_dot(registry: &Registry, graph: &DependencyGraph) -> String {
    let (nodes, edges) = sorted_graph(registry, graph);
    let mut out = String::from("digraph rune {\n  rankdir=BT;\n  node [shape=box];\n");
    for n in &nodes {
        out.push_str(&format!(
            "  {} [label={}];\n",
            dot_quote(&n.name),
            dot_quote(&n.label())
        ));
    }
    for e in &edges {
        let style = match e.criticality {
            Criticality::Required => "",
            Criticality::Optional => " [style=dashed]",
        };
        out.push_str(&format!(
            "  {} -> {}{style};\n",
            dot_quote(&e.from),
            dot_quote(&e.to)
        ));
    }
    out.push_str("}\n");
    out
}

/// A Mermaid flowchart, for pasting into a pull request. Module names may hold
/// characters Mermaid ids cannot, so nodes get ids `m0`, `m1`, … in name order.
pub fn render_mermaid(registry: &Registry, graph: &DependencyGraph) -> String {
    let (nodes, edges) = sorted_graph(registry, graph);
    let id = |name: &str| {
        nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .map(|i| format!("m{i}"))
            .unwrap_or_default()
    };
    let mut out = String::from("flowchart BT\n");
    for (i, n) in nodes.iter().enumerate() {
        out.push_str(&format!("  m{i}[\"{}\"]\n", mermaid_label(&n.label())));
    }
    for e in &edges {
        let arrow = match e.criticality {
            Criticality::Required => "-->",
            Criticality::Optional => "-.->",
        };
        out.push_str(&format!("  {} {arrow} {}\n", id(&e.from), id(&e.to)));
    }
    out
}

/// `{format_version: 1, nodes: [{name, version, runtime}], edges: [{from, to, criticality}]}`.
pub fn render_json(registry: &Registry, graph: &DependencyGraph) -> String {
    let (nodes, edges) = sorted_graph(registry, graph);
    let doc = json!({
        "format_version": 1,
        "nodes": nodes.iter().map(|n| json!({
            "name": n.name,
            "version": n.version,
            "runtime": n.runtime,
        })).collect::<Vec<_>>(),
        "edges": edges.iter().map(|e| json!({
            "from": e.from,
            "to": e.to,
            "criticality": match e.criticality {
                Criticality::Required => "required",
                Criticality::Optional => "optional",
            },
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_cannot_be_ended_or_carry_controls() {
        assert_eq!(
            dot_quote("a\"; evil -> x; \"\u{1b}[2K\\"),
            r#""a\"; evil -> x; \"\\e[2K\\""#
        );
    }

    #[test]
    fn mermaid_labels_cannot_be_ended_or_carry_markup_or_controls() {
        assert_eq!(
            mermaid_label("a\"]\n<b>#x\u{202e}"),
            r"a#quot;]\n#lt;b#gt;#35;x\u{202e}"
        );
    }
}
