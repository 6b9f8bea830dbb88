//! `rune explain`: every code is explained, and the examples in the explanations are
//! real — the bad example produces the code, the fixed one does not.
//!
//! An example is either catalog YAML (written to files and validated; `# file: NAME`
//! lines split one block into several files) or a `rune ...` command line (run from
//! the repository root, against the bundled catalogs).

use std::path::Path;

use crate::support::{rune, Output};

/// Codes whose explanation has no runnable example: the condition is a property of
/// the bytes of a file (size, encoding, NUL bytes), which an explanation cannot show
/// as text, or of the directory tree around it.
const WITHOUT_EXAMPLES: &[&str] = &[
    "rune::load::directory_too_deep",
    "rune::load::file_too_large",
    "rune::load::not_utf8",
    "rune::load::binary_file",
];

/// The indented block after the heading line that starts with `heading` (`Bad` or
/// `Fixed`, optionally followed by a remark in parentheses) and ends with `:`.
fn example(text: &str, heading: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(heading) && l.ends_with(':'))?;
    let block: Vec<&str> = lines[at + 1..]
        .iter()
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let block = block.join("\n");
    let block = block.trim_end();
    (!block.is_empty()).then(|| format!("{block}\n"))
}

fn all_codes() -> Vec<String> {
    let out = rune(["explain"]).run();
    assert_eq!(out.code, 0);
    out.stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// Split a command line into words; double quotes group words.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Run an example: a `rune` command line, or catalog files validated as JSON.
fn run_example(example: &str, dir: &Path) -> Output {
    if let Some(command) = example.strip_prefix("rune ") {
        assert_eq!(example.lines().count(), 1, "one command per example");
        return rune(words(command.trim())).run();
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    let mut name = "catalog.yaml".to_string();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in example.lines() {
        if let Some(file) = line.strip_prefix("# file: ") {
            name = file.trim().to_string();
            files.push((name.clone(), String::new()));
            continue;
        }
        if files.is_empty() {
            files.push((name.clone(), String::new()));
        }
        let text = &mut files.last_mut().unwrap().1;
        text.push_str(line);
        text.push('\n');
    }
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    // Warnings fail too, so a warning code's bad example cannot pass silently.
    rune(["validate", "--format", "json", "--deny-warnings"])
        .arg_path(dir)
        .run()
}

/// The codes a run reported: from the JSON report, or mentioned in human output.
fn reported(out: &Output) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(&out.stdout) {
        Ok(report) if report.get("diagnostics").is_some() => report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_string())
            .collect(),
        _ => all_codes()
            .into_iter()
            .filter(|c| out.stdout.contains(c.as_str()) || out.stderr.contains(c.as_str()))
            .collect(),
    }
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
fn explanations_name_the_protocol_code_where_there_is_one() {
    for &code in rune::diagnostic::Code::ALL {
        let text = rune::explain::explanation(code);
        if let Some(number) = code.protocol_code() {
            assert!(
                text.contains(&number.to_string()),
                "the explanation of {code} does not mention {number}"
            );
        }
    }
}

#[test]
fn bad_examples_produce_their_code_and_fixed_examples_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for code in all_codes() {
        let text = rune(["explain", &code]).run().stdout;
        let (bad, fixed) = (example(&text, "Bad"), example(&text, "Fixed"));
        if WITHOUT_EXAMPLES.contains(&code.as_str()) {
            assert!(bad.is_none() && fixed.is_none(), "{code} has examples now");
            continue;
        }
        let (Some(bad), Some(fixed)) = (bad, fixed) else {
            panic!("{code} has no Bad: and Fixed: examples:\n{text}");
        };

        let out = run_example(&bad, &dir.path().join("bad"));
        assert_ne!(out.code, 0, "bad example of {code} passes:\n{bad}");
        if code == "rune::plan::policy_denied" {
            // A denial is a decision recorded in the plan; stderr names the code.
            assert!(out.stdout.contains("denied by policy"), "{}", out.stdout);
            assert!(
                out.stderr.contains("error[rune::plan::policy_denied]"),
                "{}",
                out.stderr
            );
        } else {
            let codes = reported(&out);
            assert!(
                codes.contains(&code),
                "bad example of {code} gives {codes:?}:\n{bad}\n{}",
                out.snapshot()
            );
        }

        let out = run_example(&fixed, &dir.path().join("fixed"));
        assert_eq!(
            out.code,
            0,
            "fixed example of {code} fails:\n{fixed}\n{}",
            out.snapshot()
        );
        let codes = reported(&out);
        assert!(
            codes.is_empty(),
            "fixed example of {code} still gives {codes:?}:\n{fixed}"
        );
        checked += 1;
    }
    assert_eq!(checked, all_codes().len() - WITHOUT_EXAMPLES.len());
}
