//! link/rune.order, the function order build.rs hands the linker for release
//! builds (link/README.md): a malformed file would silently lose the layout, or
//! make lld refuse the link.

use std::collections::HashSet;

#[test]
fn the_link_order_names_one_distinct_symbol_per_line() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("link/rune.order");
    let text = std::fs::read_to_string(&path).expect("link/rune.order is readable");
    let names: Vec<&str> = text.lines().collect();
    // Far fewer would mean the generator recorded only part of a command.
    assert!(names.len() > 1000, "only {} names", names.len());
    let mut seen = HashSet::new();
    for (i, name) in names.iter().enumerate() {
        assert!(
            !name.is_empty() && !name.contains(char::is_whitespace) && *name != "--",
            "line {}: {name:?}",
            i + 1
        );
        assert!(seen.insert(*name), "line {}: {name} again", i + 1);
    }
    // What `rune run` needs comes first: the program's entry and rune's main.
    let first: Vec<&str> = names.iter().take(20).copied().collect();
    assert!(first.contains(&"main"), "{first:?}");
    assert!(
        names
            .iter()
            .take(1500)
            .any(|n| n.contains("supervisor") && n.contains("spawn")),
        "the supervisor's spawn is not in rune run's part"
    );
}
