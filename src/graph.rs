//! Graph stage: the module dependency DAG.
//!
//! Built from the registry, then checked for cycles (Tarjan's strongly connected
//! components), and only then walked for startup waves. Edges point from a module
//! to the module it depends on; each edge remembers which dependency entry declared
//! it, so a cycle can be reported edge by edge at the lines that declare it.
//! An optional dependency is an edge only when the module it names is present.

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::Registry;

/// Which dependency entry declared an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DependencyRef {
    /// Index of the dependent module in the registry.
    pub module: usize,
    /// Index of the entry in that module's `dependencies`.
    pub dependency: usize,
}

/// The dependency graph: one node per module name (the first declaration wins for
/// duplicates, which the checks report), node weights are registry module indices.
#[derive(Debug)]
pub struct DependencyGraph {
    /// Edges go from a module to the module it depends on.
    pub graph: DiGraph<usize, DependencyRef>,
    /// Node of every module index that has one.
    pub node_of: HashMap<usize, NodeIndex>,
}

impl DependencyGraph {
    /// Build the graph from the registry. Missing dependencies are left out (the
    /// checks report them).
    pub fn build(registry: &Registry) -> Self {
        let index = registry.module_index();
        let mut graph = DiGraph::with_capacity(registry.modules.len(), registry.modules.len() * 3);
        let mut node_of = HashMap::with_capacity(registry.modules.len());
        for (i, module) in registry.modules.iter().enumerate() {
            if index.get(module.name.value.as_str()) == Some(&i) {
                node_of.insert(i, graph.add_node(i));
            }
        }
        for (i, module) in registry.modules.iter().enumerate() {
            let Some(&from) = node_of.get(&i) else {
                continue;
            };
            for (d, dep) in module.dependencies.iter().enumerate() {
                if let Some(&to) = index
                    .get(dep.module_name.value.as_str())
                    .and_then(|t| node_of.get(t))
                {
                    graph.add_edge(
                        from,
                        to,
                        DependencyRef {
                            module: i,
                            dependency: d,
                        },
                    );
                }
            }
        }
        DependencyGraph { graph, node_of }
    }

    /// Every dependency cycle, each as the list of edges around it, starting at the
    /// module with the smallest name; cycles sorted by that name.
    pub fn cycles(&self, registry: &Registry) -> Vec<Vec<DependencyRef>> {
        let name = |n: NodeIndex| registry.modules[self.graph[n]].name.value.as_str();
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let start = *scc
                .iter()
                .min_by_key(|&&n| name(n))
                .expect("scc is not empty");
            cycles.push(self.shortest_cycle_through(start, &scc, &name));
        }
        cycles.sort_by_key(|c| registry.modules[c[0].module].name.value.clone());
        cycles
    }

    /// Breadth-first search inside one strongly connected component for the shortest
    /// way from `start` back to itself, visiting neighbours in name order.
    fn shortest_cycle_through<'a>(
        &self,
        start: NodeIndex,
        scc: &[NodeIndex],
        name: &impl Fn(NodeIndex) -> &'a str,
    ) -> Vec<DependencyRef> {
        let in_scc: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
        let mut came_from: HashMap<NodeIndex, (NodeIndex, DependencyRef)> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let mut edges: Vec<_> = self
                .graph
                .edges_directed(node, Direction::Outgoing)
                .filter(|e| in_scc.contains(&e.target()))
                .collect();
            edges.sort_by_key(|e| (name(e.target()), e.weight().dependency));
            for edge in edges {
                let next = edge.target();
                if next == start {
                    let mut path = vec![*edge.weight()];
                    let mut at = node;
                    while at != start {
                        let (prev, dep) = came_from[&at];
                        path.push(dep);
                        at = prev;
                    }
                    path.reverse();
                    return path;
                }
                if next != start && !came_from.contains_key(&next) {
                    came_from.insert(next, (node, *edge.weight()));
                    queue.push_back(next);
                }
            }
        }
        Vec::new()
    }

    /// One diagnostic per cycle, naming the whole cycle with a label on each edge.
    pub fn cycle_diagnostics(&self, registry: &Registry) -> Vec<Diagnostic> {
        self.cycles(registry)
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(|cycle| {
                let module = |r: &DependencyRef| &registry.modules[r.module];
                let mut names: Vec<&str> = cycle
                    .iter()
                    .map(|r| module(r).name.value.as_str())
                    .collect();
                names.push(names[0]);
                let mut d = Diagnostic::new(
                    Code::DependencyCycle,
                    format!("dependency cycle: {}", names.join(" → ")),
                );
                for r in &cycle {
                    let dep = &module(r).dependencies[r.dependency];
                    d = d.with_label(
                        dep.module_name.span,
                        format!(
                            "`{}` depends on `{}`",
                            module(r).name.value,
                            dep.module_name.value
                        ),
                    );
                }
                let edges: Vec<String> = cycle
                    .iter()
                    .map(|r| {
                        format!(
                            "`{}` → `{}`",
                            module(r).name.value,
                            module(r).dependencies[r.dependency].module_name.value
                        )
                    })
                    .collect();
                d.with_help(format!(
                    "modules in a cycle can never start; remove one of these dependencies: {}",
                    edges.join(", ")
                ))
            })
            .collect()
    }
}
