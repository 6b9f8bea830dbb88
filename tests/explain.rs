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
    "rune::plan::unrepresentable_path",
    // `rune explain` itself and a failing stdout: no catalog or single command
    // shows them; tests/explain.rs and tests/output.rs do.
    "rune::cli::unknown_code",
    "rune::cli::ambiguous_code",
    "rune::cli::unwritable_stdout",
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
    // The diagnostic codes come first; the runtime (EPS) codes follow a blank line.
    out.stdout
        .lines()
        .take_while(|l| !l.is_empty())
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
                out.stderr.contains("rune::plan::policy_denied"),
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

/// Every way a person may name a code, and what each finds.
fn explain(query: &str) -> crate::support::Output {
    rune(["explain", query]).run()
}

#[test]
fn explain_finds_a_code_by_its_protocol_number_with_or_without_the_sign() {
    let by_name = explain("duplicate_module");
    for query in ["-32205", "32205", "+32205"] {
        let out = explain(query);
        assert_eq!(out.code, 0, "{query}: {}", out.snapshot());
        assert_eq!(out.stdout, by_name.stdout, "{query}");
    }
}

#[test]
fn explain_finds_a_code_in_upper_case_and_by_a_unique_prefix() {
    let by_name = explain("rune::check::duplicate_module");
    for query in [
        "RUNE::CHECK::DUPLICATE_MODULE",
        "Duplicate_Module",
        "duplicate_mod",
        "rune::check::duplicate_m",
        "check::duplicate_mod",
    ] {
        let out = explain(query);
        assert_eq!(out.code, 0, "{query}: {}", out.snapshot());
        assert_eq!(out.stdout, by_name.stdout, "{query}");
    }
}

#[test]
fn a_protocol_number_shared_by_several_codes_lists_them() {
    let out = explain("-32200");
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn an_ambiguous_prefix_lists_the_candidates_and_is_a_usage_error() {
    let out = explain("dup");
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
}

#[test]
fn an_unknown_protocol_number_lists_the_known_ones() {
    let out = explain("-32999");
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    // Too large for any protocol number: the same answer, not an overflow.
    let out = explain("99999999999999999999");
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stderr.starts_with(
            "rune::cli::unknown_code\n\n  × no diagnostic code or runtime error has protocol code `-99999999999999999999`"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_name_suggests_the_closest_code_in_any_case() {
    let out = explain("DEPENDENCY_CYCLES");
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!(out.snapshot());
    // Nothing close: no suggestion, and the input is shown escaped.
    let out = explain("zz\u{1b}[2Kzz");
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(
        out.stderr,
        "rune::cli::unknown_code\n\n  × unknown diagnostic code `zz\\e[2Kzz`\n  help: run `rune explain` to list every code\n"
    );
}

/// The subcommands `rune --help` lists.
fn subcommands() -> Vec<String> {
    let help = rune(["--help"]).run().stdout;
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// The words after `rune` where an explanation shows a command: in backticks
/// (`` `rune plan --action NAME` ``) or on an indented example line.
fn commands_named(text: &str) -> Vec<String> {
    let first_word = |rest: &str| {
        rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let mut named: Vec<String> = text.split("`rune ").skip(1).map(first_word).collect();
    named.extend(
        text.lines()
            .filter_map(|l| l.strip_prefix("    rune "))
            .map(first_word),
    );
    named
}

#[test]
fn explanations_only_name_commands_that_exist() {
    let commands = subcommands();
    assert!(commands.contains(&"plan".to_string()), "{commands:?}");
    assert!(commands_named("`rune run X` and\n    rune apply p.json\n").len() == 2);
    for &code in rune::diagnostic::Code::ALL {
        for command in commands_named(rune::explain::explanation(code)) {
            assert!(
                commands.contains(&command),
                "the explanation of {code} names `rune {command}`, which does not exist"
            );
        }
    }
}

#[test]
fn every_runtime_code_is_explained_by_number_and_by_name() {
    for kind in rune::exec::eps::ALL_KINDS {
        let code = kind.code().to_string();
        let by_number = explain(&code);
        assert_eq!(by_number.code, 0, "{code}: {}", by_number.snapshot());
        let header = format!("{code} {} — {}", kind.name(), kind.title());
        assert!(by_number.stdout.contains(&header), "{}", by_number.stdout);
        let by_name = explain(kind.name());
        assert_eq!(by_name.code, 0, "{}: {}", kind.name(), by_name.snapshot());
        assert!(by_name.stdout.starts_with(&header), "{}", by_name.stdout);
        for part in ["Usual causes", "What to do", "class: ", "severity: "] {
            assert!(by_name.stdout.contains(part), "{}: no {part}", kind.name());
        }
        // The `eps::` prefix names the runtime kind alone, in any case.
        let prefixed = explain(&format!("EPS::{}", kind.name().to_uppercase()));
        assert_eq!(prefixed.code, 0, "{}", prefixed.snapshot());
        assert!(prefixed.stdout.starts_with(&header));
        assert!(!prefixed.stdout.contains("diagnostic code"));
    }
    // A number two kinds share explains both.
    let shared = explain("-32602");
    assert!(
        shared.stdout.contains("invalid_params") && shared.stdout.contains("plugin_rejected_input")
    );
    assert!(shared.stdout.contains("rune::plan::invalid_parameter"));
    // The listing ends with the runtime codes.
    let all = rune(["explain"]).run();
    assert!(all.stdout.contains("-32401  timeout"), "{}", all.stdout);
}
