//! Events: one provider per event type, and consumers that match a provider.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::{Code, Diagnostic, Suggester};
use crate::registry::{Module, Registry};
use crate::schema::quote;
use crate::source::Span;

/// Event ownership: one provider per type; consumed types someone provides.
pub(super) fn check_events(registry: &Registry, out: &mut Vec<Diagnostic>) {
    let mut providers: HashMap<&str, (&Module, Span)> = HashMap::new();
    for module in &registry.modules {
        for event in &module.provides_events {
            match providers.get(event.event_type.value.as_str()) {
                None => {
                    providers.insert(&event.event_type.value, (module, event.event_type.span));
                }
                Some((owner, span)) => out.push(
                    Diagnostic::new(
                        Code::EventConflict,
                        format!(
                            "event type `{}` is provided by both `{}` and `{}`",
                            event.event_type.value, owner.name.value, module.name.value
                        ),
                    )
                    .with_label(event.event_type.span, "provided again here")
                    .with_label(*span, format!("first provided by `{}`", owner.name.value))
                    .with_help("an event type has one owner; rename one of them or consume the other module's event"),
                ),
            }
        }
    }
    // Built on the first unknown event: a valid catalog never needs the index.
    let provided = std::cell::LazyCell::new(|| Suggester::new(providers.keys().copied()));
    // Event types by their lower-case spelling, first provider in name order wins,
    // so a consumer that only got the case wrong is told the exact spelling.
    let mut by_lower_case: BTreeMap<String, &str> = BTreeMap::new();
    let mut sorted: Vec<&str> = providers.keys().copied().collect();
    sorted.sort_unstable();
    for &event in sorted.iter().rev() {
        by_lower_case.insert(event.to_lowercase(), event);
    }
    for module in &registry.modules {
        let mut consumed: HashMap<&str, Span> = HashMap::new();
        for event in &module.consumes_events {
            if let Some(&first) = consumed.get(event.value.as_str()) {
                out.push(
                    Diagnostic::new(
                        Code::DuplicateConsumedEvent,
                        format!("`{}` consumes `{}` twice", module.name.value, event.value),
                    )
                    .with_label(event.span, "consumed again here")
                    .with_label(first, "first consumed here")
                    .with_help(format!(
                        "remove the second `{}`; an event is delivered once per consumer",
                        event.value
                    )),
                );
                continue;
            }
            consumed.insert(&event.value, event.span);
            if providers.contains_key(event.value.as_str()) {
                continue;
            }
            if let Some(&exact) = by_lower_case.get(&event.value.to_lowercase()) {
                out.push(
                    Diagnostic::new(
                        Code::EventCaseMismatch,
                        format!(
                            "`{}` consumes `{}`, but the event provided is `{exact}`",
                            module.name.value, event.value
                        ),
                    )
                    .with_label(event.span, format!("differs from `{exact}` only in case"))
                    .with_label(providers[exact].1, format!("provided as `{exact}` here"))
                    .with_help(format!(
                        "did you mean `{exact}`? event types are case-sensitive"
                    )),
                );
                continue;
            }
            {
                let mut d = Diagnostic::new(
                    Code::UnprovidedEvent,
                    format!(
                        "{} consumes {}, which no module provides",
                        quote(&module.name.value),
                        quote(&event.value)
                    ),
                )
                .with_label(event.span, "no provider in the catalog");
                if let Some(hint) = provided.suggest(&event.value, None) {
                    d = d.with_help(format!("did you mean `{hint}`?"));
                }
                out.push(d);
            }
        }
    }
}
