//! `rune explain`: every code is explained, and the examples in the explanations are
//! real — the bad example produces the code, the fixed one does not.

use crate::support::rune;

/// The indented code block after `heading` in an explanation.
fn example(text: &str, heading: &str) -> Option<String> {
    let start = text.find(&format!("\n{heading}\n\n"))? + heading.len() + 3;
    let block: Vec<&str> = text[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .collect();
    let block = block.join("\n");
    let lines: Vec<&str> = block
        .trim_end()
        .lines()
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    Some(lines.join("\n") + "\n")
}

fn all_codes() -> Vec<String> {
    let out = rune(["explain"]).run();
    assert_eq!(out.code, 0);
    out.stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn every_code_has_an_explanation_with_a_fix() {
    let codes = all_codes();
    assert!(codes.len() > 40, "{codes:?}");
    for code in codes {
        let out = rune(["explain", &code]).run();
        assert_eq!(out.code, 0, "{code}: {}", out.snapshot());
        assert!(out.stdout.starts_with(&code), "{code}");
        assert!(
            out.stdout.lines().count() > 4,
            "{code} is explained too briefly"
        );
    }
}

#[test]
fn explain_accepts_the_short_name() {
    let long = rune(["explain", "rune::check::dependency_cycle"]).run();
    let short = rune(["explain", "dependency_cycle"]).run();
    assert_eq!(long.stdout, short.stdout);
    insta::assert_snapshot!(long.stdout);
}

#[test]
fn explain_of_an_unknown_code_is_a_usage_error_with_a_suggestion() {
    let out = rune(["explain", "dependency_cycles"]).run();
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("did you mean `rune::check::dependency_cycle`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_examples_produce_their_code_and_fixed_examples_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for code in all_codes() {
        let text = rune(["explain", &code]).run().stdout;
        let (Some(bad), Some(fixed)) = (example(&text, "Bad:"), example(&text, "Fixed:")) else {
            continue;
        };
        let bad_path = dir.path().join("bad.yaml");
        let fixed_path = dir.path().join("fixed.yaml");
        std::fs::write(&bad_path, &bad).unwrap();
        std::fs::write(&fixed_path, &fixed).unwrap();
        let report = rune(["validate", "--format", "json"])
            .arg_path(&bad_path)
            .run()
            .json();
        let codes: Vec<&str> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert!(
            codes.contains(&code.as_str()),
            "bad example of {code} gives {codes:?}:\n{bad}"
        );
        let out = rune(["validate", "--format", "json", "--deny-warnings"])
            .arg_path(&fixed_path)
            .run();
        assert_eq!(
            out.code, 0,
            "fixed example of {code} is not clean:\n{fixed}\n{}",
            out.stdout
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} codes have runnable examples");
}
