//! `rune schema`: print an embedded JSON Schema.

use crate::cli::SchemaArgs;
use crate::report::Printer;
use crate::ExitStatus;

/// Run `rune schema`.
pub fn run(args: &SchemaArgs, printer: &mut Printer) -> ExitStatus {
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
            printer.err(&format!(
                "error: no schema named `{}`; available: {}\n",
                crate::escape::untrusted(&args.name),
                names.join(", ")
            ));
            ExitStatus::Error
        }
    }
}
