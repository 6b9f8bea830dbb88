//! Dependency graph renderers: Graphviz DOT, Mermaid and JSON.
//!
//! Nodes are modules labelled `name@version`; edges point from a dependent to its
//! dependency, optional ones dashed. Both are sorted by name, and a dependency
//! declared twice is drawn once (required wins over optional), so the output is
//! stable and diffs cleanly in a pull request.

use std::io::Write;

use serde::Serialize;

use crate::escape::untrusted;
use crate::graph::DependencyGraph;
use crate::registry::{Criticality, Registry};

/// One module as drawn, borrowed from the registry (a graph of 100,000 modules
/// and 300,000 edges is not worth a copy of every name). Its fields are the JSON
/// form's, in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GraphNode<'a> {
    /// Module name.
    pub name: &'a str,
    /// `module_version`, when declared.
    pub version: Option<&'a str>,
    /// `lifecycle.runtime`.
    pub runtime: &'static str,
}

impl GraphNode<'_> {
    fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// One dependency as drawn, its fields in the JSON form's order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct GraphEdge<'a> {
    /// The dependent module.
    pub from: &'a str,
    /// The module depended on.
    pub to: &'a str,
    /// Required or optional.
    #[serde(serialize_with = "criticality_name")]
    pub criticality: Criticality,
}

fn criticality_name<S: serde::Serializer>(c: &Criticality, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match c {
        Criticality::Required => "required",
        Criticality::Optional => "optional",
    })
}

/// The sorted nodes and edges of the graph.
pub fn sorted_graph<'a>(
    registry: &'a Registry,
    graph: &DependencyGraph,
) -> (Vec<GraphNode<'a>>, Vec<GraphEdge<'a>>) {
    let mut nodes: Vec<GraphNode<'a>> = graph
        .graph
        .node_weights()
        .map(|&m| {
            let module = &registry.modules[m];
            GraphNode {
                name: module.name.value.as_str(),
                version: module.version.as_ref().map(|v| v.value.as_str()),
                runtime: module.lifecycle.runtime.as_str(),
            }
        })
        .collect();
    nodes.sort_unstable();
    let mut edges: Vec<GraphEdge<'a>> = graph
        .graph
        .edge_indices()
        .filter_map(|e| {
            let (from, to) = graph.graph.edge_endpoints(e)?;
            let r = graph.graph[e];
            Some(GraphEdge {
                from: registry.modules[graph.graph[from]].name.value.as_str(),
                to: registry.modules[graph.graph[to]].name.value.as_str(),
                criticality: registry.modules[r.module].dependencies[r.dependency].criticality,
            })
        })
        .collect();
    // Required sorts before optional, so dedup on (from, to) keeps the required edge.
    edges.sort_unstable();
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
            dot_quote(n.name),
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
            dot_quote(e.from),
            dot_quote(e.to)
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
            .binary_search_by(|n| n.name.cmp(name))
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
        out.push_str(&format!("  {} {arrow} {}\n", id(e.from), id(e.to)));
    }
    out
}

/// The JSON form: `{format_version: 1, nodes: [{name, version, runtime}], edges:
/// [{from, to, criticality}]}`, keys in that order.
#[derive(Serialize)]
struct GraphJson<'a> {
    format_version: u32,
    nodes: Vec<GraphNode<'a>>,
    edges: Vec<GraphEdge<'a>>,
}

/// Write the JSON form to `out`, serialised as it goes (no intermediate value tree).
pub fn write_json(
    registry: &Registry,
    graph: &DependencyGraph,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (nodes, edges) = sorted_graph(registry, graph);
    let doc = GraphJson {
        format_version: 1,
        nodes,
        edges,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
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
