//! Bad input never panics, hangs or takes unbounded memory: random and mutated
//! catalogs through the library, a sample through the real binary, and the nasty
//! files (huge, binary, special) one by one.

use proptest::prelude::*;

use crate::support::rune;

/// The example catalogs' text: a realistic starting point for mutations.
fn seeds() -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(crate::support::root().join("catalogs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// Fragments that stress the YAML parser and the later stages.
const FRAGMENTS: &[&[u8]] = &[
    b"&a ",
    b"*a",
    b"!!str ",
    b"!custom ",
    b"{",
    b"}",
    b"[",
    b"]",
    b": ",
    b"- ",
    b"\n",
    b"\t",
    b"  ",
    b"---\n",
    b"\0",
    b"\xff\xfe",
    b"\"",
    b"'",
    b"#",
    b"|\n",
    b">-\n",
    b"? ",
    b"<<: *a\n",
    b"~",
    b"1e309",
    b"-9223372036854775809",
    b"0x",
    b"module_name: ",
    b"dependencies: [{module_name: lom, criticality: required}]",
    b"$from: steps.",
    // Control characters a catalog could use to forge what a terminal shows.
    b"\x1b[2K\rFAKE: all good",
    "\u{202e}".as_bytes(),
    b"\"\\e[31m\\r\"",
    // Anchors that nest and refer back.
    b"&b [*a, *a, *a]\n",
    b"- &c {k: *c}\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, fragment: usize },
    Duplicate { at: usize, len: usize },
    Truncate { at: usize },
    SwapLines { a: usize, b: usize },
    Byte { at: usize, value: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), 0..FRAGMENTS.len())
            .prop_map(|(at, fragment)| Mutation::Insert { at, fragment }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Byte { at, value }),
    ]
}

fn apply(mut text: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    let len = text.len().max(1);
    match *mutation {
        Mutation::Delete { at, len: n } => {
            let at = at % len;
            let end = (at + n).min(text.len());
            text.drain(at.min(end)..end);
        }
        Mutation::Insert { at, fragment } => {
            let at = at % (text.len() + 1);
            text.splice(at..at, FRAGMENTS[fragment].iter().copied());
        }
        Mutation::Duplicate { at, len: n } => {
            let at = at % len;
            let end = (at + n).min(text.len());
            let copy: Vec<u8> = text[at.min(end)..end].to_vec();
            text.splice(end..end, copy);
        }
        Mutation::Truncate { at } => text.truncate(at % len),
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<Vec<u8>> = text.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            lines.swap(a % n, b % n);
            text = lines.join(&b'\n');
        }
        Mutation::Byte { at, value } => {
            if !text.is_empty() {
                let at = at % text.len();
                text[at] = value;
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Regression guard for any panic in load, schema, registry, graph or check.
    #[test]
    fn mutated_catalogs_never_panic(seed in 0usize..5, mutations in prop::collection::vec(mutation(), 1..6)) {
        let seeds = seeds();
        let mut text = seeds[seed % seeds.len()].clone();
        for m in &mutations {
            text = apply(text, m);
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mutated.yaml"), &text).unwrap();
        // Another seed file beside it, so cross-file checks run on broken input too.
        std::fs::write(dir.path().join("other.yaml"), &seeds[(seed + 1) % seeds.len()]).unwrap();
        let checked = rune::catalog::load_and_check(&[dir.path().to_path_buf()]);
        assert_labels_are_valid_spans(&checked);
        // Every diagnostic must be renderable in every format.
        let summary = checked.summary();
        rune::report::diagnostics::render_human(&checked.diagnostics, &checked.sources, summary, false);
        rune::report::diagnostics::render_json(&checked.diagnostics, &checked.sources, summary);
        rune::report::diagnostics::render_sarif(&checked.diagnostics, &checked.sources);
    }

    /// Arbitrary bytes, not just mutations of valid catalogs.
    #[test]
    fn random_bytes_are_reported_with_labels_inside_the_file(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("random.yaml"), &bytes).unwrap();
        let checked = rune::catalog::load_and_check(&[dir.path().to_path_buf()]);
        assert_labels_are_valid_spans(&checked);
        let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code.as_str()).collect();
        // Bytes a catalog cannot be are reported as such, whatever else is wrong.
        if bytes.contains(&0) {
            prop_assert!(codes.contains(&"rune::load::binary_file"), "{codes:?}");
        } else if std::str::from_utf8(&bytes).is_err() {
            prop_assert!(codes.contains(&"rune::load::not_utf8"), "{codes:?}");
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            prop_assert!(codes.contains(&"rune::load::empty_file"), "{codes:?}");
        }
        // Nothing in random bytes is a catalog: any module read must come with an
        // error, or be a complete entry (it cannot be; this guards the pipeline from
        // accepting what the schema refused).
        prop_assert!(checked.has_errors() || checked.registry.modules.is_empty(), "{codes:?}");
    }
}

/// Found by `mutated_catalogs_never_panic`: a sequence item that starts with a
/// multi-byte character (here U+202E, which reverses what a terminal shows) and
/// lacks a required field. The "required here" label covered only the first byte
/// of that character.
#[test]
fn a_label_at_a_multibyte_character_covers_all_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "catalog_version: \"1\"\nmodules:\n  - \u{202e}module_identity:\n      module_name: x\n";
    std::fs::write(dir.path().join("c.yaml"), text).unwrap();
    let checked = rune::catalog::load_and_check(&[dir.path().to_path_buf()]);
    let missing = checked
        .diagnostics
        .iter()
        .find(|d| d.code.as_str() == "rune::schema::missing_field")
        .expect("the item misses module_identity");
    let span = missing.labels[0].span;
    let at = text.find('\u{202e}').unwrap();
    assert_eq!((span.start as usize, span.end as usize), (at, at + 3));
    assert_labels_are_valid_spans(&checked);
}

/// Every label of every diagnostic points into a loaded file, with `start <= end
/// <= length`, both on character boundaries: what every renderer relies on.
fn assert_labels_are_valid_spans(checked: &rune::catalog::CheckedCatalog) {
    for d in &checked.diagnostics {
        for label in &d.labels {
            let span = label.span;
            assert!(
                (span.file.0 as usize) < checked.sources.len(),
                "{}: label in unknown file {:?}",
                d.code,
                span.file
            );
            let text = &checked.sources.get(span.file).text;
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(
                start <= end && end <= text.len(),
                "{}: label {start}..{end} outside a file of {} bytes: {}",
                d.code,
                text.len(),
                d.message
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{}: label {start}..{end} not on character boundaries: {}",
                d.code,
                d.message
            );
        }
    }
}

#[test]
fn mutated_catalogs_through_the_binary_exit_with_a_defined_code() {
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let mutations = [
        Mutation::Insert {
            at: 40,
            fragment: 4,
        },
        Mutation::Truncate { at: 300 },
        Mutation::Byte {
            at: 120,
            value: 0xff,
        },
        Mutation::Duplicate { at: 100, len: 150 },
        Mutation::SwapLines { a: 3, b: 17 },
        Mutation::Insert {
            at: 0,
            fragment: 12,
        },
    ];
    for (i, m) in mutations.iter().enumerate() {
        let path = dir.path().join(format!("case{i}.yaml"));
        std::fs::write(&path, apply(seeds[i % seeds.len()].clone(), m)).unwrap();
        for format in ["human", "json", "github", "sarif"] {
            let out = rune(["validate", "--format", format]).arg_path(&path).run();
            assert!(
                matches!(out.code, 0..=2),
                "case {i} ({m:?}) {format}: {}",
                out.snapshot()
            );
            assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        }
    }
}

#[test]
fn a_file_over_the_size_limit_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&path).unwrap();
    // 70 MiB, sparse: no disk used, and only the limit + 1 byte is ever read.
    file.set_len(70 * 1024 * 1024).unwrap();
    const { assert!(70 * 1024 * 1024 > rune::loader::MAX_FILE_BYTES) };
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(
        out.json()["diagnostics"][0]["code"],
        "rune::load::file_too_large"
    );
}

#[test]
fn an_endless_device_is_refused_and_does_not_hang() {
    // /dev/zero never ends. Devices, FIFOs and sockets are refused before they are
    // opened (the loader reads regular files only, and at most the size limit of
    // those), so this is an I/O error, not a 64 MiB read.
    if !std::path::Path::new("/dev/zero").exists() {
        crate::support::skip("no /dev/zero on this system");
        return;
    }
    let out = rune(["validate", "--format", "json", "/dev/zero"]).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let d = &out.json()["diagnostics"][0];
    assert_eq!(d["code"], "rune::load::unreadable");
    assert_eq!(d["message"], "cannot read `/dev/zero`: not a regular file");
}

#[test]
fn a_fifo_without_a_writer_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("catalog.yaml");
    let mut mkfifo = std::process::Command::new("mkfifo");
    mkfifo.arg(&fifo);
    if !crate::support::succeeds(mkfifo) {
        crate::support::skip("no mkfifo on this system");
        return;
    }
    // Found in a directory: opening it would block until a writer appears.
    let out = rune(["validate", "--format", "json"])
        .arg_path(dir.path())
        .run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("not a regular file"), "{}", out.stdout);
    // Named on the command line: the same.
    let out = rune(["validate", "--format", "json"]).arg_path(&fifo).run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("not a regular file"), "{}", out.stdout);
}

#[test]
fn deeply_nested_flow_collections_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(&path, "[".repeat(100_000)).unwrap();
    let out = rune(["validate", "--format", "json"]).arg_path(&path).run();
    assert_eq!(out.code, 1, "{}", out.snapshot());
}

#[test]
fn an_unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Others may enter the directory (rune may run as `nobody`): only the file's
    // own mode refuses the read.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("secret.yaml");
    std::fs::write(&path, "catalog_version: \"1\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    // As root, permissions do not stop reads: run rune as `nobody` then.
    let Some(validate) = rune(["validate"]).arg_path(&path).unprivileged() else {
        crate::support::skip("running as root without `setpriv` to drop privileges");
        return;
    };
    let out = validate.run();
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("permission denied"), "{}", out.stderr);
}

/// Load one file's bytes through the library and return the codes reported.
fn codes_for(bytes: &[u8]) -> Vec<&'static str> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.yaml");
    std::fs::write(&path, bytes).unwrap();
    let checked = rune::catalog::load_and_check(&[path]);
    checked
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn a_billion_laughs_stops_at_the_alias_limit() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let row = [previous.as_str(); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{row}]\n"));
    }
    let started = std::time::Instant::now();
    let codes = codes_for(text.as_bytes());
    assert!(codes.contains(&"rune::load::alias_limit"), "{codes:?}");
    // 10^10 nodes if expanded; the limit stops it long before.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn deep_nesting_of_every_kind_is_refused() {
    let flow_maps = "{a: ".repeat(100_000);
    let block_seqs: String = (0..5_000)
        .map(|i| format!("{}- \n", " ".repeat(i * 2)))
        .collect();
    let mixed = "[{a: ".repeat(50_000);
    for text in [flow_maps, block_seqs, mixed] {
        let codes = codes_for(text.as_bytes());
        assert!(
            codes.contains(&"rune::load::nesting_limit")
                || codes.contains(&"rune::load::yaml_syntax"),
            "{codes:?}"
        );
    }
}

#[test]
fn binary_and_non_utf8_bytes_anywhere_are_located_errors() {
    assert_eq!(codes_for(b"\0"), ["rune::load::binary_file"]);
    assert_eq!(
        codes_for(b"catalog_version: \"1\"\n\x7fELF\0\0\x02"),
        ["rune::load::binary_file"]
    );
    assert_eq!(codes_for(b"\xff\xfe c\0a\0"), ["rune::load::binary_file"]);
    assert_eq!(
        codes_for(b"catalog_version: \"1\"\n# caf\xe9\n"),
        ["rune::load::not_utf8"]
    );
    // A multi-byte character cut off at the end of the file.
    assert_eq!(
        codes_for(b"catalog_version: \"1\"\n# \xe2\x82"),
        ["rune::load::not_utf8"]
    );
    // A UTF-8 byte order mark is fine.
    assert_eq!(
        codes_for(b"\xef\xbb\xbfcatalog_version: \"1\"\n"),
        Vec::<&str>::new()
    );
}

#[test]
fn a_symlink_loop_in_a_catalog_directory_terminates() {
    // Regression: two links to `.` made the walk exponential (2^32 directories).
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        crate::support::root().join("catalogs/core.yaml"),
        dir.path().join("core.yaml"),
    )
    .unwrap();
    for name in ["a", "b", "c"] {
        std::os::unix::fs::symlink(".", dir.path().join(name)).unwrap();
    }
    let out = rune(["validate", "--format", "json"])
        .arg_path(dir.path())
        .run();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.json()["summary"]["files"], 1);
}
