//! Scale benchmark: the release binary, run as a user runs it, on the two shapes of
//! issue 8.
//!
//! - `deps100k/`: 100,000 modules and about 300,000 dependency edges in 100 files
//!   (about 46 MB), timed with `rune validate DIR`, `rune plan DIR`,
//!   `rune plan DIR --format json` and `rune graph DIR --format json`;
//! - `actions10k.yaml`: 10,000 modules with events, actions, schemas and configs in
//!   one file (about 37 MB; `support/catalog_gen.rs`), timed with
//!   `rune validate FILE`.
//!
//! Budgets: `plan --format json` and `graph --format json` at 100,000 modules under
//! 1 s and 300 MiB peak each; `validate` at 10,000 modules with actions at least
//! twice as fast as before issue 8 (1.3 s, 341 MiB).
//!
//! `cargo bench --bench scale` writes both shapes into a temporary directory and
//! runs every command a few times through the `rune` binary built with the bench
//! (`cargo bench` builds it with the release profile), printing the median and the
//! spread of the wall time. `RUNE_BENCH_GENERATE=DIR` only writes the shapes into DIR
//! and exits, so that the commands can be timed from outside, with their peak memory:
//!
//! ```text
//! RUNE_BENCH_GENERATE=/tmp/scale target/release/deps/scale-*
//! farm-bench -n 3 -- target/release/rune graph /tmp/scale/deps100k --format json
//! /usr/bin/time -v target/release/rune validate /tmp/scale/actions10k.yaml
//! ```
//!
//! `RUNE_BENCH_RUNS` sets the runs per command (default 3).

#[allow(dead_code)] // the split writer is used, the 100-per-file one is not
#[path = "support/catalog_gen.rs"]
mod catalog_gen;
#[path = "support/xorshift.rs"]
mod xorshift;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use xorshift::XorShift;

/// Modules of the dependency shape.
const DEPS_MODULES: usize = 100_000;
/// Files the dependency shape is split into.
const DEPS_FILES: usize = 100;
/// Modules of the actions shape (one file).
const ACTIONS_MODULES: usize = 10_000;

/// Write one dependency-shape module. Module `i > 0` depends on up to three
/// lower-index modules (so the catalog is valid and acyclic): one close by, which
/// makes long chains and many startup waves, and the others anywhere, which makes
/// wide fan-in. One dependency in ten is optional.
fn deps_module(out: &mut String, i: usize, rng: &mut XorShift) {
    let _ = write!(
        out,
        "  - module_identity:\n      module_name: svc-{i:06}\n      module_class: Service{c}\n      module_type: service\n      module_version: 1.{minor}.{patch}\n      description: Service {i}\n    technical_requirements:\n      supported_protocols: [rcs_v2]\n",
        c = i % 17,
        minor = i % 10,
        patch = i % 7,
    );
    let mut deps: Vec<usize> = Vec::new();
    if i > 0 {
        for pick in 0..3 {
            let to = if pick == 0 {
                i - 1 - rng.below(i.min(8))
            } else {
                rng.below(i)
            };
            if !deps.contains(&to) {
                deps.push(to);
            }
        }
        deps.sort_unstable();
    }
    if !deps.is_empty() {
        out.push_str("      dependencies:\n");
        for to in deps {
            let criticality = if rng.below(10) == 0 {
                "optional"
            } else {
                "required"
            };
            let _ = writeln!(
                out,
                "        - {{ module_name: svc-{to:06}, criticality: {criticality} }}"
            );
        }
    }
    out.push_str("    lifecycle:\n      runtime: builtin\n");
}

/// Write the dependency shape into `dir` (created); returns the directory.
fn write_deps(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("benchmark directory can be created");
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let per_file = DEPS_MODULES / DEPS_FILES;
    for file in 0..DEPS_FILES {
        let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
        for i in file * per_file..(file + 1) * per_file {
            deps_module(&mut text, i, &mut rng);
        }
        std::fs::write(dir.join(format!("catalog-{file:03}.yaml")), text)
            .expect("benchmark catalog can be written");
    }
    dir.to_path_buf()
}

/// Write both shapes into `dir`: `dir/deps100k/` and `dir/actions10k.yaml`.
fn write_shapes(dir: &Path) -> (PathBuf, PathBuf) {
    let deps = write_deps(&dir.join("deps100k"));
    let one = dir.join("actions10k");
    let files = catalog_gen::write_catalog_split(&one, ACTIONS_MODULES, ACTIONS_MODULES);
    let actions = dir.join("actions10k.yaml");
    std::fs::rename(&files[0], &actions).expect("generated file can be moved");
    let _ = std::fs::remove_dir(&one);
    (deps, actions)
}

/// The commands of the benchmark, as argument lists after `rune`.
fn commands(deps: &Path, actions: &Path) -> Vec<Vec<String>> {
    let d = deps.display().to_string();
    let a = actions.display().to_string();
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        args(&["validate", &d]),
        args(&["plan", &d]),
        args(&["plan", &d, "--format", "json"]),
        args(&["graph", &d, "--format", "json"]),
        args(&["validate", &a]),
    ]
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() {
    if let Some(dir) = std::env::var_os("RUNE_BENCH_GENERATE") {
        let (deps, actions) = write_shapes(Path::new(&dir));
        eprintln!("wrote {} and {}", deps.display(), actions.display());
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument (as criterion takes) selects
    // the commands whose line contains it.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_default();
    let runs: usize = std::env::var("RUNE_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let rune = env!("CARGO_BIN_EXE_rune");
    let tmp = tempfile::tempdir().expect("temp dir");
    let (deps, actions) = write_shapes(tmp.path());
    for args in commands(&deps, &actions) {
        let line = format!("rune {}", args.join(" "));
        if !line.contains(&filter) {
            continue;
        }
        let mut times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let status = Command::new(rune)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("rune runs");
            times.push(start.elapsed().as_secs_f64());
            assert!(status.success(), "{line} failed: {status}");
        }
        times.sort_by(f64::total_cmp);
        let shown = line.replace(&tmp.path().display().to_string(), "DIR");
        println!(
            "{shown:<50} median {:>7.3} s  (min {:.3}, max {:.3}, {runs} runs)",
            times[runs / 2],
            times[0],
            times[runs - 1]
        );
    }
}
