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
use crate::registry::{Criticality, Registry, Workflow};

/// One module as drawn, borrowed from the registry (a graph of 100,000 modules
/// and 300,000 edges is not worth a copy of every name). Its fields are the JSON
/// form's, in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct GraphNode<'a> {
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
pub(crate) struct GraphEdge<'a> {
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
pub(crate) fn sorted_graph<'a>(
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
    format!("\"{}\"", dot_text(s))
}

/// The inside of a DOT quoted string (see [`dot_quote`]). Graphviz decodes HTML
/// character references in labels (`&#27;` draws a real ESC), so `&` is written
/// as `&amp;`, which it draws as `&`.
fn dot_text(s: &str) -> String {
    untrusted(s)
        .replace('&', "&amp;")
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

/// A Mermaid node label: control characters as visible escapes, and the characters
/// that end a label or start markup as Mermaid entity codes.
fn mermaid_label(s: &str) -> String {
    // `&` too: labels become HTML, where `&#27;` would be a character reference.
    untrusted(s)
        .replace('#', "#35;")
        .replace('&', "#38;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Graphviz DOT: `dot -Tsvg` renders it.
pub(crate) fn render_dot(registry: &Registry, graph: &DependencyGraph) -> String {
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
pub(crate) fn render_mermaid(registry: &Registry, graph: &DependencyGraph) -> String {
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
    #[serde(serialize_with = "crate::pretty_json::par_seq")]
    nodes: Vec<GraphNode<'a>>,
    #[serde(serialize_with = "crate::pretty_json::par_seq")]
    edges: Vec<GraphEdge<'a>>,
}

/// Write the JSON form to `out`, serialised as it goes (no intermediate value tree).
pub(crate) fn write_json(
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
    crate::pretty_json::write(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// The module graph as text: each module (sorted by name) with the modules it
/// depends on, optional ones marked.
pub(crate) fn render_text(registry: &Registry, graph: &DependencyGraph) -> String {
    let (nodes, edges) = sorted_graph(registry, graph);
    let mut out = format!(
        "module graph: {}, {} {}\n",
        super::plural(nodes.len(), "module"),
        edges.len(),
        if edges.len() == 1 {
            "dependency"
        } else {
            "dependencies"
        }
    );
    // Edges are sorted by dependent: one pass pairs them with their nodes.
    let mut rest = edges.as_slice();
    for n in &nodes {
        out.push_str(&format!("  {}\n", untrusted(&n.label())));
        let split = rest.iter().take_while(|e| e.from == n.name).count();
        let (mine, later) = rest.split_at(split);
        for e in mine {
            out.push_str(&format!(
                "    → {}{}\n",
                untrusted(e.to),
                match e.criticality {
                    Criticality::Required => "",
                    Criticality::Optional => " (optional)",
                }
            ));
        }
        rest = later;
    }
    out
}

/// One step of a workflow as drawn; its fields are the JSON form's, in order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepNode<'a> {
    /// The step id.
    pub id: &'a str,
    /// The action it runs.
    pub action: &'a str,
    /// 1-based wave: one more than the latest wave of the steps it needs.
    pub wave: u64,
    /// Steps that must finish first, as declared.
    pub needs: Vec<&'a str>,
    /// `success`, `failure` or `always`.
    #[serde(rename = "if")]
    pub condition: &'static str,
    /// The value condition, if any.
    pub when: Option<WhenNode>,
    /// Whether a failure lets the workflow go on.
    pub continue_on_error: bool,
    /// The action of the step's compensation, if it declares one.
    pub compensate: Option<&'a str>,
}

/// A step's `when`, as drawn.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WhenNode {
    /// The reference read.
    pub from: String,
    /// `equals` or `not_equals`.
    pub test: &'static str,
    /// The value compared with.
    pub value: serde_json::Value,
}

impl WhenNode {
    fn text(&self) -> String {
        format!("{} {} {}", self.from, self.test, self.value)
    }
}

/// An edge of a workflow drawing (a `needs`), its fields in the JSON form's order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepEdge<'a> {
    /// The step needed.
    pub from: &'a str,
    /// The step that needs it.
    pub to: &'a str,
}

/// The steps of `workflow` (declaration order) with their `waves` (from
/// `plan::workflow::step_waves`), as drawn.
pub(crate) fn workflow_nodes<'a>(workflow: &'a Workflow, waves: &[u64]) -> Vec<StepNode<'a>> {
    workflow
        .steps
        .iter()
        .zip(waves)
        .map(|(step, &wave)| StepNode {
            id: step.id.value.as_str(),
            action: step.action.value.as_str(),
            wave,
            needs: step.needs.iter().map(|n| n.value.as_str()).collect(),
            condition: step.condition.as_str(),
            when: step.when.as_ref().and_then(|w| {
                let from = w.get("from")?.as_str()?.to_string();
                let (test, value) = match (w.get("equals"), w.get("not_equals")) {
                    (Some(v), _) => ("equals", v.to_json()),
                    (None, Some(v)) => ("not_equals", v.to_json()),
                    (None, None) => return None,
                };
                Some(WhenNode { from, test, value })
            }),
            continue_on_error: step.continue_on_error,
            compensate: step.compensate.as_ref().map(|c| c.action.value.as_str()),
        })
        .collect()
}

/// The marks of a step: its `if` when not the default, its `when`, continue on error.
fn step_marks(node: &StepNode<'_>) -> Vec<String> {
    let mut marks = Vec::new();
    if node.condition != "success" {
        marks.push(format!("if {}", node.condition));
    }
    if let Some(when) = &node.when {
        marks.push(format!("when {}", when.text()));
    }
    if node.continue_on_error {
        marks.push("continue on error".to_string());
    }
    marks
}

/// The name a compensation node gets: cannot be a step id (those have no spaces).
fn undo_id(step: &str) -> String {
    format!("undo {step}")
}

/// A workflow's step DAG as Graphviz DOT: edges from a needed step to the step
/// that needs it; compensations as dashed notes with a dashed edge from the step
/// they undo; a step's `if`, `when` and continue on error in its label, and a
/// step that runs on failure or always drawn with a double border.
pub(crate) fn render_workflow_dot(workflow: &Workflow, waves: &[u64]) -> String {
    let nodes = workflow_nodes(workflow, waves);
    // Lines of a label, each escaped, joined by DOT's `\n` line break (a
    // backslash in a name is escaped, so it cannot form one).
    let label = |lines: &[String]| {
        lines
            .iter()
            .map(|l| dot_text(l))
            .collect::<Vec<_>>()
            .join("\\n")
    };
    let mut out = format!(
        "digraph {} {{\n  rankdir=TB;\n  node [shape=box];\n",
        dot_quote(&workflow.name.value)
    );
    for n in &nodes {
        let mut lines = vec![n.id.to_string(), n.action.to_string()];
        lines.extend(step_marks(n).into_iter().map(|m| format!("[{m}]")));
        let mut attrs = format!("label=\"{}\"", label(&lines));
        if n.condition != "success" {
            attrs.push_str(", peripheries=2");
        }
        if n.continue_on_error {
            attrs.push_str(", style=rounded");
        }
        out.push_str(&format!("  {} [{attrs}];\n", dot_quote(n.id)));
        if let Some(action) = n.compensate {
            out.push_str(&format!(
                "  {} [label=\"{}\", shape=note, style=dashed];\n",
                dot_quote(&undo_id(n.id)),
                label(&[undo_id(n.id), action.to_string()])
            ));
        }
    }
    for n in &nodes {
        for need in &n.needs {
            out.push_str(&format!("  {} -> {};\n", dot_quote(need), dot_quote(n.id)));
        }
        if n.compensate.is_some() {
            out.push_str(&format!(
                "  {} -> {} [style=dashed, arrowhead=empty];\n",
                dot_quote(n.id),
                dot_quote(&undo_id(n.id))
            ));
        }
    }
    out.push_str("}\n");
    out
}

/// A workflow's step DAG as a Mermaid flowchart: steps `s0`, `s1`, … in
/// declaration order (ids hold characters Mermaid ids cannot), compensations
/// `c0`, … as rounded nodes behind dashed edges.
pub(crate) fn render_workflow_mermaid(workflow: &Workflow, waves: &[u64]) -> String {
    let nodes = workflow_nodes(workflow, waves);
    let index: std::collections::HashMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut out = String::from("flowchart TB\n");
    for (i, n) in nodes.iter().enumerate() {
        let mut label = vec![mermaid_label(n.id), mermaid_label(n.action)];
        label.extend(
            step_marks(n)
                .iter()
                .map(|m| mermaid_label(&format!("[{m}]"))),
        );
        let label = label.join("<br/>");
        if n.condition != "success" {
            out.push_str(&format!("  s{i}[[\"{label}\"]]\n"));
        } else {
            out.push_str(&format!("  s{i}[\"{label}\"]\n"));
        }
        if let Some(action) = n.compensate {
            out.push_str(&format!(
                "  c{i}([\"{}<br/>{}\"])\n",
                mermaid_label(&undo_id(n.id)),
                mermaid_label(action)
            ));
        }
    }
    for (i, n) in nodes.iter().enumerate() {
        for need in &n.needs {
            if let Some(j) = index.get(need) {
                out.push_str(&format!("  s{j} --> s{i}\n"));
            }
        }
        if n.compensate.is_some() {
            out.push_str(&format!("  s{i} -.->|undo| c{i}\n"));
        }
    }
    out
}

/// The JSON form of a workflow drawing.
#[derive(Serialize)]
struct WorkflowGraphJson<'a> {
    format_version: u32,
    workflow: &'a str,
    steps: Vec<StepNode<'a>>,
    edges: Vec<StepEdge<'a>>,
}

/// Write a workflow's step DAG as JSON: `{format_version: 1, workflow, steps:
/// [{id, action, wave, needs, if, when, continue_on_error, compensate}], edges:
/// [{from, to}]}` (from the needed step to the step that needs it), steps in
/// declaration order, edges by step then need.
pub(crate) fn write_workflow_json(
    workflow: &Workflow,
    waves: &[u64],
    out: &mut impl Write,
) -> std::io::Result<()> {
    let steps = workflow_nodes(workflow, waves);
    let mut edges = Vec::new();
    for n in &steps {
        edges.extend(n.needs.iter().map(|need| StepEdge {
            from: need,
            to: n.id,
        }));
    }
    let doc = WorkflowGraphJson {
        format_version: 1,
        workflow: &workflow.name.value,
        steps,
        edges,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// A workflow's steps as text, wave by wave: each step's id, action and marks,
/// what it needs, and its compensation.
pub(crate) fn render_workflow_text(workflow: &Workflow, waves: &[u64]) -> String {
    let nodes = workflow_nodes(workflow, waves);
    let grouped = crate::plan::workflow::group_waves(waves);
    let width = nodes
        .iter()
        .map(|n| untrusted(n.id).chars().count())
        .max()
        .unwrap_or(0)
        .min(32);
    let mut out = format!(
        "workflow {}: {} in {}\n",
        untrusted(&workflow.name.value),
        super::plural(nodes.len(), "step"),
        super::plural(grouped.len(), "wave")
    );
    for (w, wave) in grouped.iter().enumerate() {
        out.push_str(&format!("  wave {}\n", w + 1));
        for &i in wave {
            let n = &nodes[i];
            let mut line = format!("    {:<width$}  {}", untrusted(n.id), untrusted(n.action));
            if !n.needs.is_empty() {
                let needs: Vec<String> =
                    n.needs.iter().map(|s| untrusted(s).into_owned()).collect();
                line.push_str(&format!("  ← {}", needs.join(", ")));
            }
            for mark in step_marks(n) {
                line.push_str(&format!("  [{}]", untrusted(&mark)));
            }
            out.push_str(&line);
            out.push('\n');
            if let Some(action) = n.compensate {
                out.push_str(&format!(
                    "    {:<width$}  ↺ undo: {}\n",
                    "",
                    untrusted(action)
                ));
            }
        }
    }
    out
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
        // Graphviz decodes character references in labels: `&` must not start one.
        assert_eq!(dot_quote("&#27;&#8238;"), r#""&amp;#27;&amp;#8238;""#);
    }

    #[test]
    fn mermaid_labels_cannot_be_ended_or_carry_markup_or_controls() {
        assert_eq!(
            mermaid_label("a\"]\n<b>#x\u{202e}"),
            r"a#quot;]\n#lt;b#gt;#35;x\u{202e}"
        );
        assert_eq!(mermaid_label("&#27;"), "#38;#35;27;");
    }
}
