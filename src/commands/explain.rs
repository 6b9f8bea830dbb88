//! `rune explain`: the long explanation of a diagnostic code or of a runtime (EPS)
//! failure.
//!
//! People arrive with whatever they have in hand: the full code from a report, its
//! last segment, a prefix they remember, the code in upper case from a log, the
//! protocol number (`-32205`, `-32401`) a module, an EPS envelope or a JSON report
//! gave them, or a runtime failure's kind (`timeout`, `eps::timeout`). All of these
//! find what they name; a query that fits several lists them instead of guessing.

use crate::cli::ExplainArgs;
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::exec::eps::{Kind, ALL_KINDS};
use crate::explain::short_name;
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// Run `rune explain`.
pub(crate) fn run(args: &ExplainArgs, color: bool, printer: &mut Printer) -> ExitStatus {
    let Some(query) = &args.code else {
        printer.out(&format!(
            "{}\nruntime (EPS) codes, by number and kind:\n{}",
            list(Code::ALL),
            list_kinds(&ALL_KINDS)
        ));
        return ExitStatus::Success;
    };
    let shown = crate::schema::quote(query.trim());
    match lookup(query) {
        Lookup::One(code) => {
            printer.out(&explain(code));
            ExitStatus::Success
        }
        Lookup::Runtime(kinds, codes) => {
            let mut text = kinds
                .iter()
                .map(|&kind| explain_kind(kind))
                .collect::<Vec<_>>()
                .join("\n");
            if !codes.is_empty() {
                let what = match codes.len() {
                    1 => "a diagnostic code".to_string(),
                    n => format!("{n} diagnostic codes"),
                };
                let also = match protocol_number(&query.trim().to_ascii_lowercase()) {
                    Some(_) => format!("protocol code {} is also reported by", kinds[0].code()),
                    None => format!("{shown} also names"),
                };
                text.push_str(&format!(
                    "\n{also} {what}:\n{}run `rune explain CODE` for one of them\n",
                    list(&codes)
                ));
            }
            printer.out(&text);
            ExitStatus::Success
        }
        Lookup::Protocol(number, codes) => {
            // A protocol number shared by several codes: the list is the answer.
            printer.out(&format!(
                "protocol code {number} is reported by {} diagnostic codes:\n{}run `rune explain CODE` for one of them\n",
                codes.len(),
                list(&codes)
            ));
            ExitStatus::Success
        }
        Lookup::Ambiguous(codes) => {
            let d = Diagnostic::new(
                Code::AmbiguousCode,
                format!(
                    "{shown} matches {} diagnostic codes: {}",
                    codes.len(),
                    codes
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_help(format!(
                "give more of the name, e.g. `rune explain {}`",
                short_name(codes[0])
            ));
            refuse(printer, d, color)
        }
        Lookup::UnknownProtocol(number) => {
            let number = crate::schema::quote(&number);
            let mut known: Vec<i32> = Code::ALL
                .iter()
                .filter_map(|c| c.protocol_code())
                .chain(ALL_KINDS.iter().map(|k| k.code()))
                .collect();
            known.sort_unstable_by(|a, b| b.cmp(a));
            known.dedup();
            let known: Vec<String> = known.iter().map(i32::to_string).collect();
            let d = Diagnostic::new(
                Code::UnknownCode,
                format!("no diagnostic code or runtime error has protocol code {number}"),
            )
            .with_help(format!(
                "the protocol codes rune reports are {}",
                known.join(", ")
            ));
            refuse(printer, d, color)
        }
        Lookup::Unknown(hint) => {
            let hint = hint
                .map(|name| format!("; did you mean `{name}`?"))
                .unwrap_or_default();
            let d = Diagnostic::new(
                Code::UnknownCode,
                format!("unknown diagnostic code {shown}{hint}"),
            )
            .with_help("run `rune explain` to list every code");
            refuse(printer, d, color)
        }
    }
}

/// Report a query that found no single code: a usage error (exit status 2).
fn refuse(printer: &mut Printer, d: Diagnostic, color: bool) -> ExitStatus {
    let refusal = Refusal {
        kind: Refused::Usage,
        diagnostics: vec![d],
        sources: &SourceMap::default(),
        summary: Default::default(),
    };
    refusal::report(printer, refusal, Channel { json: false, color })
}

/// What a query found.
#[derive(Debug, PartialEq)]
enum Lookup {
    /// Exactly one code.
    One(Code),
    /// Runtime (EPS) kinds the query names by number or by name, and the
    /// diagnostic codes the same query also finds.
    Runtime(Vec<Kind>, Vec<Code>),
    /// A protocol number several codes report.
    Protocol(i32, Vec<Code>),
    /// A name prefix several codes share.
    Ambiguous(Vec<Code>),
    /// A number no code reports, as the user wrote it (with its sign).
    UnknownProtocol(String),
    /// Nothing; the closest name, if one is close.
    Unknown(Option<String>),
}

/// Find the code a query means: a protocol number (`-32205`, `32205`), a full or
/// short name in any case, or a prefix of either.
fn lookup(query: &str) -> Lookup {
    let query = query.trim().to_ascii_lowercase();
    if let Some(number) = protocol_number(&query) {
        let codes: Vec<Code> = Code::ALL
            .iter()
            .copied()
            .filter(|c| number.is_some() && c.protocol_code() == number)
            .collect();
        let kinds: Vec<Kind> = ALL_KINDS
            .iter()
            .copied()
            .filter(|k| number == Some(k.code()))
            .collect();
        if !kinds.is_empty() {
            return Lookup::Runtime(kinds, codes);
        }
        return match (codes.as_slice(), number) {
            ([], _) | (_, None) => {
                let digits = query.trim_start_matches(['-', '+']);
                let digits = match digits.trim_start_matches('0') {
                    "" => "0",
                    rest => rest,
                };
                // Protocol codes are negative; `0` has no sign to add.
                let sign = if digits == "0" { "" } else { "-" };
                Lookup::UnknownProtocol(format!("{sign}{digits}"))
            }
            ([code], _) => Lookup::One(*code),
            (_, Some(number)) => Lookup::Protocol(number, codes),
        };
    }
    // A runtime kind: `timeout`, or `eps::timeout` for a name a diagnostic code
    // shares (`policy_denied`), which then lists that code too.
    let runtime = query
        .strip_prefix("rune::eps::")
        .or_else(|| query.strip_prefix("eps::"));
    if let Some(kind) = Kind::from_name(runtime.unwrap_or(&query)) {
        let also = match runtime {
            Some(_) => Vec::new(),
            None => Code::from_name(&query).into_iter().collect(),
        };
        return Lookup::Runtime(vec![kind], also);
    }
    if let Some(code) = Code::from_name(&query) {
        return Lookup::One(code);
    }
    // `check::duplicate_module` is a prefix of nothing, but a suffix people copy.
    let without_crate = |c: Code| c.as_str().strip_prefix("rune::").unwrap_or(c.as_str());
    let prefixed: Vec<Code> = Code::ALL
        .iter()
        .copied()
        .filter(|&c| {
            !query.is_empty()
                && (c.as_str().starts_with(&query)
                    || without_crate(c).starts_with(&query)
                    || short_name(c).starts_with(&query))
        })
        .collect();
    match prefixed.as_slice() {
        [code] => return Lookup::One(*code),
        [] => {}
        _ => return Lookup::Ambiguous(prefixed),
    }
    // Compare with the short names: people type `dependency_cycles`.
    let last = query.rsplit("::").next().unwrap_or(&query);
    let names = Code::ALL
        .iter()
        .map(|&c| short_name(c))
        .chain(ALL_KINDS.iter().map(|k| k.name()));
    // A diagnostic code is suggested by its full name, a runtime kind by its own.
    Lookup::Unknown(did_you_mean(last, names).map(|name| {
        Code::from_name(name).map_or_else(|| name.to_string(), |c| c.as_str().to_string())
    }))
}

/// `-32205`, `32205` or `+32205` as the (negative) protocol number: `None` when
/// the query is not a number, `Some(None)` when it is one no code can have.
fn protocol_number(query: &str) -> Option<Option<i32>> {
    let digits = query.strip_prefix(['-', '+']).unwrap_or(query);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Protocol error numbers are negative.
    Some(digits.parse::<i32>().ok().map(|n| -n))
}

/// One line per code: its name and what it means.
fn list(codes: &[Code]) -> String {
    codes
        .iter()
        .map(|code| format!("{:<48} {}\n", code.as_str(), code.summary()))
        .collect()
}

/// One line per runtime kind: its code, its name and the code's title.
fn list_kinds(kinds: &[Kind]) -> String {
    kinds
        .iter()
        .map(|k| format!("{:<7} {:<24} {}\n", k.code(), k.name(), k.title()))
        .collect()
}

/// A runtime kind's header (code, title, class, severity, retry) and explanation.
fn explain_kind(kind: Kind) -> String {
    format!(
        "{} {} — {} (EPS)\nclass: {} · severity: {} · retry may help: {}\n\n{}\n",
        kind.code(),
        kind.name(),
        kind.title(),
        kind.classification().as_str(),
        kind.severity().as_str(),
        if kind.retry_recommended() {
            "yes"
        } else {
            "no"
        },
        crate::explain::runtime_explanation(kind).trim_end()
    )
}

fn explain(code: Code) -> String {
    let protocol = code
        .protocol_code()
        .map(|c| format!(" (protocol code {c})"))
        .unwrap_or_default();
    format!(
        "{} — {}{protocol}\nseverity: {}\n\n{}\n",
        code.as_str(),
        code.summary(),
        code.severity().as_str(),
        crate::explain::explanation(code).trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(lookup("-32205"), Lookup::One(Code::DuplicateModule));
        assert_eq!(lookup("32205"), Lookup::One(Code::DuplicateModule));
        assert_eq!(
            lookup("RUNE::CHECK::DUPLICATE_MODULE"),
            Lookup::One(Code::DuplicateModule)
        );
        assert_eq!(lookup("duplicate_mod"), Lookup::One(Code::DuplicateModule));
        assert_eq!(
            lookup("check::duplicate_mod"),
            Lookup::One(Code::DuplicateModule)
        );
        assert!(matches!(lookup("duplicate_"), Lookup::Ambiguous(c) if c.len() > 3));
        assert!(
            matches!(lookup("-32200"), Lookup::Runtime(k, c) if k == [Kind::InvalidResult] && c.len() > 3)
        );
        assert_eq!(
            lookup("-32401"),
            Lookup::Runtime(vec![Kind::Timeout], vec![])
        );
        assert_eq!(
            lookup("Timeout"),
            Lookup::Runtime(vec![Kind::Timeout], vec![])
        );
        assert_eq!(
            lookup("policy_denied"),
            Lookup::Runtime(vec![Kind::PolicyDenied], vec![Code::PolicyDenied])
        );
        assert_eq!(
            lookup("eps::policy_denied"),
            Lookup::Runtime(vec![Kind::PolicyDenied], vec![])
        );
        assert_eq!(
            lookup("-32602"),
            Lookup::Runtime(
                vec![Kind::InvalidParams, Kind::PluginRejectedInput],
                vec![Code::InvalidParameter]
            )
        );
        assert!(matches!(lookup("-32206"), Lookup::Protocol(-32206, c) if c.len() == 2));
        assert_eq!(lookup("-1"), Lookup::UnknownProtocol("-1".into()));
        assert_eq!(
            lookup("99999999999"),
            Lookup::UnknownProtocol("-99999999999".into())
        );
        assert_eq!(
            lookup("dependency_cycles"),
            Lookup::Unknown(Some("rune::check::dependency_cycle".into()))
        );
        assert_eq!(lookup(""), Lookup::Unknown(None));
    }
}
