//! MRS registration fields beyond the schema: UTC registration timestamps, the
//! protocol versions a module speaks, and registrations that have expired.

use jiff::Timestamp;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::registry::Registry;

/// The runtime protocol versions rune speaks, as MRS names them in
/// `supported_protocols` (RCS version 2, MRS 1.0's current one).
pub const SPOKEN_PROTOCOLS: &[&str] = &["rcs_v2"];

/// Whether an RFC 3339 instant is written in UTC: `Z` (either case), or a zero
/// offset (`+00:00`, and `-00:00`, RFC 3339's "UTC, local offset unknown").
fn is_utc(text: &str) -> bool {
    text.ends_with(['Z', 'z']) || text.ends_with("+00:00") || text.ends_with("-00:00")
}

/// `registration_timestamp` in UTC, as MRS defines it, and `supported_protocols`
/// naming a version rune speaks.
pub(super) fn check_registrations(registry: &Registry, out: &mut Vec<Diagnostic>) {
    // MRS: registration_id is "unique identifier for this registration"; updates
    // find the registration they change by it. Applied updates are gone by now.
    let mut first: foldhash::HashMap<&str, &crate::registry::Module> = Default::default();
    for module in &registry.modules {
        let Some(id) = &module.registration.id else {
            continue;
        };
        match first.get(id.value.as_str()) {
            None => {
                first.insert(&id.value, module);
            }
            Some(original) => {
                let original_span = original
                    .registration
                    .id
                    .as_ref()
                    .map_or(original.head, |i| i.span);
                out.push(
                    Diagnostic::new(
                        Code::DuplicateRegistrationId,
                        format!(
                            "registration_id `{}` is used by `{}` and `{}`",
                            id.value, original.name.value, module.name.value
                        ),
                    )
                    .with_label(id.span, "used again here")
                    .with_label(original_span, "first used here")
                    .with_help(
                        "every registration has its own UUID; generate a new one for one of them",
                    ),
                );
            }
        }
    }
    for module in &registry.modules {
        let registration = &module.registration;
        if let (Some(key), false) = (registration.metadata_key, registration.missing.is_empty()) {
            let list = registration
                .missing
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                Diagnostic::new(
                    Code::IncompleteRegistration,
                    format!(
                        "module `{}`'s registration leaves out {} MRS requires: {list}",
                        module.name.value,
                        if registration.missing.len() == 1 {
                            "a field"
                        } else {
                            "fields"
                        }
                    ),
                )
                .with_label(
                    key,
                    "a full MRS registration, as it writes registration_metadata",
                )
                .with_help(
                    "MRS (Field Specifications) requires these of every registration; rune \
                     accepts the entry and treats what is left out as empty (the timestamp as \
                     unknown), but another MRS reader may refuse it: add them, or leave \
                     registration_metadata out to write the catalog's shorthand entry",
                ),
            );
        }
        if let Some(stamp) = &registration.timestamp {
            // A value that is not RFC 3339 at all is the schema's `format` error.
            if let (Ok(instant), false) = (stamp.value.parse::<Timestamp>(), is_utc(&stamp.value)) {
                out.push(
                    Diagnostic::new(
                        Code::NonUtcTimestamp,
                        format!(
                            "module `{}`'s registration_timestamp `{}` is not in UTC",
                            module.name.value, stamp.value
                        ),
                    )
                    .with_label(stamp.span, "not UTC")
                    .with_help(format!(
                        "MRS: registration_timestamp is \"when this registration was created in UTC\"; write `{}`",
                        instant
                    )),
                );
            }
        }
        let unknown: Vec<_> = registration
            .protocols
            .iter()
            .filter(|p| !SPOKEN_PROTOCOLS.contains(&p.value.as_str()))
            .collect();
        if unknown.is_empty() {
            continue;
        }
        let spoken = SPOKEN_PROTOCOLS
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        // With a version in common rune speaks that one; the others are only noted.
        let some_spoken = unknown.len() < registration.protocols.len();
        for protocol in unknown {
            let mut d = Diagnostic::new(
                Code::ProtocolMismatch,
                if some_spoken {
                    format!(
                        "module `{}` lists protocol `{}`, which rune does not speak; rune uses the one it shares",
                        module.name.value, protocol.value
                    )
                } else {
                    format!(
                        "module `{}` supports no protocol version rune speaks: `{}` is unknown",
                        module.name.value, protocol.value
                    )
                },
            )
            .with_label(protocol.span, "protocol version rune does not speak")
            .with_help(format!("rune speaks {spoken}"));
            if some_spoken {
                d.severity = Severity::Warning;
            }
            out.push(d);
        }
    }
}

/// A warning for each registration whose `expires_at` is before `at`, the instant
/// the catalog is validated at.
pub fn check_expiry(registry: &Registry, at: Timestamp) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for module in &registry.modules {
        let Some(expires) = &module.registration.expires_at else {
            continue;
        };
        // A value that is not RFC 3339 is the schema's `format` error.
        let Ok(instant) = expires.value.parse::<Timestamp>() else {
            continue;
        };
        if instant < at {
            out.push(
                Diagnostic::new(
                    Code::ExpiredRegistration,
                    format!(
                        "module `{}`'s registration expired at {instant}, before {at}, the instant rune validates at",
                        module.name.value
                    ),
                )
                .with_label(expires.span, "in the past")
                .with_help(
                    "renew the registration with a later expires_at, or leave expires_at out; \
                     `--at` or SOURCE_DATE_EPOCH sets the instant rune validates at",
                ),
            );
        }
    }
    out
}
