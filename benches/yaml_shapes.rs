//! Parser benchmark for the YAML shapes that used to cost superlinear time or
//! memory (issue 7, item 2), and for strict JSON against YAML on the same text.
//!
//! - `many_anchors`: 200,000 anchors, then 99,000 aliases to them (an alias used
//!   to scan every anchor);
//! - `nested_anchors`: 100 anchored sequences nested in each other, 2,000 items
//!   each (each level used to be copied into every enclosing anchor);
//! - `wide_mapping`: one mapping with 50,000 keys (duplicate detection used to
//!   compare each key with every earlier one);
//! - `json_catalog` / `json_as_yaml`: a 1,000-module catalog written as JSON,
//!   parsed by the strict JSON parser and by the YAML parser.
//!
//! `cargo bench --bench yaml_shapes` runs them. With `RUNE_BENCH_SHAPES=DIR:N` it
//! only writes the shapes as files into DIR, the JSON catalog with N modules (for
//! timing `rune validate` on them).

#[path = "support/catalog_gen.rs"]
#[allow(dead_code)]
mod catalog_gen;
#[path = "support/xorshift.rs"]
mod xorshift;

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use rune::source::FileId;

const HEAD: &str = "catalog_version: \"1\"\nx:\n";

fn many_anchors() -> String {
    let mut text = String::from(HEAD);
    let anchors = 200_000;
    for i in 0..anchors {
        writeln!(text, "  - &a{i} {i}").unwrap();
    }
    for i in 0..99_000 {
        writeln!(text, "  - *a{}", (i * 7919) % anchors).unwrap();
    }
    text
}

fn nested_anchors() -> String {
    let mut text = String::from(HEAD);
    text.push_str("  ");
    let items = vec!["x"; 2_000].join(", ");
    for level in 0..100 {
        write!(text, "&n{level} [{items}, ").unwrap();
    }
    text.push_str(&"]".repeat(100));
    text.push('\n');
    text
}

fn wide_mapping() -> String {
    let mut text = String::from(HEAD);
    for i in 0..50_000 {
        writeln!(text, "  k{i}: {i}").unwrap();
    }
    text
}

/// A generated catalog of `n` modules, converted to JSON.
fn json_catalog(n: usize) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = catalog_gen::write_catalog(dir.path(), n);
    let mut modules = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).expect("generated file");
        let doc = rune::yaml::parse(FileId(0), &text)
            .document
            .expect("generated file parses");
        if let Some(serde_json::Value::Array(list)) = doc.to_json().get_mut("modules") {
            modules.append(list);
        }
    }
    serde_json::to_string_pretty(&serde_json::json!({
        "catalog_version": "1",
        "modules": modules,
    }))
    .expect("JSON")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("yaml_shapes");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, text) in [
        ("many_anchors", many_anchors()),
        ("nested_anchors", nested_anchors()),
        ("wide_mapping", wide_mapping()),
    ] {
        group.bench_with_input(BenchmarkId::new("yaml", name), &text, |b, text| {
            b.iter_with_large_drop(|| rune::yaml::parse(FileId(0), black_box(text)))
        });
    }
    let json = json_catalog(1_000);
    group.bench_with_input(BenchmarkId::new("json", "catalog"), &json, |b, text| {
        b.iter_with_large_drop(|| rune::yaml::strict_json::parse(FileId(0), black_box(text)))
    });
    group.bench_with_input(
        BenchmarkId::new("yaml", "json_catalog"),
        &json,
        |b, text| b.iter_with_large_drop(|| rune::yaml::parse(FileId(0), black_box(text))),
    );
    group.finish();
}

fn main() {
    if let Ok(spec) = std::env::var("RUNE_BENCH_SHAPES") {
        let (dir, n) = spec.rsplit_once(':').expect("RUNE_BENCH_SHAPES=DIR:N");
        let n: usize = n.parse().expect("N is a number");
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("output directory");
        for (name, text) in [
            ("many_anchors.yaml", many_anchors()),
            ("nested_anchors.yaml", nested_anchors()),
            ("wide_mapping.yaml", wide_mapping()),
            ("catalog.json", json_catalog(n)),
        ] {
            std::fs::write(dir.join(name), text).expect("shape is written");
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
