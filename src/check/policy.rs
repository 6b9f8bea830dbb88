//! Policy: one policy, time zones that exist, windows that can matter, and
//! overrides that name actions the catalog provides.

use std::collections::HashSet;

use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::Registry;
use crate::schema::quote;

/// The policy: declared once, with real time zones and windows and actions that matter.
pub(super) fn check_policy(registry: &Registry, out: &mut Vec<Diagnostic>) {
    if let Some((first, rest)) = registry.policies.split_first() {
        for again in rest {
            out.push(
                Diagnostic::new(
                    Code::DuplicatePolicy,
                    "more than one catalog file declares a policy",
                )
                .with_label(again.span, "policy declared again here")
                .with_label(first.span, "first declared here")
                .with_help("keep the policy in one file so that one place decides what may run"),
            );
        }
    }
    let actions: HashSet<&str> = registry
        .actions()
        .map(|(_, a)| a.name.value.as_str())
        .collect();
    // Built on the first unknown action: a valid catalog never needs the index.
    let action_names = std::cell::LazyCell::new(|| Suggester::new(actions.iter().copied()));
    // Listing the time zone database reads every file under /usr/share/zoneinfo
    // (about 600 opens, most of a small catalog's check time): only for a typo.
    let zone_names = std::cell::LazyCell::new(|| {
        jiff::tz::db()
            .available()
            .map(|n| n.to_string())
            .collect::<Vec<String>>()
    });
    let zones = std::cell::OnceCell::new();
    for policy in &registry.policies {
        for window in &policy.change_windows {
            if let Some(d) = inert_window(window) {
                out.push(d);
            }
            if jiff::tz::db().get(&window.timezone.value).is_err() {
                let mut d = Diagnostic::new(
                    Code::UnknownTimeZone,
                    format!(
                        "change window {} uses unknown time zone {}",
                        quote(&window.name.value),
                        quote(&window.timezone.value)
                    ),
                )
                .with_label(window.timezone.span, "not an IANA time zone name");
                let zones =
                    zones.get_or_init(|| Suggester::new(zone_names.iter().map(String::as_str)));
                d = match zones.suggest(&window.timezone.value, None) {
                    Some(hint) => d.with_help(format!("did you mean `{hint}`?")),
                    None => d.with_help(
                        "use an IANA name such as `Europe/Berlin`, `America/New_York` or `UTC`",
                    ),
                };
                out.push(d);
            }
        }
        for (name, _) in &policy.overrides {
            if !actions.contains(name.value.as_str()) {
                let mut d = Diagnostic::new(
                    Code::UnknownPolicyAction,
                    format!(
                        "policy override for {}, which no module provides",
                        quote(&name.value)
                    ),
                )
                .with_label(name.span, "no such action");
                if let Some(hint) = action_names.suggest(&name.value, None) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
    }
}

/// A warning for a change window that can never matter: an `applies_to` list or
/// `days` written empty means none, so the window governs no action or never opens.
/// Before empty lists meant none, an empty `applies_to` list meant all; the warning
/// catches catalogs written with that in mind.
fn inert_window(window: &crate::registry::ChangeWindow) -> Option<Diagnostic> {
    let empty = |list: Option<usize>| list == Some(0);
    let why = if empty(window.categories.as_ref().map(Vec::len)) {
        "its `applies_to.categories` is empty, so it governs no action"
    } else if empty(window.impacts.as_ref().map(Vec::len)) {
        "its `applies_to.impacts` is empty, so it governs no action"
    } else if empty(window.days.as_ref().map(Vec::len)) {
        "its `days` is empty, so it never opens and every action it governs is denied"
    } else {
        return None;
    };
    Some(
        Diagnostic::new(
            Code::InertChangeWindow,
            format!("change window `{}` cannot work as written: {why}", window.name.value),
        )
        .with_label(window.name.span, "this window")
        .with_help("an empty list means none; leave the list out to mean all (every category, impact or day)"),
    )
}
