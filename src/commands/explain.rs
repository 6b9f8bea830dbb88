//! `rune explain`: the long explanation of a diagnostic code.

use crate::cli::ExplainArgs;
use crate::diagnostic::{did_you_mean, Code};
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune explain`.
pub fn run(args: &ExplainArgs, printer: &mut Printer) -> ExitStatus {
    let Some(name) = &args.code else {
        let mut out = String::new();
        for code in Code::ALL {
            out.push_str(&format!("{:<48} {}\n", code.as_str(), code.summary()));
        }
        printer.out(&out);
        return ExitStatus::Success;
    };
    match Code::from_name(name.trim()) {
        Some(code) => {
            let protocol = code
                .protocol_code()
                .map(|c| format!(" (protocol code {c})"))
                .unwrap_or_default();
            printer.out(&format!(
                "{} — {}{protocol}\nseverity: {}\n\n{}\n",
                code.as_str(),
                code.summary(),
                code.severity().as_str(),
                crate::explain::explanation(code).trim_end()
            ));
            ExitStatus::Success
        }
        None => {
            // Compare with the short names too: people type `dependency_cycles`.
            let short = |c: &Code| c.as_str().rsplit("::").next().unwrap_or_default();
            let last = name.rsplit("::").next().unwrap_or(name);
            let hint = did_you_mean(last, Code::ALL.iter().map(short))
                .and_then(Code::from_name)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            printer.err(&format!(
                "error: unknown diagnostic code `{}`{hint}\nrun `rune explain` to list every code\n",
                crate::report::escape::untrusted(name)
            ));
            ExitStatus::Error
        }
    }
}
