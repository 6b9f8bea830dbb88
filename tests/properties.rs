//! Property tests of the planner on random DAGs, calling the library directly.
//!
//! Registries are built in memory (`Registry::from_dependency_lists`): module `i`
//! may depend only on modules with a lower index, so every generated graph is
//! acyclic; names are a shuffled labelling so name order and index order differ.

use std::collections::HashMap;

use proptest::prelude::*;
use rune::graph::DependencyGraph;
use rune::plan;

use crate::support::plan_request;
use rune::registry::{Criticality, Registry, Runtime};

/// A random DAG: module count, a name permutation, and dependency edges (i → j, j < i).
fn dag() -> impl Strategy<Value = (Vec<String>, Vec<(usize, usize, bool)>)> {
    dag_below(40)
}

/// [`dag`] with fewer than `limit` modules.
fn dag_below(limit: usize) -> impl Strategy<Value = (Vec<String>, Vec<(usize, usize, bool)>)> {
    (1usize..limit).prop_flat_map(|n| {
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

/// A small random DAG (the critical-path oracle enumerates every chain).
fn small_dag() -> impl Strategy<Value = (Vec<String>, Vec<(usize, usize, bool)>)> {
    dag_below(13)
}

/// A random directed graph, cycles and self-loops allowed.
fn any_graph() -> impl Strategy<Value = (Vec<String>, Vec<(usize, usize, bool)>)> {
    (1usize..12).prop_flat_map(|n| {
        let names = Just((0..n).map(|i| format!("m{i:02}")).collect::<Vec<String>>());
        let edges = prop::collection::vec((0..n, 0..n, any::<bool>()), 0..n * 2);
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

proptest! {
    #[test]
    fn dependencies_start_earlier_and_stop_later((names, edges) in dag()) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let plan = plan::plan(&registry, &graph, plan_request(&[])).expect("a DAG always plans");

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
        let pa = plan::plan(&a, &ga, plan_request(&[])).expect("plans");
        let pa2 = plan::plan(&a, &ga, plan_request(&[])).expect("plans");
        let pb = plan::plan(&b, &gb, plan_request(&[])).expect("plans");
        prop_assert_eq!(&pa.startup, &pa2.startup);
        prop_assert_eq!(names_by_wave(&a, &pa.startup), names_by_wave(&b, &pb.startup));
        let chain = |r: &Registry, p: &plan::Plan| -> Vec<String> {
            p.critical_path.chain.iter().map(|l| r.modules[l.module].name.value.clone()).collect()
        };
        prop_assert_eq!(pa.critical_path.total_ms, pb.critical_path.total_ms);
        prop_assert_eq!(chain(&a, &pa), chain(&b, &pb));
    }

    #[test]
    fn a_target_plans_exactly_itself_and_what_it_requires(
        (names, edges) in dag(),
        pick in any::<prop::sample::Index>(),
    ) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let target = pick.index(names.len());
        let mut req = plan_request(&[]);
        req.targets = vec![names[target].clone()];
        let plan = plan::plan(&registry, &graph, req).expect("plans");
        let mut planned: Vec<usize> = plan.startup.iter().flatten().copied().collect();
        planned.sort_unstable();
        // The oracle: follow required edges only, from the target.
        let mut expected = vec![target];
        let mut at = 0;
        while at < expected.len() {
            let m = expected[at];
            at += 1;
            for &(f, t, optional) in &edges {
                if f == m && !optional && !expected.contains(&t) {
                    expected.push(t);
                }
            }
        }
        expected.sort_unstable();
        prop_assert_eq!(planned, expected);
    }

    #[test]
    fn the_critical_path_is_the_longest_weighted_chain(
        (names, edges) in small_dag(),
        costs in prop::collection::vec((0u64..5_000, 0u64..5_000, any::<bool>()), 12),
    ) {
        let order: Vec<usize> = (0..names.len()).collect();
        let mut registry = registry(&names, &edges, &order);
        for (module, &(init, ready, nothing_to_run)) in registry.modules.iter_mut().zip(&costs) {
            module.lifecycle.timeouts.initialize_ms = Some(init);
            module.lifecycle.timeouts.ready_ms = Some(ready);
            if nothing_to_run {
                module.lifecycle.runtime = Runtime::None;
            }
        }
        let cost = |m: usize| {
            let (init, ready, nothing_to_run) = costs[m];
            if nothing_to_run { 0 } else { init + ready }
        };
        // Brute force: the heaviest of all dependency chains ending at each module,
        // by enumerating every chain (the graphs are small).
        fn heaviest(m: usize, edges: &[(usize, usize, bool)], cost: &dyn Fn(usize) -> u64) -> u64 {
            let below = edges
                .iter()
                .filter(|&&(f, _, _)| f == m)
                .map(|&(_, t, _)| heaviest(t, edges, cost))
                .max()
                .unwrap_or(0);
            cost(m) + below
        }
        let longest = (0..names.len()).map(|m| heaviest(m, &edges, &cost)).max().unwrap_or(0);

        let graph = DependencyGraph::build(&registry);
        let plan = plan::plan(&registry, &graph, plan_request(&[])).expect("plans");
        let path = &plan.critical_path;
        prop_assert_eq!(path.total_ms, u128::from(longest));
        // The chain is a real dependency chain whose costs add up to the total.
        for pair in path.chain.windows(2) {
            prop_assert!(edges.iter().any(|&(f, t, _)| f == pair[1].module && t == pair[0].module));
            prop_assert_eq!(pair[1].finishes_at_ms, pair[0].finishes_at_ms + u128::from(pair[1].cost_ms));
        }
        for link in &path.chain {
            prop_assert_eq!(link.cost_ms, cost(link.module));
            prop_assert_eq!(link.cost_ms, plan::startup_cost(&registry.modules[link.module]));
        }
        prop_assert_eq!(path.chain.iter().map(|l| u128::from(l.cost_ms)).sum::<u128>(), path.total_ms);
        prop_assert_eq!(path.chain.last().map_or(0, |l| l.finishes_at_ms), path.total_ms);
    }

    #[test]
    fn every_cycle_reported_is_a_real_cycle_and_every_cyclic_graph_reports_one(
        (names, edges) in any_graph(),
    ) {
        let order: Vec<usize> = (0..names.len()).collect();
        let registry = registry(&names, &edges, &order);
        let graph = DependencyGraph::build(&registry);
        let cycles = graph.cycles(&registry);
        for cycle in &cycles {
            prop_assert!(!cycle.is_empty());
            for (k, r) in cycle.iter().enumerate() {
                let dependency = &registry.modules[r.module].dependencies[r.dependency];
                let next = &cycle[(k + 1) % cycle.len()];
                // Each edge is declared, and leads to the module of the next edge.
                prop_assert_eq!(&dependency.module_name.value, &registry.modules[next.module].name.value);
            }
            // A cycle passes through each module once.
            let mut modules: Vec<usize> = cycle.iter().map(|r| r.module).collect();
            modules.sort_unstable();
            modules.dedup();
            prop_assert_eq!(modules.len(), cycle.len());
        }
        let diagnostics = graph.cycle_diagnostics(&registry);
        prop_assert_eq!(diagnostics.len(), cycles.len());
        for (d, cycle) in diagnostics.iter().zip(&cycles) {
            prop_assert_eq!(d.labels.len(), cycle.len());
            for r in cycle {
                let name = &registry.modules[r.module].name.value;
                prop_assert!(d.message.contains(name.as_str()), "{} does not name {}", d.message, name);
            }
        }
        // Oracle: the graph has a cycle exactly when repeatedly removing modules
        // without dependencies left leaves some.
        let mut left: Vec<usize> = (0..names.len()).collect();
        loop {
            let before = left.len();
            let current = left.clone();
            left.retain(|&m| edges.iter().any(|&(f, t, _)| f == m && current.contains(&t)));
            if left.len() == before {
                break;
            }
        }
        prop_assert_eq!(!cycles.is_empty(), !left.is_empty());
    }
}

/// A chain `c0` → `c1` → … → `c{n-1}` declared top-down (each module before the one
/// it requires, so a depth-first walk from the first goes the whole way down),
/// optionally closed into a cycle by the last module requiring `c{back}`.
fn long_chain() -> impl Strategy<Value = (usize, Option<usize>)> {
    (100_000usize..200_000).prop_flat_map(|n| (Just(n), prop::option::of(0..n)))
}

proptest! {
    // Each case walks up to 200,000 modules: a handful of cases is enough to vary
    // the length and where the cycle closes.
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn a_long_chain_declared_top_down_plans_or_reports_its_one_cycle(
        (n, back) in long_chain(),
    ) {
        let registry = Registry::from_dependency_lists((0..n).map(|i| {
            let next = if i + 1 < n { Some(i + 1) } else { back };
            (format!("c{i}"), next.map(|t| (format!("c{t}"), Criticality::Required)))
        }));
        let graph = DependencyGraph::build(&registry);
        let cycles = graph.cycles(&registry);
        match back {
            None => {
                prop_assert!(cycles.is_empty());
                let plan = plan::plan(&registry, &graph, plan_request(&[])).expect("a chain plans");
                prop_assert_eq!(plan.startup.len(), n);
                prop_assert_eq!(plan.critical_path.chain.len(), n);
                prop_assert_eq!(
                    plan.critical_path.total_ms,
                    n as u128 * u128::from(plan::DEFAULT_INITIALIZE_MS + plan::DEFAULT_READY_MS)
                );
            }
            Some(back) => {
                prop_assert_eq!(cycles.len(), 1);
                // The cycle runs c{back} → … → c{n-1} → c{back}, from its smallest name.
                let mut on_cycle: Vec<usize> = cycles[0].iter().map(|r| r.module).collect();
                on_cycle.sort_unstable();
                prop_assert_eq!(on_cycle, (back..n).collect::<Vec<_>>());
                prop_assert!(plan::plan(&registry, &graph, plan_request(&[])).is_err());
            }
        }
    }
}
