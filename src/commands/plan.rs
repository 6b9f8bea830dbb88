//! `rune plan`: the lifecycle and action plan as a dry run.
//!
//! Wiring only: check the flags, load and check the catalog (refusing to plan an
//! invalid one, with `validate`'s report), type the parameters, plan, render, and
//! save with `--out`. Exit codes: 0 planned (or, with `--detailed-exitcode`, nothing
//! to do), 1 invalid catalog, invalid parameters or a denied step, 2 usage error,
//! 3 steps planned (only with `--detailed-exitcode`).

use std::path::Path;

use jiff::Timestamp;
use serde_json::Map;

use crate::catalog::{self, CheckedCatalog};
use crate::cli::{OutputFormat, PlanArgs};
use crate::config::Config;
use crate::escape::untrusted;
use crate::params::{self, ParamsFileError};
use crate::plan::{self, Clock, PlanError, Request};
use crate::report::diagnostics::render_human;
use crate::report::plan::render_problems;
use crate::report::save::save_atomically;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune plan`.
pub fn run(args: &PlanArgs, config: &Config, printer: &mut Printer) -> ExitStatus {
    let (at, clock) = match &args.at {
        Some(text) => match parse_at(text) {
            Ok(at) => (at, Clock::Fixed),
            Err(message) => return usage(printer, &message),
        },
        None if config.source_date_epoch.is_some() => {
            let raw = config.source_date_epoch.as_deref().unwrap_or_default();
            match source_date_epoch(raw) {
                Ok(at) => (at, Clock::SourceDateEpoch),
                Err(message) => return usage(printer, &message),
            }
        }
        // Whole seconds: the plan records the instant, and nanoseconds are noise.
        None => (
            Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH),
            Clock::Now,
        ),
    };
    if let Err(message) = check_flags(args) {
        return usage(printer, &message);
    }
    // Refuse an `--out` that could never be written before planning, not after.
    if let Some(out) = args.out.as_deref().filter(|out| *out != Path::new("-")) {
        if let Err(e) = crate::report::save::resolve_target(out) {
            return usage(
                printer,
                &format!(
                    "cannot write the plan to {}: {e}",
                    untrusted(&crate::source::display_name(out))
                ),
            );
        }
    }
    let paths = config.catalog_paths(&args.paths);
    if let Some(out) = args.out.as_deref().filter(|out| *out != Path::new("-")) {
        if let Err(e) = crate::report::save::refuse_catalog_input(out, &paths) {
            return usage(printer, &format!("cannot write the plan there: {e}"));
        }
    }
    let checked = match load_valid(&paths, config, printer) {
        Ok(checked) => checked,
        Err(status) => return status,
    };
    let params = match &args.action {
        Some(name) => match action_params(args, name, &checked, config, printer) {
            Ok(params) => params,
            Err(status) => return status,
        },
        None => Map::new(),
    };
    let request = Request {
        targets: args.targets.clone(),
        action: args.action.clone(),
        params,
        at,
        clock,
        acks: args.acks.clone(),
        reason: args.reason.clone(),
    };
    let plan = match plan::plan(&checked.registry, &checked.graph, request) {
        Ok(plan) => plan,
        Err(PlanError::Usage(d)) => {
            printer.err(&render_problems(&d, &checked.sources, config.color_stderr));
            return ExitStatus::Error;
        }
        Err(PlanError::Invalid(d)) => {
            printer.err(&render_problems(&d, &checked.sources, config.color_stderr));
            printer.err("error: no plan: the request is invalid\n");
            return ExitStatus::Failure;
        }
    };
    let inputs = plan::inputs(&checked.sources, &plan);
    let json =
        || crate::report::plan::render_json(&plan, &checked.registry, &checked.sources, &inputs);
    let to_stdout = args.out.as_deref() == Some(Path::new("-"));
    let denied = plan.denied() > 0;
    match args.format {
        // `--out -` puts the plan document on stdout; the readable view moves to stderr.
        OutputFormat::Human if to_stdout => printer.err(&crate::report::plan::render_human(
            &plan,
            &checked.registry,
            &inputs,
        )),
        OutputFormat::Human => {
            printer.out(&crate::report::plan::render_human(
                &plan,
                &checked.registry,
                &inputs,
            ));
        }
        OutputFormat::Json if to_stdout && denied => {}
        OutputFormat::Json => printer.out(&json()),
    }
    // The plan document shows each decision; stderr carries the stable code, so
    // scripts and CI logs can tell a policy denial from other failures.
    for step in plan.actions.iter().filter(|a| !a.decision.allowed) {
        let action = &checked.registry.modules[step.module].actions[step.action];
        printer.err(&format!(
            "error[{}]: `{}` denied by {}: {}\n",
            crate::diagnostic::Code::PolicyDenied,
            untrusted(&action.name.value),
            untrusted(&step.decision.rule.to_string()),
            untrusted(&step.decision.reason)
        ));
    }
    if let Some(out) = &args.out {
        let name = untrusted(&crate::source::display_name(out)).into_owned();
        if denied {
            // A plan with denied steps must not reach `rune apply`.
            printer.err(&format!(
                "error: the plan has denied steps; not written to {}\n",
                if to_stdout { "stdout" } else { &name }
            ));
        } else if to_stdout {
            printer.out(&json());
        } else {
            match save_atomically(out, json().as_bytes()) {
                Ok(_) => printer.err(&format!("plan written to {name}\n")),
                Err(e) => {
                    printer.err(&format!("error: cannot write the plan to {name}: {e}\n"));
                    return ExitStatus::Error;
                }
            }
        }
    }
    if denied {
        ExitStatus::Failure
    } else if args.detailed_exitcode && plan.step_count() > 0 {
        ExitStatus::StepsPlanned
    } else {
        ExitStatus::Success
    }
}

fn usage(printer: &mut Printer, message: &str) -> ExitStatus {
    printer.err(&format!("error: {message}\n"));
    ExitStatus::Error
}

/// Earliest `--at`: the Unix epoch. Plans record instants that tools read as Unix
/// time, and nothing rune plans can happen before it.
const EARLIEST_AT: Timestamp = Timestamp::UNIX_EPOCH;
/// Latest `--at`: the end of year 9998, a year before the end of the calendar rune
/// computes in, so the change windows after the instant can still be found.
const LATEST_AT_YEAR: i16 = 9998;
/// The largest offset RFC 3339 can write (`±23:59`), in seconds.
const MAX_OFFSET_SECONDS: i32 = 23 * 3600 + 59 * 60;

/// `SOURCE_DATE_EPOCH` as an instant: whole seconds since 1970-01-01T00:00:00Z, in the
/// range `--at` accepts. The convention says a malformed value is an error, not
/// something to ignore: a build that set it expects reproducible output.
pub fn source_date_epoch(raw: &str) -> Result<Timestamp, String> {
    let shown = crate::schema::quote(raw);
    let invalid = |why: &str| {
        format!(
            "invalid SOURCE_DATE_EPOCH {shown}: {why}\n  help: set it to whole seconds since 1970-01-01T00:00:00Z (e.g. `$(git log -1 --format=%ct)`), or unset it and pass --at"
        )
    };
    let digits = raw.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("not a whole number of seconds"));
    }
    let at = digits
        .parse::<i64>()
        .ok()
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or_else(|| invalid("out of range"))?;
    // The same range as --at.
    parse_at(&at.to_string()).map_err(|_| {
        invalid(&format!(
            "out of range: --at takes instants from 1970 to the end of year {LATEST_AT_YEAR}"
        ))
    })
}

/// `--at` as an instant: RFC 3339 with a `Z` or numeric offset, between 1970 and
/// the end of year 9998. The message says which part is wrong: the parser's own
/// words for a year of five digits or an offset of +25:00 point elsewhere or
/// nowhere.
pub fn parse_at(text: &str) -> Result<Timestamp, String> {
    const HELP: &str = "\n  help: give an RFC 3339 instant with an offset, e.g. `2026-03-27T10:00:00Z` or `2026-03-27T11:00:00+01:00`";
    let trimmed = text.trim();
    let shown = crate::schema::quote(trimmed);
    let invalid = |why: String| format!("invalid --at {shown}: {why}{HELP}");
    let range = || {
        format!("--at takes instants from 1970-01-01T00:00:00Z to {LATEST_AT_YEAR}-12-31T23:59:59Z")
    };
    let year_digits = trimmed
        .trim_start_matches(['+', '-'])
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    if year_digits > 4 && trimmed.contains('-') {
        return Err(invalid(format!(
            "the year has {year_digits} digits; {}",
            range()
        )));
    }
    let pieces = jiff::fmt::temporal::Pieces::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if let Some(jiff::fmt::temporal::PiecesOffset::Numeric(numeric)) = pieces.offset() {
        let seconds = numeric.offset().seconds();
        if seconds.abs() > MAX_OFFSET_SECONDS {
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.unsigned_abs() / 60;
            return Err(invalid(format!(
                "the offset {sign}{:02}:{:02} is out of range: RFC 3339 offsets go up to ±23:59, and the time zones in use lie between -12:00 and +14:00",
                minutes / 60,
                minutes % 60
            )));
        }
    }
    if pieces.date().year() > LATEST_AT_YEAR {
        return Err(invalid(format!(
            "the instant is too far in the future; {}",
            range()
        )));
    }
    let at = trimmed
        .parse::<Timestamp>()
        .map_err(|e| invalid(e.to_string()))?;
    if at < EARLIEST_AT {
        return Err(invalid(format!("the instant is before 1970; {}", range())));
    }
    if at.to_zoned(jiff::tz::TimeZone::UTC).year() > LATEST_AT_YEAR {
        return Err(invalid(format!(
            "the instant is too far in the future; {}",
            range()
        )));
    }
    Ok(at)
}

/// Flag combinations that make no sense, and malformed `--param`s, before any I/O.
fn check_flags(args: &PlanArgs) -> Result<(), String> {
    for param in &args.params {
        params::split_assignment(param)?;
    }
    if args.action.is_none() {
        if let Some(p) = args.params.first() {
            return Err(format!("--param `{p}` needs --action NAME"));
        }
        if args.params_file.is_some() {
            return Err("--params-file needs --action NAME".to_string());
        }
        if let Some(ack) = args.acks.first() {
            return Err(format!(
                "--ack `{ack}` needs --action {ack}: it acknowledges the action being planned"
            ));
        }
    }
    if args.reason.is_some() && args.acks.is_empty() {
        return Err(
            "--reason is recorded with a break-glass acknowledgment; add --ack ACTION".to_string(),
        );
    }
    Ok(())
}

/// Load and check the catalog; on errors print `validate`'s report and refuse.
pub fn load_valid(
    paths: &[std::path::PathBuf],
    config: &Config,
    printer: &mut Printer,
) -> Result<CheckedCatalog, ExitStatus> {
    let checked = catalog::load_and_check(paths);
    if checked.has_errors() {
        printer.err(&render_human(
            &checked.diagnostics,
            &checked.sources,
            checked.summary(),
            config.color_stderr,
        ));
        return Err(if checked.has_io_errors() {
            ExitStatus::Error
        } else {
            ExitStatus::Failure
        });
    }
    if !checked.diagnostics.is_empty() {
        printer.err(&render_problems(
            &checked.diagnostics,
            &checked.sources,
            config.color_stderr,
        ));
    }
    Ok(checked)
}

/// The action's parameters from `--params-file` and `--param`, typed by its schema.
fn action_params(
    args: &PlanArgs,
    name: &str,
    checked: &CheckedCatalog,
    config: &Config,
    printer: &mut Printer,
) -> Result<Map<String, serde_json::Value>, ExitStatus> {
    // An unknown action is reported by the planner with the other selector errors.
    let Ok((m, a)) = plan::find_action(&checked.registry, name) else {
        return Ok(Map::new());
    };
    let action = &checked.registry.modules[m].actions[a];
    let from_file = match &args.params_file {
        Some(path) => match params::read_params_file(path) {
            Ok(map) => map,
            Err(ParamsFileError::Syntax {
                sources,
                diagnostics,
            }) => {
                printer.err(&render_problems(
                    &diagnostics,
                    &sources,
                    config.color_stderr,
                ));
                return Err(usage(printer, "--params-file is not valid YAML or JSON"));
            }
            Err(ParamsFileError::Unreadable(message) | ParamsFileError::NotAMapping(message)) => {
                return Err(usage(printer, &format!("--params-file: {message}")));
            }
        },
        None => Map::new(),
    };
    params::collect(&args.params, from_file, action).map_err(|message| usage(printer, &message))
}
