//! Planning benchmark: graph build + plan (startup waves, shutdown order, critical
//! path) for 25k, 50k and 100k modules with three dependency edges each.
//!
//! The budget (DESIGN.md): 100,000 modules and 300,000 edges in under one second,
//! growing linearly. The registry is built in memory with a deterministic
//! generator, so the benchmark measures planning, not YAML parsing. Run with
//! `cargo bench --bench plan`; `cargo bench --bench plan -- --peak N` plans once for
//! N modules and exits, for measuring peak memory with `/usr/bin/time -v`; add
//! `--generate-only` for the baseline (the in-memory registry without planning).

// A benchmark reports its figures on stderr, outside the report stage.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
#[path = "support/xorshift.rs"]
mod xorshift;

use rune::graph::DependencyGraph;
use rune::plan::{self, Clock, Request};
use rune::registry::{Criticality, Registry};
use xorshift::XorShift;

/// `n` modules; module `i > 0` depends on three lower-index modules (so the graph
/// is a DAG), half of the picks close by (long chains, many waves), half anywhere
/// (wide fan-in); one in ten edges optional. Names are a scrambled bijection of the
/// index so that sorting by name is real work.
fn generate(n: usize) -> Registry {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let name = |i: usize| format!("m{:08x}", (i as u32).wrapping_mul(0x9E37_79B1));
    let modules = (0..n).map(|i| {
        let deps: Vec<(String, Criticality)> = if i == 0 {
            Vec::new()
        } else {
            (0..3)
                .map(|_| {
                    let to = if rng.next() % 2 == 0 {
                        i - 1 - rng.below(i.min(16))
                    } else {
                        rng.below(i)
                    };
                    let criticality = if rng.next() % 10 == 0 {
                        Criticality::Optional
                    } else {
                        Criticality::Required
                    };
                    (name(to), criticality)
                })
                .collect()
        };
        (name(i), deps)
    });
    Registry::from_dependency_lists(modules)
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

/// Build the graph and the plan, and walk the shutdown order once.
fn build_and_plan(registry: &Registry) -> usize {
    let graph = DependencyGraph::build(registry);
    let plan = plan::plan(registry, &graph, request()).expect("generated graphs are acyclic");
    let shutdown: usize = plan.shutdown().map(|w| w.count()).sum();
    plan.startup.len() + shutdown + plan.critical_path.chain.len()
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in [25_000, 50_000, 100_000] {
        let registry = generate(n);
        let edges: usize = registry.modules.iter().map(|m| m.dependencies.len()).sum();
        group.throughput(Throughput::Elements((n + edges) as u64));
        group.bench_with_input(BenchmarkId::new("graph+plan", n), &registry, |b, r| {
            b.iter(|| black_box(build_and_plan(black_box(r))))
        });
    }
    group.finish();
}

/// Plan once for `n` modules and print how long each stage took.
#[allow(clippy::print_stderr)]
fn peak(n: usize) {
    let timed = |what: &str, start: std::time::Instant| {
        eprintln!("{n} modules: {what} in {:?}", start.elapsed());
    };
    let start = std::time::Instant::now();
    let registry = generate(n);
    timed("generated", start);
    // The timed stages' graph is dropped when the function returns, before the
    // benchmarked run, so peak memory holds one plan's structures, not two.
    timed_stages(n, &registry);
    let start = std::time::Instant::now();
    black_box(build_and_plan(&registry));
    timed("graph + plan (as benchmarked)", start);
}

/// Build the graph, waves and critical path one by one, printing each stage's time.
#[allow(clippy::print_stderr)]
fn timed_stages(n: usize, registry: &Registry) {
    let timed = |what: &str, start: std::time::Instant| {
        eprintln!("{n} modules: {what} in {:?}", start.elapsed());
    };
    let start = std::time::Instant::now();
    let graph = DependencyGraph::build(registry);
    timed("graph built", start);
    let t = std::time::Instant::now();
    let waves = graph.startup_waves(registry, None).expect("acyclic");
    timed("startup waves", t);
    let t = std::time::Instant::now();
    let path = graph.critical_path(registry, &waves, plan::startup_cost);
    timed("critical path", t);
    timed("graph + waves + critical path", start);
    eprintln!(
        "{n} modules: {} waves, critical path {} modules / {} ms",
        waves.len(),
        path.chain.len(),
        path.total_ms
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--peak") {
        let n = args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        if args.iter().any(|a| a == "--generate-only") {
            // The baseline for memory figures: the registry alone.
            black_box(generate(n));
        } else {
            peak(n);
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench_plan(&mut criterion);
    criterion.final_summary();
}
