//! `rune graph`: the dependency graph as DOT, Mermaid and JSON.

use crate::plan::fixture;
use crate::support::rune;

#[test]
fn graph_defaults_to_dot_with_optional_edges_dashed() {
    let dir = fixture();
    let out = rune(["graph"]).current_dir(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out
        .stdout
        .contains("\"metrics\" -> \"event-bus\" [style=dashed];"));
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn graph_as_mermaid() {
    let dir = fixture();
    let out = rune(["graph", "--format", "mermaid"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn graph_as_json() {
    let dir = fixture();
    let out = rune(["graph", "--format", "json"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let graph = out.json();
    assert_eq!(graph["nodes"].as_array().map(Vec::len), Some(8));
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn graph_takes_catalog_paths_as_arguments() {
    let dir = fixture();
    let out = rune(["graph", "catalogs/core.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.stdout.contains("nomad-ops"));
}

#[test]
fn graph_of_an_invalid_catalog_is_refused() {
    let dir = fixture();
    let out = rune(["graph", "catalogs/ops.yaml"])
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("rune::check::missing_dependency"),
        "{}",
        out.stderr
    );
}
