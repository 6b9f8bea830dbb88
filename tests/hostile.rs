//! Hostile shapes through the real binary, one generator per class of attack: very
//! long lines, anchors and aliases, many diagnostics in one file, and control
//! characters in every string a person reads. Each case checks the invariants that
//! hold for any input: a defined exit code, no panic, an answer within a time
//! bound, locations inside the file, and no raw control character on a terminal.

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run `rune ARGS` with a deadline: a hang is a failure, not a stuck test suite.
fn run_with_deadline(args: &[&str], cwd: &Path, deadline: Duration) -> Run {
    let out = crate::support::rune(args)
        .current_dir(cwd)
        .deadline(deadline)
        .run();
    Run {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// Characters that must never reach a terminal raw: C0 controls other than newline
/// and tab, DEL, C1 controls, and the bidirectional overrides and isolates that
/// reorder what a reviewer sees.
fn is_forbidden_on_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_no_raw_controls(what: &str, text: &str) {
    if let Some((i, c)) = text
        .char_indices()
        .find(|&(_, c)| is_forbidden_on_a_terminal(c))
    {
        let from = text[..i].char_indices().rev().nth(60).map_or(0, |(j, _)| j);
        panic!(
            "{what} shows a raw {c:?} at byte {i}: …{:?}…",
            &text[from..(i + c.len_utf8()).min(text.len())]
        );
    }
}

/// The invariants every run holds, whatever the input.
fn assert_sane(what: &str, run: &Run) {
    assert!(
        matches!(run.code, 0..=3),
        "{what}: exit code {}\n{}",
        run.code,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
}

/// Every location in a JSON diagnostics document lies inside its file: the line
/// exists and the columns are within it (characters, 1-based, end exclusive).
fn assert_locations_in_files(json: &serde_json::Value, dir: &Path) {
    let diagnostics = json["diagnostics"].as_array().expect("diagnostics array");
    for d in diagnostics {
        let mut places = vec![d["location"].clone()];
        places.extend(d["labels"].as_array().cloned().unwrap_or_default());
        for place in places.into_iter().filter(|p| !p.is_null()) {
            let file = place["file"].as_str().unwrap();
            let path = if Path::new(file).is_absolute() {
                Path::new(file).to_path_buf()
            } else {
                dir.join(file)
            };
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("label file {file} ({e}) in {d}"));
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let lines: Vec<&str> = text.split('\n').collect();
            for (line_key, col_key) in [("line", "column"), ("end_line", "end_column")] {
                let line = place[line_key].as_u64().unwrap() as usize;
                let column = place[col_key].as_u64().unwrap() as usize;
                assert!(
                    (1..=lines.len()).contains(&line),
                    "{line_key} {line} outside {file} ({} lines): {d}",
                    lines.len()
                );
                let width = lines[line - 1].chars().count();
                assert!(
                    (1..=width + 1).contains(&column),
                    "{col_key} {column} outside line {line} ({width} chars) of {file}: {d}"
                );
            }
            let start = (place["line"].as_u64(), place["column"].as_u64());
            let end = (place["end_line"].as_u64(), place["end_column"].as_u64());
            assert!(start <= end, "a label ends before it starts: {d}");
        }
    }
}

/// One module entry as compact JSON; `version` lets a case plant a bad value.
fn module_json(i: usize, version: &str, description: &str, deps: &[usize]) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!(r#"{{"module_name":"m{d}","criticality":"required"}}"#))
        .collect();
    format!(
        concat!(
            r#"{{"module_identity":{{"module_name":"m{i}","module_class":"C","module_type":"service","#,
            r#""module_version":{version},"description":{description}}},"#,
            r#""technical_requirements":{{"supported_protocols":["rcs_v2"],"dependencies":[{deps}]}},"#,
            r#""lifecycle":{{"runtime":"none"}}}}"#
        ),
        i = i,
        version = version,
        description = description,
        deps = deps.join(",")
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    /// Minified JSON: hundreds of modules on one line, one of them broken, far past
    /// the column where a renderer's fixed-width formatting used to overflow.
    #[test]
    fn one_very_long_line_with_a_bad_value_is_reported_not_a_crash(
        count in 200usize..900,
        bad in any::<prop::sample::Index>(),
        spread in 0usize..40,
    ) {
        let bad = bad.index(count);
        let modules: Vec<String> = (0..count)
            .map(|i| {
                let version = if i == bad { "\"not-a-version\"" } else { "\"1.0.0\"" };
                let description = format!("\"{}\"", "x".repeat(spread + 10));
                module_json(i, version, &description, &[])
            })
            .collect();
        let text = format!(r#"{{"catalog_version":"1","modules":[{}]}}"#, modules.join(","));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("minified.json"), &text).unwrap();
        let deadline = Duration::from_secs(20);
        for args in [
            &["validate", "minified.json"][..],
            &["validate", "--format", "json", "minified.json"],
            &["validate", "--format", "sarif", "minified.json"],
            &["validate", "--format", "github", "minified.json"],
            &["plan", "--catalog", "minified.json", "--at", "2026-01-05T10:00:00Z"],
            &["graph", "--catalog", "minified.json"],
            &["list-actions", "--catalog", "minified.json"],
        ] {
            let run = run_with_deadline(args, dir.path(), deadline);
            let what = args.join(" ");
            assert_sane(&what, &run);
            prop_assert_eq!(run.code, 1, "{}: {}", what, run.stderr);
            // The snippet is clipped around the label: no line of the report
            // reproduces the whole input line.
            for line in run.stderr.lines() {
                prop_assert!(line.chars().count() < 2_000, "{}: a {}-char line", what, line.len());
            }
            if args.contains(&"json") {
                let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
                assert_locations_in_files(&json, dir.path());
            }
        }
    }

    /// Anchors and aliases in every arrangement: nested anchors, aliases of
    /// aliases, many small anchors, redefinitions. Whatever the shape, the answer
    /// comes quickly and is either a valid reading or the alias limit.
    #[test]
    fn anchors_and_aliases_of_any_shape_answer_quickly(
        levels in 1usize..12,
        width in 1usize..12,
        anchors in 0usize..20_000,
        aliases in 0usize..20_000,
        redefine in any::<bool>(),
    ) {
        let mut text = String::from("catalog_version: \"1\"\nx-shapes:\n");
        text.push_str("  base: &l0 [a, b, c]\n");
        for level in 1..levels {
            let row = vec![format!("*l{}", level - 1); width].join(", ");
            text.push_str(&format!("  n{level}: &l{level} [{row}]\n"));
        }
        text.push_str("  many:\n");
        for i in 0..anchors {
            let name = if redefine { "same".to_string() } else { format!("a{i}") };
            text.push_str(&format!("    - &{name} {{k: {i}}}\n"));
        }
        if anchors > 0 {
            text.push_str("  uses:\n");
            for i in 0..aliases {
                let name = if redefine { "same".to_string() } else { format!("a{}", i % anchors) };
                text.push_str(&format!("    - *{name}\n"));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("anchors.yaml"), &text).unwrap();
        let run = run_with_deadline(
            &["validate", "--format", "json", "anchors.yaml"],
            dir.path(),
            Duration::from_secs(20),
        );
        assert_sane("anchors", &run);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_locations_in_files(&json, dir.path());
        // `x-shapes` is not a catalog key: the run always finds a problem.
        prop_assert_eq!(run.code, 1);
        // Nodes the aliases add: a level-k list holds `width` copies of level k-1.
        let mut size = 4usize; // [a, b, c]
        let mut expansion = 0usize;
        for _ in 1..levels {
            expansion = expansion.saturating_add(width.saturating_mul(size));
            size = size.saturating_mul(width).saturating_add(1);
        }
        if anchors > 0 {
            expansion = expansion.saturating_add(aliases.saturating_mul(3)); // {k: i}
        }
        let codes: Vec<&str> = json["diagnostics"].as_array().unwrap().iter()
            .map(|d| d["code"].as_str().unwrap()).collect();
        let limited = codes.contains(&"rune::load::alias_limit");
        if expansion > 2 * rune::yaml::MAX_ALIAS_EXPANSION {
            prop_assert!(limited, "{} nodes expanded without reaching the cap", expansion);
        }
        if expansion < rune::yaml::MAX_ALIAS_EXPANSION / 2 {
            prop_assert!(!limited, "the cap stopped only {} expanded nodes", expansion);
        }
    }

    /// Thousands of diagnostics in one file render in every format, one entry per
    /// problem, each located inside the file.
    #[test]
    fn many_diagnostics_in_one_file_render_in_every_format(
        count in 500usize..3_000,
        padding in 0usize..200,
    ) {
        let mut text = String::from("catalog_version: \"1\"\nmodules:\n");
        for i in 0..count {
            text.push_str(&format!(
                "  - module_identity: {{module_name: m{i}, module_class: C, module_type: service, \
                 module_version: 1.0.0, description: d{}}}\n    unknown_key_{i}: 1\n",
                "y".repeat(padding)
            ));
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("many.yaml"), &text).unwrap();
        let deadline = Duration::from_secs(30);
        let json_run = run_with_deadline(&["validate", "--format", "json", "many.yaml"], dir.path(), deadline);
        assert_sane("json", &json_run);
        let json: serde_json::Value = serde_json::from_str(&json_run.stdout).unwrap();
        let unknown = json["diagnostics"].as_array().unwrap().iter()
            .filter(|d| d["code"] == "rune::schema::unknown_key").count();
        prop_assert_eq!(unknown, count);
        assert_locations_in_files(&json, dir.path());
        let human = run_with_deadline(&["validate", "many.yaml"], dir.path(), deadline);
        assert_sane("human", &human);
        prop_assert_eq!(human.stderr.matches("rune::schema::unknown_key").count(), count);
        for format in ["github", "sarif"] {
            let run = run_with_deadline(&["validate", "--format", format, "many.yaml"], dir.path(), deadline);
            assert_sane(format, &run);
            prop_assert_eq!(run.code, 1);
        }
    }

    /// Control characters and bidi overrides in every string a catalog can carry
    /// never reach a terminal raw, in any human output; JSON keeps them exact.
    #[test]
    fn control_characters_in_catalog_strings_never_reach_a_terminal_raw(
        picks in prop::collection::vec(0usize..CONTROLS.len(), 1..6),
    ) {
        let nasty: String = picks.iter().map(|&i| CONTROLS[i]).collect();
        let yaml_escaped: String = nasty.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let text = format!(
            r#"catalog_version: "1"
modules:
  - module_identity:
      module_name: target
      module_class: C
      module_type: service
      module_version: 1.0.0
      description: "innocent{e}FAKE"
    capability_declaration:
      actions:
        - action: act
          description: "does{e}things"
          category: diagnostic
          impact: low
          exec: ["plugins/x{e}.sh", "--flag={e}"]
          input_schema:
            type: object
            properties:
              node: {{ type: string, description: "node{e}name" }}
    lifecycle:
      runtime: process
      exec: ["bin/mod{e}", "--stdio"]
  - module_identity:
      module_name: other
      module_class: C
      module_type: service
      module_version: 1.0.0
      description: "broken{e}one"
    unknown{e}key: 1
"#,
            e = yaml_escaped
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.yaml"), &text).unwrap();
        // The broken module makes validate fail; the others read a valid copy.
        let valid = text.split("  - module_identity:\n      module_name: other").next().unwrap();
        std::fs::create_dir(dir.path().join("ok")).unwrap();
        std::fs::write(dir.path().join("ok/c.yaml"), valid).unwrap();
        // A command line cannot carry NUL; everything else goes through.
        let arg_text: String = nasty.chars().filter(|&c| c != '\0').collect();
        let param = format!("node=a{arg_text}b");
        let reason = format!("because{arg_text}");
        let deadline = Duration::from_secs(20);
        for args in [
            &["validate", "c.yaml"][..],
            &["validate", "--format", "github", "c.yaml"],
            &["plan", "--catalog", "ok", "--at", "2026-01-05T10:00:00Z"],
            &["plan", "--catalog", "ok", "--action", "act", "-p", &param, "--reason", &reason,
              "--at", "2026-01-05T10:00:00Z"],
            &["plan", "--catalog", "ok", "--action", "act", "-p", "nope=1", "--at", "2026-01-05T10:00:00Z"],
            &["list-actions", "--catalog", "ok"],
            &["graph", "--catalog", "ok", "--format", "dot"],
            &["graph", "--catalog", "ok", "--format", "mermaid"],
        ] {
            let run = run_with_deadline(args, dir.path(), deadline);
            let what = args.join(" ");
            assert_sane(&what, &run);
            assert_no_raw_controls(&format!("{what} (stdout)"), &run.stdout);
            assert_no_raw_controls(&format!("{what} (stderr)"), &run.stderr);
        }
        // JSON is exact: the description comes back byte for byte.
        let run = run_with_deadline(&["list-actions", "--catalog", "ok", "--format", "json"], dir.path(), deadline);
        assert_sane("list-actions json", &run);
        prop_assert!(run.stdout.contains(&serde_json::to_string(&format!("does{nasty}things")).unwrap()[1..]),
            "{}", run.stdout);
    }
}

/// The characters a forger reaches for: escape sequences, carriage return,
/// backspace, bell, DEL, a C1 CSI, and bidi overrides and isolates.
const CONTROLS: &[char] = &[
    '\u{1b}', '\r', '\u{8}', '\u{7}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{0}', '\u{b}',
    '\u{c}',
];
