//! Long explanations of diagnostic codes, printed by `rune explain CODE`.

use crate::diagnostic::Code;

/// The long explanation of a code, with a bad and a fixed example.
pub fn explanation(code: Code) -> &'static str {
    code.summary()
}
