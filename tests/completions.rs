//! `rune completions SHELL` and `rune man`: generated from the same clap definition
//! as the parser, so they must know every command, and the scripts must be usable
//! by the shells they are for.

use std::process::Command;

use crate::support::{output_within, rune, skip, DEADLINE};

/// The commands `rune --help` lists, without clap's own `help`.
fn commands() -> Vec<String> {
    let help = rune(["--help"]).run().stdout;
    let commands: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect();
    for expected in ["validate", "plan", "list-actions", "completions", "man"] {
        assert!(commands.iter().any(|c| c == expected), "{commands:?}");
    }
    commands
}

fn completions(shell: &str) -> String {
    let out = rune(["completions", shell]).run();
    assert_eq!(out.code, 0, "{shell}: {}", out.snapshot());
    assert!(out.stderr.is_empty(), "{shell}: {}", out.stderr);
    out.stdout
}

#[test]
fn completions_for_every_shell_name_every_command() {
    let commands = commands();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = completions(shell);
        assert!(script.len() > 1000, "{shell}: {script}");
        for command in &commands {
            assert!(script.contains(command.as_str()), "{shell} lacks {command}");
        }
        // Flags of subcommands too, not only the command names.
        assert!(script.contains("detailed-exitcode"), "{shell}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    let out = rune(["completions", "tcsh"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{}",
        out.stderr
    );
}

/// What bash completes for `words`, the last one being completed, with the
/// script loaded the way bash-completion loads it.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Option<Vec<String>> {
    let line = words.join(" ");
    let program = format!(
        "source {}\nCOMP_WORDS=({line})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT={}\n_rune rune '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let mut bash = Command::new("bash");
    bash.args(["--norc", "-c", &program]);
    let out = output_within(bash, DEADLINE).ok()?;
    assert_eq!(out.code, 0, "{}", out.stderr);
    Some(out.stdout.split_whitespace().map(str::to_string).collect())
}

#[test]
fn the_bash_script_is_valid_bash_and_completes_commands_flags_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rune.bash");
    std::fs::write(&script, completions("bash")).unwrap();
    let mut bash = Command::new("bash");
    bash.arg("-n").arg(&script);
    let Ok(syntax) = output_within(bash, DEADLINE) else {
        skip("no bash");
        return;
    };
    assert_eq!(syntax.code, 0, "{}", syntax.stderr);
    let complete = |words: &[&str]| bash_completes(&script, words).unwrap();
    assert_eq!(complete(&["rune", "pl"]), ["plan"]);
    assert_eq!(complete(&["rune", "list-"]), ["list-actions", "list-nodes"]);
    assert_eq!(
        complete(&["rune", "plan", "--detailed"]),
        ["--detailed-exitcode"]
    );
    assert_eq!(
        complete(&["rune", "validate", "--format", ""]),
        ["human", "json", "github", "sarif"]
    );
}

#[test]
fn the_man_page_documents_every_command() {
    let out = rune(["man"]).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let page = &out.stdout;
    let title = page.find(".TH rune 1").expect("a rune(1) title");
    assert!(title < page.find(".SH NAME").unwrap(), "{page}");
    for command in commands() {
        // roff escapes `-` as `\-`.
        let reference = format!("rune\\-{}(1)", command.replace('-', "\\-"));
        assert!(page.contains(&reference), "no {reference} in\n{page}");
    }
    // The version changes with every release; the page around it should not.
    insta::assert_snapshot!(page.replace(env!("CARGO_PKG_VERSION"), "[VERSION]"));
}

#[test]
fn man_out_dir_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = rune(["man", "--out-dir"]).arg_path(dir.path()).run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let mut expected: Vec<String> = commands().iter().map(|c| format!("rune-{c}.1")).collect();
    expected.push("rune.1".to_string());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, expected);
    assert!(
        out.stderr
            .starts_with(&format!("{} man pages written to ", expected.len())),
        "{}",
        out.stderr
    );

    let plan = std::fs::read_to_string(dir.path().join("rune-plan.1")).unwrap();
    assert!(plan.contains(".TH rune-plan 1  \"rune "), "{plan}");
    assert!(plan.contains("\\-\\-detailed\\-exitcode"), "{plan}");
    // The same page as `rune man` prints.
    let root = std::fs::read_to_string(dir.path().join("rune.1")).unwrap();
    assert_eq!(root, rune(["man"]).run().stdout);

    // Pages a man reader can format without warnings.
    let mut groff = Command::new("groff");
    groff
        .args(["-man", "-z", "-ww"])
        .arg(dir.path().join("rune-plan.1"));
    match output_within(groff, DEADLINE) {
        Ok(groff) => assert!(
            groff.code == 0 && groff.stderr.is_empty(),
            "{}",
            groff.stderr
        ),
        Err(_) => skip("no groff"),
    }
}

#[test]
fn man_out_dir_that_does_not_exist_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("man1");
    let out = rune(["man", "--out-dir"]).arg_path(&missing).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .starts_with("rune::cli::unwritable_out\n\n  × cannot write rune.1 in `")
            && out.stderr.ends_with("man1`: no such directory\n"),
        "{}",
        out.stderr
    );
    assert!(!missing.exists());
}

#[test]
fn the_readme_installs_completions_for_every_shell_and_the_man_pages() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let mut shells: Vec<&str> = readme
        .split("rune completions ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    shells.sort_unstable();
    shells.dedup();
    assert_eq!(shells, ["bash", "elvish", "fish", "powershell", "zsh"]);
    for shell in shells {
        completions(shell);
    }
    assert!(
        readme.contains("rune man --out-dir "),
        "the README installs man pages"
    );
}
