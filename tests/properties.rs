//! Property tests of the planner on random DAGs, calling the library directly.
//!
//! Registries are built in memory (`Registry::from_dependency_lists`): module `i`
//! may depend only on modules with a lower index, so every generated graph is
//! acyclic; names are a shuffled labelling so name order and index order differ.

use std::collections::HashMap;

use proptest::prelude::*;
use rune::graph::DependencyGraph;
use rune::plan::{self, Clock, Request};
use rune::registry::{Criticality, Registry};

/// A random DAG: module count, a name permutation, and dependency edges (i → j, j < i).
fn dag() -> impl Strategy<Value = (Vec<String>, Vec<(usize, usize, bool)>)> {
    (1usize..40).prop_flat_map(|n| {
        let names = Just((0..n).collect::<Vec<usize>>())
            .prop_shuffle()
            .prop_map(|perm| perm.into_iter().map(|p| format!("m{p:02}")).collect());
        let edges = prop::collection::vec(
            (1..n.max(2), any::<prop::sample::Index>(), any::<bool>()),
            0..n * 3,
        )
        .prop_map(move |raw| {
            raw.into_iter()
                .filter(|(i, _, _)| *i < n)
                .map(|(i, j, optional)| (i, j.index(i), optional))
                .collect()
        });
        (names, edges)
    })
}

fn registry(names: &[String], edges: &[(usize, usize, bool)], order: &[usize]) -> Registry {
    let modules = order.iter().map(|&i| {
        let deps: Vec<(String, Criticality)> = edges
            .iter()
            .filter(|(from, _, _)| *from == i)
            .map(|&(_, to, optional)| {
                let c = if optional {
                    Criticality::Optional
                } else {
                    Criticality::Required
                };
                (names[to].clone(), c)
            })
            .collect();
        (names[i].clone(), deps)
    });
    Registry::from_dependency_lists(modules)
}

fn names_by_wave(registry: &Registry, waves: &[Vec<usize>]) -> Vec<Vec<String>> {
    waves
        .iter()
        .map(|w| {
            w.iter()
                .map(|&m| registry.modules[m].name.value.clone())
                .collect()
        })
        .collect()
}

fn request() -> Request {
    Request {
        targets: Vec::new(),
        action: None,
        params: serde_json::Map::new(),
        at: "2026-01-01T00:00:00Z".parse().expect("valid instant"),
        clock: Clock::Fixed,
        acks: Vec::new(),
        reason: None,
    }
}

proptest! {
    #[test]
    fn dependencies_start_earlier_and_stop_later((names, edges) in dag()) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let plan = plan::plan(&registry, &graph, request()).expect("a DAG always plans");

        let mut start_wave = HashMap::new();
        for (w, wave) in plan.startup.iter().enumerate() {
            for &m in wave {
                prop_assert!(start_wave.insert(m, w).is_none(), "module planned twice");
            }
        }
        prop_assert_eq!(start_wave.len(), names.len());
        let mut stop_wave = HashMap::new();
        for (w, wave) in plan.shutdown().enumerate() {
            for m in wave {
                stop_wave.insert(m, w);
            }
        }
        for &(from, to, _) in &edges {
            let (a, b) = (from, to); // registry index == generation index here
            prop_assert!(start_wave[&b] < start_wave[&a], "dependency starts first");
            prop_assert!(stop_wave[&b] > stop_wave[&a], "dependency stops last");
        }
    }

    #[test]
    fn no_wave_holds_a_module_and_its_dependency((names, edges) in dag()) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let waves = graph.startup_waves(&registry, None).expect("a DAG always orders");
        for wave in &waves {
            for &(from, to, _) in &edges {
                prop_assert!(!(wave.contains(&from) && wave.contains(&to)));
            }
            let wave_names: Vec<&str> = wave.iter().map(|&m| registry.modules[m].name.value.as_str()).collect();
            let mut sorted = wave_names.clone();
            sorted.sort_unstable();
            prop_assert_eq!(wave_names, sorted, "modules in a wave are sorted by name");
        }
        // Every module is in the first wave its dependencies allow: wave 0 has no
        // dependencies, and a later one has a dependency in the wave just before.
        for (w, wave) in waves.iter().enumerate().skip(1) {
            for &m in wave {
                prop_assert!(edges.iter().any(|&(f, t, _)| f == m && waves[w - 1].contains(&t)));
            }
        }
    }

    #[test]
    fn planning_is_deterministic_and_independent_of_declaration_order(
        (names, edges) in dag(),
        seed in any::<u64>(),
    ) {
        let order: Vec<usize> = (0..names.len()).collect();
        let mut shuffled = order.clone();
        // A cheap deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = registry(&names, &edges, &order);
        let b = registry(&names, &edges, &shuffled);
        let (ga, gb) = (DependencyGraph::build(&a), DependencyGraph::build(&b));
        let pa = plan::plan(&a, &ga, request()).expect("plans");
        let pa2 = plan::plan(&a, &ga, request()).expect("plans");
        let pb = plan::plan(&b, &gb, request()).expect("plans");
        prop_assert_eq!(&pa.startup, &pa2.startup);
        prop_assert_eq!(names_by_wave(&a, &pa.startup), names_by_wave(&b, &pb.startup));
        let chain = |r: &Registry, p: &plan::Plan| -> Vec<String> {
            p.critical_path.chain.iter().map(|l| r.modules[l.module].name.value.clone()).collect()
        };
        prop_assert_eq!(pa.critical_path.total_ms, pb.critical_path.total_ms);
        prop_assert_eq!(chain(&a, &pa), chain(&b, &pb));
    }

    #[test]
    fn target_selection_is_closed_under_dependencies(
        (names, edges) in dag(),
        pick in any::<prop::sample::Index>(),
    ) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let target = pick.index(names.len());
        let mut req = request();
        req.targets = vec![names[target].clone()];
        let plan = plan::plan(&registry, &graph, req).expect("plans");
        let planned: Vec<usize> = plan.startup.iter().flatten().copied().collect();
        prop_assert!(planned.contains(&target));
        for &m in &planned {
            for &(f, t, _) in &edges {
                if f == m {
                    prop_assert!(planned.contains(&t), "dependency of a planned module is planned");
                }
            }
        }
    }

    #[test]
    fn critical_path_is_a_dependency_chain_that_sets_the_total((names, edges) in dag()) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let plan = plan::plan(&registry, &graph, request()).expect("plans");
        let chain = &plan.critical_path.chain;
        prop_assert!(!chain.is_empty());
        for pair in chain.windows(2) {
            prop_assert!(edges.iter().any(|&(f, t, _)| f == pair[1].module && t == pair[0].module));
        }
        let per_module = plan::startup_cost(&registry.modules[0]);
        prop_assert_eq!(plan.critical_path.total_ms, per_module * chain.len() as u64);
        prop_assert_eq!(chain.last().map(|l| l.finishes_at_ms), Some(plan.critical_path.total_ms));
        // All modules cost the same here, so the chain is as long as the wave count.
        prop_assert_eq!(chain.len(), plan.startup.len());
    }
}
