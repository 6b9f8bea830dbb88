//! Diagnostics benchmark: checking and rendering catalogs full of problems.
//!
//! The budget (issue 7): 20,000 diagnostics in one file render in under 2 s in every
//! format (human, json, github, sarif), and checks stay linear in catalog size, for
//! every shape of problem. Each shape below once cost minutes because something
//! scanned the file, the line or the other diagnostics for every diagnostic:
//!
//! - `unknown_keys`: 20,000 unknown top-level keys in one file;
//! - `module_errors`: 20,000 modules in one file, each with a bad version;
//! - `one_line`: the same modules as minified JSON on a single line (columns and
//!   snippets on one huge line);
//! - `missing_deps`: 20,000 modules each depending on a misspelt name (did-you-mean);
//! - `cycle`: a dependency cycle through every module (one diagnostic, N labels);
//! - `needs_chain`: a valid workflow of 10,000 steps, each needing the one before.
//!
//! `cargo bench --bench diagnostics` measures checking (`load_and_check`) and each
//! renderer on an already checked catalog. `RUNE_BENCH_GENERATE=DIR` only writes
//! every shape as `DIR/<shape>.yaml` (or `.json`) and exits, for timing the binary
//! (`time rune validate --format sarif DIR/cycle.yaml > /dev/null`);
//! `RUNE_BENCH_N` sets the size (default 20,000; the needs chain is half of it);
//! `RUNE_BENCH_SHAPES=cycle,one_line` runs only those shapes.

// A benchmark reports its figures on stderr, outside the report stage.
#![allow(clippy::print_stderr)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion};
use rune::catalog::{load_and_check, CheckedCatalog};
use rune::report::diagnostics::{render_github, render_human, render_json, render_sarif};

const HEADER: &str = "catalog_version: \"1\"\n";

fn module_yaml(out: &mut String, name: &str, version: &str, deps: &[String]) {
    let _ = write!(
        out,
        "  - module_identity:\n      module_name: {name}\n      module_class: Service\n      module_type: service\n      module_version: {version}\n      description: Generated service {name}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n"
    );
    if !deps.is_empty() {
        out.push_str("      dependencies:\n");
        for dep in deps {
            let _ = writeln!(
                out,
                "        - {{ module_name: {dep}, criticality: required }}"
            );
        }
    }
    out.push_str("    lifecycle:\n      runtime: builtin\n");
}

fn name(i: usize) -> String {
    format!("svc-{i:05}")
}

/// `(file name, contents)` of one shape of size `n`.
fn shape(which: &str, n: usize) -> (String, String) {
    let mut text = String::from(HEADER);
    match which {
        "unknown_keys" => {
            text.push_str("modules: []\n");
            for i in 0..n {
                let _ = writeln!(text, "unknown_key_{i:05}: {i}");
            }
        }
        "module_errors" => {
            text.push_str("modules:\n");
            for i in 0..n {
                module_yaml(&mut text, &name(i), &format!("1.x.{i}"), &[]);
            }
        }
        "one_line" => {
            let modules: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        r#"{{"module_identity":{{"module_name":"{}","module_class":"Service","module_type":"service","module_version":"1.x.{i}","description":"Generated"}},"lifecycle":{{"runtime":"builtin"}}}}"#,
                        name(i)
                    )
                })
                .collect();
            let json = format!(
                r#"{{"catalog_version":"1","modules":[{}]}}"#,
                modules.join(",")
            );
            return ("one_line.json".to_string(), json);
        }
        "missing_deps" => {
            text.push_str("modules:\n");
            for i in 0..n {
                // A near miss of another module's name, so did-you-mean has work to do.
                let typo = format!("svc-{:05}x", (i * 7919) % n);
                module_yaml(&mut text, &name(i), "1.0.0", &[typo]);
            }
        }
        "cycle" => {
            text.push_str("modules:\n");
            for i in 0..n {
                module_yaml(&mut text, &name(i), "1.0.0", &[name((i + 1) % n)]);
            }
        }
        "needs_chain" => {
            text.push_str("modules:\n");
            text.push_str("  - module_identity: { module_name: ops, module_class: Svc, module_type: service, module_version: 1.0.0, description: Ops }\n    capability_declaration:\n      actions:\n        - { action: step, description: One step, category: diagnostic, impact: low }\n");
            text.push_str("workflows:\n  chain:\n    steps:\n");
            for i in 0..n / 2 {
                if i == 0 {
                    text.push_str("      - { id: s0, action: step }\n");
                } else {
                    let _ = writeln!(
                        text,
                        "      - {{ id: s{i}, action: step, needs: [s{}] }}",
                        i - 1
                    );
                }
            }
        }
        other => panic!("unknown shape {other}"),
    }
    (format!("{which}.yaml"), text)
}

const SHAPES: [&str; 6] = [
    "unknown_keys",
    "module_errors",
    "one_line",
    "missing_deps",
    "cycle",
    "needs_chain",
];

fn write_shape(dir: &Path, which: &str, n: usize) -> PathBuf {
    let (file, text) = shape(which, n);
    let path = dir.join(file);
    std::fs::write(&path, text).expect("benchmark file can be written");
    path
}

fn render(format: &str, checked: &CheckedCatalog) -> String {
    let (d, s) = (&checked.diagnostics, &checked.sources);
    match format {
        "human" => render_human(d, s, checked.summary(), false),
        "json" => render_json(d, s, checked.summary()),
        "github" => render_github(d, s),
        _ => render_sarif(d, s),
    }
}

fn bench(c: &mut Criterion) {
    let n = size();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("diagnostics");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for which in selected() {
        let paths = vec![write_shape(dir.path(), which, n)];
        group.bench_with_input(BenchmarkId::new("check", which), &paths, |b, paths| {
            b.iter_with_large_drop(|| load_and_check(paths))
        });
        let checked = load_and_check(&paths);
        for format in ["human", "json", "github", "sarif"] {
            group.bench_with_input(
                BenchmarkId::new(format!("render_{format}"), which),
                &checked,
                |b, checked| b.iter(|| black_box(render(format, checked))),
            );
        }
        std::mem::forget(checked);
    }
    group.finish();
}

fn selected() -> Vec<&'static str> {
    match std::env::var("RUNE_BENCH_SHAPES") {
        Ok(list) => SHAPES
            .into_iter()
            .filter(|s| list.split(',').any(|w| w.trim() == *s))
            .collect(),
        Err(_) => SHAPES.to_vec(),
    }
}

fn size() -> usize {
    std::env::var("RUNE_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

fn main() {
    if let Some(dir) = std::env::var_os("RUNE_BENCH_GENERATE") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("benchmark directory can be created");
        for which in selected() {
            let path = write_shape(&dir, which, size());
            eprintln!("wrote {}", path.display());
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
