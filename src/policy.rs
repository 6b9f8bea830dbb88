//! Policy: what may run when, and with which timeouts and retries.
//!
//! Owned by LOM and evaluated at plan time, never by plugins. [`decide`] runs every
//! rule against one action at one instant and records each rule's verdict as a
//! [`Check`]; the [`Decision`] is the first rule that denies, else the change window
//! the action is inside, else the last rule that allowed it (break glass,
//! maintenance mode), else `default_allow`. [`resolve_settings`] picks
//! the timeout and retries and says where each came from. Nothing here reads the
//! clock: the instant is an input, so a dry run at `--at` is reproducible.
//!
//! Rules, in evaluation order:
//! - `maintenance_mode`: when enabled, remediation is denied, diagnostics allowed.
//! - `change_windows.NAME`: a window governs an action whose category and impact are
//!   in its `applies_to` lists. An absent list means all; a list written empty means
//!   none, like every list in the policy (`days: []` never opens, `break_glass:
//!   impacts: []` needs no acknowledgment). An action that some window governs may
//!   run only inside one of those windows.
//! - `break_glass`: an action whose impact is listed needs `--ack ACTION`, plus
//!   `--reason` when `require_reason` (default true). With no `break_glass` section,
//!   or no policy at all, high impact still needs acknowledgment: the safe default.
//!   Write `break_glass: { impacts: [] }` to turn it off.
//!
//! Change windows and time zones: `days` are the local days a window *opens*;
//! `end <= start` means it closes the next day. Each opening is computed for the
//! local dates around the instant and converted to instants with jiff's bundled
//! time-zone database. A local time that does not exist (spring-forward gap) or
//! exists twice (fall-back fold) is resolved with jiff's *compatible*
//! disambiguation, like RFC 5545 and `java.time`: a time in a gap moves forward by
//! the gap's length (02:30 becomes 03:30), a time in a fold takes its earlier
//! occurrence (the one before the clocks go back).

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::{Action, Category, ChangeWindow, Impact, Policy, Retries};
use crate::source::{SourceMap, Span};

/// Step timeout when neither policy nor action sets one.
pub(crate) const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// Retries when neither policy nor action sets them: one attempt, no retry.
pub(crate) fn default_retries() -> Retries {
    Retries {
        max_attempts: 1,
        backoff_ms: 0,
        on: Vec::new(),
    }
}

/// Where a resolved setting came from, most specific first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum SettingSource {
    /// `policy.overrides.<action>`.
    #[serde(rename = "policy.overrides")]
    PolicyOverride,
    /// The workflow step's (or its compensation's) own `timeout_ms` / `retries`:
    /// more specific than the action's, less than a policy override.
    #[serde(rename = "workflow.step")]
    Step,
    /// The action's own `timeout_ms` / `retries`.
    #[serde(rename = "action")]
    Action,
    /// `policy.defaults`.
    #[serde(rename = "policy.defaults")]
    PolicyDefaults,
    /// rune's built-in default.
    #[serde(rename = "builtin")]
    Builtin,
}

impl SettingSource {
    /// The name shown in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingSource::PolicyOverride => "policy.overrides",
            SettingSource::Step => "workflow.step",
            SettingSource::Action => "action",
            SettingSource::PolicyDefaults => "policy.defaults",
            SettingSource::Builtin => "builtin",
        }
    }
}

/// A value and the place that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: SettingSource,
}

/// Timeout and retries of one action step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSettings {
    /// Milliseconds before an attempt is stopped.
    pub timeout_ms: Resolved<u64>,
    /// How failed attempts are retried.
    pub retries: Resolved<Retries>,
}

/// Resolve an action's timeout and retries: the policy override for the action, then
/// the action's own setting, then the policy defaults, then the built-in default.
/// Timeout and retries are resolved independently.
pub(crate) fn resolve_settings(policy: Option<&Policy>, action: &Action) -> ResolvedSettings {
    let override_settings = policy.and_then(|p| {
        p.overrides
            .iter()
            .find(|(name, _)| name.value == action.name.value)
            .map(|(_, s)| s)
    });
    let layers = [
        (override_settings, SettingSource::PolicyOverride),
        (Some(&action.settings), SettingSource::Action),
        (policy.map(|p| &p.defaults), SettingSource::PolicyDefaults),
    ];
    let timeout_ms = layers
        .iter()
        .find_map(|(s, source)| {
            s.and_then(|s| s.timeout_ms).map(|value| Resolved {
                value,
                source: *source,
            })
        })
        .unwrap_or(Resolved {
            value: DEFAULT_TIMEOUT_MS,
            source: SettingSource::Builtin,
        });
    let retries = layers
        .iter()
        .find_map(|(s, source)| {
            s.and_then(|s| s.retries.clone()).map(|value| Resolved {
                value,
                source: *source,
            })
        })
        .unwrap_or(Resolved {
            value: default_retries(),
            source: SettingSource::Builtin,
        });
    ResolvedSettings {
        timeout_ms,
        retries,
    }
}

/// The operator's inputs to policy: the instant and the break-glass flags.
#[derive(Debug, Clone)]
pub(crate) struct PolicyInput<'a> {
    /// The instant change windows are evaluated at.
    pub at: Timestamp,
    /// Actions acknowledged with `--ack`.
    pub acks: &'a [String],
    /// `--reason`, when given.
    pub reason: Option<&'a str>,
}

/// A policy rule that can allow or deny an action.
///
/// Plans show and store a rule by its name (`maintenance_mode`,
/// `change_windows.weekday-business`, `change_windows`, `break_glass`,
/// `default_allow`); [`Display`](std::fmt::Display) and serde both use that name,
/// so the plan document reads the same as before the rule was typed. The catalog
/// entry that defines a rule is found with [`Rule::spans`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `policy.maintenance_mode`.
    MaintenanceMode,
    /// One entry of `policy.change_windows`, by name.
    ChangeWindow {
        /// The window's `name`.
        name: String,
    },
    /// Several change windows govern the action and none is open.
    ChangeWindows,
    /// `policy.break_glass`, or its safe default when the policy has none.
    BreakGlass,
    /// No rule restricts the action.
    DefaultAllow,
}

/// The prefix of a change window's rule name.
const CHANGE_WINDOWS: &str = "change_windows";

impl Rule {
    /// Where the catalog defines this rule, as it applies to `action`: the
    /// `maintenance_mode` section, the change window's name (every governing
    /// window's, for [`Rule::ChangeWindows`]), the `break_glass` section. Empty when
    /// no catalog line defines it: the built-in break-glass default and
    /// `default_allow`.
    pub fn spans(&self, policy: Option<&Policy>, action: &Action) -> Vec<Span> {
        let Some(policy) = policy else {
            return Vec::new();
        };
        match self {
            Rule::MaintenanceMode => policy.maintenance.iter().map(|m| m.span).collect(),
            Rule::ChangeWindow { name } => policy
                .change_windows
                .iter()
                .filter(|w| w.name.value == *name)
                .map(|w| w.name.span)
                .take(1)
                .collect(),
            Rule::ChangeWindows => policy
                .change_windows
                .iter()
                .filter(|w| governs(w, action))
                .map(|w| w.name.span)
                .collect(),
            Rule::BreakGlass => policy.break_glass.iter().map(|b| b.span).collect(),
            Rule::DefaultAllow => Vec::new(),
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::MaintenanceMode => f.write_str("maintenance_mode"),
            Rule::ChangeWindow { name } => write!(f, "{CHANGE_WINDOWS}.{name}"),
            Rule::ChangeWindows => f.write_str(CHANGE_WINDOWS),
            Rule::BreakGlass => f.write_str("break_glass"),
            Rule::DefaultAllow => f.write_str("default_allow"),
        }
    }
}

/// A rule name that is not one of [`Rule`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRule(pub String);

impl std::fmt::Display for UnknownRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown policy rule `{}`", self.0)
    }
}

impl std::error::Error for UnknownRule {}

impl std::str::FromStr for Rule {
    type Err = UnknownRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "maintenance_mode" => Ok(Rule::MaintenanceMode),
            CHANGE_WINDOWS => Ok(Rule::ChangeWindows),
            "break_glass" => Ok(Rule::BreakGlass),
            "default_allow" => Ok(Rule::DefaultAllow),
            _ => match s.split_once('.') {
                Some((CHANGE_WINDOWS, name)) if !name.is_empty() => Ok(Rule::ChangeWindow {
                    name: name.to_string(),
                }),
                _ => Err(UnknownRule(s.to_string())),
            },
        }
    }
}

impl serde::Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl schemars::JsonSchema for Rule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rule".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The policy rule: `maintenance_mode`, `change_windows.NAME` (one window), `change_windows` (several windows, none open), `break_glass` or `default_allow`.",
            "type": "string",
            "pattern": "^(maintenance_mode|change_windows(\\..+)?|break_glass|default_allow)$"
        })
    }
}

impl<'de> serde::Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// One rule's verdict on one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The rule.
    pub rule: Rule,
    /// Whether the rule lets the action run.
    pub allowed: bool,
    /// Why, in one sentence.
    pub reason: String,
}

/// The verdict on one action and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action may run.
    pub allowed: bool,
    /// The deciding rule.
    pub rule: Rule,
    /// Why.
    pub reason: String,
    /// Every rule that had something to say, in evaluation order.
    pub checks: Vec<Check>,
}

fn check(rule: Rule, allowed: bool, reason: impl Into<String>) -> Check {
    Check {
        rule,
        allowed,
        reason: reason.into(),
    }
}

/// Evaluate every policy rule for `action` and decide.
pub(crate) fn decide(
    policy: Option<&Policy>,
    action: &Action,
    input: &PolicyInput<'_>,
) -> Decision {
    let mut checks = Vec::new();
    if let Some(maintenance) = policy.and_then(|p| p.maintenance.as_ref()) {
        if maintenance.enabled {
            let why = maintenance
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            checks.push(match action.category {
                Category::Remediation => check(
                    Rule::MaintenanceMode,
                    false,
                    format!("maintenance mode is on{why}; remediation actions are denied"),
                ),
                Category::Diagnostic => check(
                    Rule::MaintenanceMode,
                    true,
                    format!("maintenance mode is on{why}; diagnostic actions still run"),
                ),
            });
        }
    }
    if let Some(policy) = policy {
        checks.extend(window_check(&policy.change_windows, action, input.at));
    }
    checks.extend(break_glass_check(policy, action, input));
    // A deny wins. An allow names the rule that let the action through at this
    // instant: its change window, else its break-glass acknowledgment, else
    // maintenance mode (a diagnostic during maintenance).
    let decided = checks
        .iter()
        .find(|c| !c.allowed)
        .or_else(|| {
            checks
                .iter()
                .find(|c| matches!(c.rule, Rule::ChangeWindow { .. } | Rule::ChangeWindows))
        })
        .or_else(|| checks.last())
        .cloned()
        .unwrap_or_else(|| {
            let windows = policy.is_some_and(|p| !p.change_windows.is_empty());
            let reason = if windows {
                format!(
                    "no change window governs {} actions of {} impact, and no other rule restricts it",
                    action.category.as_str(),
                    action.impact.as_str()
                )
            } else {
                "no policy rule restricts this action".to_string()
            };
            check(Rule::DefaultAllow, true, reason)
        });
    Decision {
        allowed: decided.allowed,
        rule: decided.rule,
        reason: decided.reason,
        checks,
    }
}

/// The `policy_denied` diagnostic for a denied action: the decision's reason as the
/// message, labelled at the catalog entry of the deciding rule (the built-in
/// break-glass default has none, so the action is labelled), with help saying what
/// would allow the action.
pub(crate) fn denial(
    decision: &Decision,
    action: &Action,
    policy: Option<&Policy>,
    sources: &SourceMap,
) -> Diagnostic {
    let name = &action.name.value;
    let mut d = Diagnostic::new(
        Code::PolicyDenied,
        format!("`{name}` denied by {}: {}", decision.rule, decision.reason),
    );
    let spans = decision.rule.spans(policy, action);
    let impact = action.impact.as_str();
    let label = match &decision.rule {
        Rule::MaintenanceMode => "maintenance mode is on".to_string(),
        Rule::ChangeWindow { .. } => format!("the change window that governs `{name}`"),
        Rule::ChangeWindows => format!("governs `{name}`, closed at this instant"),
        Rule::BreakGlass => format!("break glass covers {impact}-impact actions"),
        Rule::DefaultAllow => String::new(),
    };
    for span in &spans {
        d = d.with_label(first_line(*span, sources), label.clone());
    }
    d = d.with_label(
        action.name.span,
        if spans.is_empty() && decision.rule == Rule::BreakGlass {
            "high impact: break glass applies by default".to_string()
        } else {
            "the action planned".to_string()
        },
    );
    let require_reason = policy
        .and_then(|p| p.break_glass.as_ref())
        .is_none_or(|b| b.require_reason);
    d.with_help(match &decision.rule {
        Rule::MaintenanceMode => {
            "remediation runs again once `maintenance_mode.enabled` is false; diagnostic actions run during maintenance".to_string()
        }
        Rule::ChangeWindow { .. } | Rule::ChangeWindows => {
            "plan for an instant inside a governing window (`--at TIME`; the next opening is named above), or widen a window".to_string()
        }
        Rule::BreakGlass if require_reason => {
            format!("acknowledge it explicitly: `--ack {name} --reason TEXT`")
        }
        Rule::BreakGlass => format!("acknowledge it explicitly: `--ack {name}`"),
        Rule::DefaultAllow => String::new(),
    })
}

/// The part of `span` on its first line: a section's mapping spans several lines,
/// and the line where it starts is what a reader needs to find it.
fn first_line(span: Span, sources: &SourceMap) -> Span {
    let text = &sources.get(span.file).text;
    let start = span.start as usize;
    let end = text
        .get(start..span.end as usize)
        .and_then(|rest| rest.find('\n'))
        .map_or(span.end, |n| (start + n) as u32);
    Span::new(span.file, start, (end as usize).max(start))
}

fn break_glass_check(
    policy: Option<&Policy>,
    action: &Action,
    input: &PolicyInput<'_>,
) -> Option<Check> {
    let section = policy.and_then(|p| p.break_glass.as_ref());
    // Safe default when the policy says nothing: high impact needs acknowledgment.
    let (impacts, require_reason): (&[Impact], bool) = match section {
        Some(b) => (&b.impacts, b.require_reason),
        None => (&[Impact::High], true),
    };
    if !impacts.contains(&action.impact) {
        return None;
    }
    let name = &action.name.value;
    let impact = action.impact.as_str();
    let acked = input.acks.iter().any(|a| a == name);
    let reason = input.reason.map(str::trim).filter(|r| !r.is_empty());
    Some(match (acked, reason) {
        (false, _) => check(
            Rule::BreakGlass,
            false,
            format!(
                "{impact}-impact action needs break-glass acknowledgment: add `--ack {name}{}`",
                if require_reason {
                    " --reason TEXT"
                } else {
                    ""
                }
            ),
        ),
        (true, None) if require_reason => check(
            Rule::BreakGlass,
            false,
            format!("acknowledged with --ack but without --reason; break glass requires a reason for `{name}`"),
        ),
        (true, Some(reason)) => check(
            Rule::BreakGlass,
            true,
            format!("acknowledged with --ack {name}: {reason}"),
        ),
        (true, None) => check(
            Rule::BreakGlass,
            true,
            format!("acknowledged with --ack {name}"),
        ),
    })
}

/// Whether `window` governs `action`: its category and impact are both covered.
pub(crate) fn governs(window: &ChangeWindow, action: &Action) -> bool {
    fn covers<T: PartialEq>(list: &Option<Vec<T>>, value: T) -> bool {
        list.as_ref().is_none_or(|l| l.contains(&value))
    }
    covers(&window.categories, action.category) && covers(&window.impacts, action.impact)
}

fn window_check(windows: &[ChangeWindow], action: &Action, at: Timestamp) -> Option<Check> {
    let governing: Vec<&ChangeWindow> = windows.iter().filter(|w| governs(w, action)).collect();
    if governing.is_empty() {
        return None;
    }
    for window in &governing {
        if let Some(open) = Opening::containing(window, at) {
            return Some(check(
                Rule::ChangeWindow {
                    name: window.name.value.clone(),
                },
                true,
                format!(
                    "inside change window `{}`, open {} to {} ({})",
                    window.name.value,
                    local(&open.open),
                    local(&open.close),
                    window.timezone.value
                ),
            ));
        }
    }
    let rule = match governing.as_slice() {
        [only] => Rule::ChangeWindow {
            name: only.name.value.clone(),
        },
        _ => Rule::ChangeWindows,
    };
    let described: Vec<String> = governing
        .iter()
        .map(|w| match Opening::next_after(w, at) {
            Some(next) => format!(
                "`{}` (next opens {} {})",
                w.name.value,
                local(&next.open),
                w.timezone.value
            ),
            None => format!("`{}` (never opens)", w.name.value),
        })
        .collect();
    Some(check(
        rule,
        false,
        format!(
            "outside every change window that governs {} actions of {} impact: {}",
            action.category.as_str(),
            action.impact.as_str(),
            described.join(", ")
        ),
    ))
}

/// A local time with its offset, e.g. `2026-03-29 03:30 +02:00`: the offset shows
/// which side of a daylight-saving change the time is on.
fn local(z: &Zoned) -> String {
    z.strftime("%Y-%m-%d %H:%M %:z").to_string()
}

/// One occurrence of a change window, as instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opening {
    /// When the window opens.
    pub open: Zoned,
    /// When it closes (exclusive).
    pub close: Zoned,
}

impl Opening {
    /// The occurrence of `window` opening on local date `date`, if the window opens
    /// that day. Local times are resolved with compatible disambiguation.
    pub(crate) fn on(window: &ChangeWindow, tz: &TimeZone, date: Date) -> Option<Opening> {
        if !opens_on(window, date.weekday()) {
            return None;
        }
        let (sh, sm) = window.start.unwrap_or((0, 0));
        let (eh, em) = window.end.unwrap_or((0, 0));
        let close_date = if (eh, em) <= (sh, sm) {
            date.tomorrow().ok()?
        } else {
            date
        };
        let open = tz
            .to_ambiguous_zoned(date.at(sh as i8, sm as i8, 0, 0))
            .compatible()
            .ok()?;
        let close = tz
            .to_ambiguous_zoned(close_date.at(eh as i8, em as i8, 0, 0))
            .compatible()
            .ok()?;
        Some(Opening { open, close })
    }

    /// The occurrence of `window` that contains `at`, if any. Only openings on the
    /// local day of `at` and the day before can contain it: a window lasts at most a
    /// day (plus an hour across a fall-back change).
    pub(crate) fn containing(window: &ChangeWindow, at: Timestamp) -> Option<Opening> {
        let tz = zone(window)?;
        let today = at.to_zoned(tz.clone()).date();
        [today.yesterday().ok(), Some(today)]
            .into_iter()
            .flatten()
            .filter_map(|d| Opening::on(window, &tz, d))
            .find(|o| o.open.timestamp() <= at && at < o.close.timestamp())
    }

    /// The first occurrence of `window` opening after `at`, within the next eight days.
    pub(crate) fn next_after(window: &ChangeWindow, at: Timestamp) -> Option<Opening> {
        let tz = zone(window)?;
        let mut date = at.to_zoned(tz.clone()).date();
        for _ in 0..9 {
            if let Some(o) = Opening::on(window, &tz, date) {
                if o.open.timestamp() > at && o.open.timestamp() < o.close.timestamp() {
                    return Some(o);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

/// The window's time zone; an unknown zone (reported by the checks) never opens, so
/// policy fails closed.
fn zone(window: &ChangeWindow) -> Option<TimeZone> {
    jiff::tz::db().get(&window.timezone.value).ok()
}

fn opens_on(window: &ChangeWindow, day: Weekday) -> bool {
    window
        .days
        .as_ref()
        .is_none_or(|days| days.iter().any(|d| parse_weekday(d) == Some(day)))
}

/// `mon`..`sun` (or the full English name), any case.
pub(crate) fn parse_weekday(name: &str) -> Option<Weekday> {
    let lower = name.trim().to_ascii_lowercase();
    let day = match lower.get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    };
    let full = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    (lower.len() == 3 || full.contains(&lower.as_str())).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ExecSettings;
    use crate::source::{FileId, Span, Spanned};

    fn spanned(s: &str) -> Spanned<String> {
        Spanned::new(s.to_string(), Span::new(FileId(0), 0, 0))
    }

    fn window(days: &[&str], start: (u8, u8), end: (u8, u8)) -> ChangeWindow {
        ChangeWindow {
            name: spanned("w"),
            timezone: spanned("Europe/Berlin"),
            days: (!days.is_empty()).then(|| days.iter().map(|d| d.to_string()).collect()),
            start: Some(start),
            end: Some(end),
            categories: Some(vec![Category::Remediation]),
            impacts: None,
            span: Span::new(FileId(0), 0, 0),
        }
    }

    fn action(category: Category, impact: Impact) -> Action {
        Action {
            name: spanned("act"),
            description: String::new(),
            category,
            impact,
            input_schema: None,
            output_schema: None,
            exec: Vec::new(),
            env: Default::default(),
            leaves_daemon: false,
            ship: Vec::new(),
            remote_exec: Vec::new(),
            settings: ExecSettings::default(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("valid instant")
    }

    #[test]
    fn a_window_crossing_midnight_belongs_to_the_day_it_opens() {
        // Friday 22:00 to Saturday 02:00, Berlin (UTC+1 in January).
        let w = window(&["fri"], (22, 0), (2, 0));
        assert!(Opening::containing(&w, at("2026-01-09T21:30:00Z")).is_some());
        assert!(Opening::containing(&w, at("2026-01-10T00:30:00Z")).is_some());
        assert!(Opening::containing(&w, at("2026-01-10T01:00:00Z")).is_none());
        // Saturday 22:00 is not an opening: only Friday is listed.
        assert!(Opening::containing(&w, at("2026-01-10T21:30:00Z")).is_none());
    }

    #[test]
    fn end_equal_to_start_is_a_whole_day() {
        let w = window(&["mon"], (6, 0), (6, 0));
        // Monday 2026-01-12 06:00 Berlin is 05:00Z; it closes Tuesday 05:00Z.
        assert!(Opening::containing(&w, at("2026-01-13T04:59:00Z")).is_some());
        assert!(Opening::containing(&w, at("2026-01-13T05:00:00Z")).is_none());
    }

    #[test]
    fn an_unknown_time_zone_never_opens() {
        let mut w = window(&[], (0, 0), (0, 0));
        w.timezone = spanned("Mars/Olympus_Mons");
        assert!(Opening::containing(&w, at("2026-01-13T04:59:00Z")).is_none());
        assert!(Opening::next_after(&w, at("2026-01-13T04:59:00Z")).is_none());
    }

    #[test]
    fn weekdays_parse_short_and_long_names_only() {
        assert_eq!(parse_weekday("Mon"), Some(Weekday::Monday));
        assert_eq!(parse_weekday("sunday"), Some(Weekday::Sunday));
        assert_eq!(parse_weekday("mond"), None);
        assert_eq!(parse_weekday("xyz"), None);
    }

    #[test]
    fn without_policy_high_impact_needs_ack_and_low_impact_is_allowed_by_default() {
        let input = PolicyInput {
            at: at("2026-01-13T04:59:00Z"),
            acks: &[],
            reason: None,
        };
        let high = decide(None, &action(Category::Remediation, Impact::High), &input);
        assert!(!high.allowed);
        assert_eq!(high.rule, Rule::BreakGlass);
        let low = decide(None, &action(Category::Remediation, Impact::Low), &input);
        assert!(low.allowed);
        assert_eq!(low.rule, Rule::DefaultAllow);
    }

    /// Plans store rules by name: every rule reads back as itself, and the names are
    /// the ones plans have always shown.
    #[test]
    fn rules_round_trip_through_their_names() {
        let rules = [
            (Rule::MaintenanceMode, "maintenance_mode"),
            (
                Rule::ChangeWindow {
                    name: "weekday-business".into(),
                },
                "change_windows.weekday-business",
            ),
            (
                Rule::ChangeWindow { name: "a.b".into() },
                "change_windows.a.b",
            ),
            (Rule::ChangeWindows, "change_windows"),
            (Rule::BreakGlass, "break_glass"),
            (Rule::DefaultAllow, "default_allow"),
        ];
        for (rule, name) in rules {
            assert_eq!(rule.to_string(), name);
            let json = serde_json::to_string(&rule).expect("serialises");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Rule>(&json).expect("parses"), rule);
        }
        for bad in ["change_windows.", "maintenance", ""] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_resolve_override_then_action_then_defaults_then_builtin() {
        let mut a = action(Category::Diagnostic, Impact::Low);
        a.settings.timeout_ms = Some(7);
        let resolved = resolve_settings(None, &a);
        assert_eq!(resolved.timeout_ms.value, 7);
        assert_eq!(resolved.timeout_ms.source, SettingSource::Action);
        assert_eq!(resolved.retries.source, SettingSource::Builtin);
        assert_eq!(resolved.retries.value, default_retries());
    }
}
