//! Deterministic catalog generator for the validation benchmark.
//!
//! Writes `n` modules as YAML, 100 modules per file, each with 2-4 provided events
//! (data_schema, schema_version, example_data valid against it), 1-3 actions with
//! small input and output schemas, 0-3 dependencies on lower-index modules whose
//! version requirements they satisfy, and a configuration_schema with a config that
//! satisfies it. Schemas vary per module (limits, enum values) so that caching cannot
//! make validation trivial. The same `n` always gives byte-identical files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::xorshift::XorShift;

/// Modules per file in the standard layout.
pub(crate) const MODULES_PER_FILE: usize = 100;

/// Write the catalog for `n` modules into `dir`, 100 modules per file; returns the
/// files written, sorted.
pub(crate) fn write_catalog(dir: &Path, n: usize) -> Vec<PathBuf> {
    write_catalog_split(dir, n, MODULES_PER_FILE)
}

/// Write the catalog for `n` modules into `dir` with `per_file` modules per file
/// (`per_file >= n` gives one file). The modules are the same whatever the split.
pub(crate) fn write_catalog_split(dir: &Path, n: usize, per_file: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("benchmark directory can be created");
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut files = Vec::new();
    for (file_index, first) in (0..n).step_by(per_file.max(1)).enumerate() {
        let mut text = String::from(
            "# yaml-language-server: $schema=../schemas/catalog.schema.json\ncatalog_version: \"1\"\nmodules:\n",
        );
        for i in first..(first + per_file.max(1)).min(n) {
            write_module(&mut text, i, &mut rng);
        }
        let path = dir.join(format!("catalog-{file_index:04}.yaml"));
        std::fs::write(&path, text).expect("benchmark catalog can be written");
        files.push(path);
    }
    files
}

fn write_module(out: &mut String, i: usize, rng: &mut XorShift) {
    let minor = i % 10;
    let _ = write!(
        out,
        "  - module_identity:\n      module_name: svc-{i:05}\n      module_class: Service{c}\n      module_type: service\n      module_version: 1.{minor}.{patch}\n      description: Generated service {i} for the validation benchmark\n",
        c = i % 17,
        patch = i % 7,
    );
    out.push_str("    capability_declaration:\n      provides_events:\n");
    for e in 0..rng.range(2, 4) {
        let max_len = 8 + (i + e as usize) % 40;
        let _ = write!(
            out,
            "        - event_type: SVC_{i:05}_EVENT_{e}\n          description: Event {e} of service {i}\n          schema_version: \"1.{e}\"\n          data_schema:\n            type: object\n            required: [id, level]\n            properties:\n              id: {{ type: string, maxLength: {max_len} }}\n              level: {{ enum: [info, warn, error, level{e}] }}\n              count: {{ type: integer, minimum: 0, maximum: {max} }}\n            additionalProperties: false\n          example_data: {{ id: e{e}, level: warn, count: {count} }}\n",
            max = 100 + i,
            count = i % 100,
        );
    }
    out.push_str("      actions:\n");
    for a in 0..rng.range(1, 3) {
        let category = if a % 2 == 0 {
            "diagnostic"
        } else {
            "remediation"
        };
        let impact = ["low", "medium", "high"][(i + a as usize) % 3];
        let _ = write!(
            out,
            "        - action: svc-{i:05}-action-{a}\n          description: Action {a} of service {i}\n          category: {category}\n          impact: {impact}\n          exec: [\"plugins/svc-{i:05}-{a}.sh\"]\n          timeout_ms: {timeout}\n          input_schema:\n            type: object\n            required: [node]\n            properties:\n              node: {{ type: string, pattern: \"^[a-z0-9.-]+$\", maxLength: {max_len} }}\n              force: {{ type: boolean }}\n            additionalProperties: false\n          output_schema:\n            type: object\n            properties:\n              ok: {{ type: boolean }}\n              detail: {{ type: string }}\n",
            timeout = 1000 * (1 + i % 60),
            max_len = 64 + i % 200,
        );
    }
    out.push_str("    technical_requirements:\n      supported_protocols: [rcs_v2]\n");
    let deps = if i == 0 {
        0
    } else {
        rng.range(0, 3.min(i as u64))
    };
    if deps > 0 {
        out.push_str("      dependencies:\n");
        let mut chosen: Vec<usize> = Vec::new();
        for _ in 0..deps {
            let to = rng.next() as usize % i;
            if !chosen.contains(&to) {
                chosen.push(to);
            }
        }
        chosen.sort_unstable();
        for to in chosen {
            let criticality = if to % 5 == 0 { "optional" } else { "required" };
            let _ = writeln!(
                out,
                "        - {{ module_name: svc-{to:05}, version_requirement: \">=1.{minor}.0\", criticality: {criticality} }}",
                minor = to % 10,
            );
        }
    }
    let _ = write!(
        out,
        "      configuration_schema:\n        type: object\n        required: [workers]\n        properties:\n          workers: {{ type: integer, minimum: 1, maximum: {max} }}\n          mode: {{ enum: [fast, safe, mode{m}] }}\n        additionalProperties: false\n    lifecycle:\n      runtime: builtin\n      config: {{ workers: {w}, mode: safe }}\n      timeouts: {{ initialize_ms: {init}, ready_ms: {ready}, drain_ms: 5000, shutdown_ms: 3000 }}\n",
        max = 8 + i % 64,
        m = i % 13,
        w = 1 + i % 8,
        init = 100 + i % 900,
        ready = 500 + i % 4500,
    );
}
