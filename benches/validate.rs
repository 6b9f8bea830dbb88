//! Validation benchmark: `load_and_check` end to end against parsing alone.
//!
//! The budget (DESIGN.md, issue 3): validating a catalog end to end takes at most
//! twice as long as only parsing the same files with the same parser, and grows
//! linearly with the number of modules. Catalogs of 1,000 and 10,000 modules come
//! from a deterministic generator (`support/catalog_gen.rs`).
//!
//! `cargo bench --bench validate` runs the comparison. With
//! `RUNE_BENCH_GENERATE=DIR:N` it only writes an N-module catalog into DIR and exits,
//! which `scripts/bench-validate.sh` uses to time the binary and the peer tool on
//! the same files (`DIR:N:PER_FILE` sets the modules per file; `DIR:N:N` writes one
//! file). `RUNE_BENCH_PARSE_ONLY=DIR` parses a catalog once and exits, the
//! parse-only counterpart of `rune validate DIR` for `time` or callgrind;
//! `RUNE_BENCH_STAGES=DIR` times each stage of `load_and_check` once.

// A benchmark reports its figures on stderr, outside the report stage.
#![allow(clippy::print_stderr)]

#[path = "support/catalog_gen.rs"]
mod catalog_gen;
#[path = "support/xorshift.rs"]
mod xorshift;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

/// Read and parse every file with rune's YAML parser, in parallel like the loader;
/// the trees are returned so that freeing them is not part of the measurement.
fn parse_only(files: &[PathBuf]) -> Vec<Option<rune::yaml::Node>> {
    files
        .par_iter()
        .enumerate()
        .map(|(i, path)| {
            let text = std::fs::read_to_string(path).expect("generated file is readable");
            rune::yaml::parse(rune::source::FileId(i as u32), &text).document
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for n in [1_000usize, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = catalog_gen::write_catalog(dir.path(), n);
        let checked = rune::catalog::load_and_check(&[dir.path().to_path_buf()]);
        assert!(
            checked.diagnostics.is_empty(),
            "generated catalog is valid: {:?}",
            checked.diagnostics.first()
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("parse_only", n), &files, |b, files| {
            b.iter_with_large_drop(|| parse_only(files))
        });
        let paths = vec![dir.path().to_path_buf()];
        group.bench_with_input(BenchmarkId::new("end_to_end", n), &paths, |b, paths| {
            // The binary does not free the catalog before exiting, so neither does this.
            b.iter_with_large_drop(|| rune::catalog::load_and_check(paths))
        });
    }
    group.finish();
}

/// Time each stage once on an existing catalog directory (for finding hot spots).
fn stages(dir: &std::path::Path) {
    use std::time::Instant;
    let paths = vec![dir.to_path_buf()];
    let mut diagnostics = Vec::new();
    let files = rune::loader::discover(&paths, &mut diagnostics);
    if std::env::var_os("RUNE_BENCH_LOAD_ONLY").is_some() {
        let loaded = rune::loader::load(&paths);
        eprintln!("loaded {} files", loaded.files.len());
        std::mem::forget(loaded);
        return;
    }
    let t = Instant::now();
    black_box(parse_only(&files));
    eprintln!(
        "parse only      {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let loaded = rune::loader::load(&paths);
    eprintln!(
        "load            {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let schema: usize = loaded
        .files
        .par_iter()
        .map(|f| {
            f.document
                .as_ref()
                .map_or(0, |d| rune::schema::check_document(d).len())
        })
        .sum();
    eprintln!(
        "schema          {:>8.1} ms ({schema} diagnostics)",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut loaded = loaded;
    let registry = rune::registry::build(&mut loaded);
    eprintln!(
        "registry        {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let graph = rune::graph::DependencyGraph::build(&registry);
    let checks = rune::check::check(&registry, &graph);
    eprintln!(
        "graph + checks  {:>8.1} ms ({} diagnostics)",
        t.elapsed().as_secs_f64() * 1e3,
        checks.len()
    );
    let t = Instant::now();
    drop((loaded, registry, graph));
    eprintln!(
        "drop            {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let checked = black_box(rune::catalog::load_and_check(&paths));
    eprintln!(
        "end to end      {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    drop(checked);
    eprintln!(
        "drop            {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
}

fn main() {
    if let Ok(spec) = std::env::var("RUNE_BENCH_GENERATE") {
        // DIR:N, or DIR:N:PER_FILE (e.g. DIR:10000:10000 for one file).
        let mut parts = spec.rsplitn(3, ':').collect::<Vec<_>>();
        parts.reverse();
        let (dir, n, per_file) = match parts.as_slice() {
            [dir, n] => (*dir, *n, None),
            [dir, n, per_file] if n.parse::<usize>().is_ok() => (*dir, *n, Some(*per_file)),
            [dir, rest, n] => {
                // A `:` inside DIR: only DIR:N.
                let dir = format!("{dir}:{rest}");
                let n: usize = n.parse().expect("N is a number");
                let files = catalog_gen::write_catalog(std::path::Path::new(&dir), n);
                eprintln!("wrote {n} modules in {} files to {dir}", files.len());
                return;
            }
            _ => panic!("RUNE_BENCH_GENERATE=DIR:N[:PER_FILE]"),
        };
        let n: usize = n.parse().expect("N is a number");
        let per_file = per_file.map_or(catalog_gen::MODULES_PER_FILE, |p| {
            p.parse().expect("PER_FILE is a number")
        });
        let files = catalog_gen::write_catalog_split(std::path::Path::new(dir), n, per_file);
        eprintln!("wrote {n} modules in {} files to {dir}", files.len());
        return;
    }
    if let Ok(dir) = std::env::var("RUNE_BENCH_PARSE_ONLY") {
        // Parse once and exit without freeing, like the binary: the counterpart of
        // `rune validate DIR` for `time` or `valgrind --tool=callgrind`.
        let mut diagnostics = Vec::new();
        let files = rune::loader::discover(&[PathBuf::from(&dir)], &mut diagnostics);
        let parsed = parse_only(&files);
        eprintln!("parsed {} files", parsed.len());
        std::mem::forget(parsed);
        return;
    }
    if let Ok(dir) = std::env::var("RUNE_BENCH_STAGES") {
        stages(std::path::Path::new(&dir));
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
