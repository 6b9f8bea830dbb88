//! `rune schema`: print an embedded JSON Schema.

use crate::cli::SchemaArgs;
use crate::diagnostic::{Code, Diagnostic};
use crate::report::refusal::{self, Channel, Refusal, Refused};
use crate::report::Printer;
use crate::source::SourceMap;
use crate::ExitStatus;

/// Run `rune schema`.
pub(crate) fn run(args: &SchemaArgs, color: bool, printer: &mut Printer) -> ExitStatus {
    match crate::schema::find(&args.name) {
        Some(schema) => {
            printer.out(schema.text);
            if !schema.text.ends_with('\n') {
                printer.out("\n");
            }
            ExitStatus::Success
        }
        None => {
            let names: Vec<&str> = crate::schema::SCHEMAS.iter().map(|s| s.name).collect();
            let mut d = Diagnostic::new(
                Code::UnknownSchema,
                format!("no schema named `{}`", args.name),
            );
            d = match crate::diagnostic::did_you_mean(&args.name, names.iter().copied()) {
                Some(name) => d.with_help(format!(
                    "did you mean `{name}`? available: {}",
                    names.join(", ")
                )),
                None => d.with_help(format!("available: {}", names.join(", "))),
            };
            let refusal = Refusal {
                kind: Refused::Usage,
                diagnostics: vec![d],
                sources: &SourceMap::default(),
                summary: Default::default(),
            };
            refusal::report(printer, refusal, Channel { json: false, color })
        }
    }
}
