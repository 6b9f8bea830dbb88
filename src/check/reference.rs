//! The grammar of workflow references (`{"$from": "..."}` in params, `when.from`).
//!
//! Three forms, one grammar for validation, planning and execution:
//! `inputs.NAME[.FIELD...]` (a run input), `steps.ID.output[.FIELD...]` (a step's
//! output; bare `output` is the whole output object) and
//! `steps.ID.params.NAME[.FIELD...]` (a parameter of a step as it ran, references
//! filled). Parts are separated by `.`, so a step id with a `.` in it cannot be
//! referenced: the id is always the second part.

/// What a reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// `inputs.NAME`: a run input.
    Input(&'a str),
    /// `steps.ID.output`: the output of step `ID`.
    StepOutput(&'a str),
    /// `steps.ID.params.NAME`: parameter `NAME` of step `ID`.
    StepParam(&'a str, &'a str),
}

/// A parsed reference: where it reads, then the fields it follows inside that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The value read.
    pub source: Source<'a>,
    /// Object fields followed inside the value, outermost first.
    pub fields: Vec<&'a str>,
}

impl Reference<'_> {
    /// The step read, for `steps.*` references.
    pub fn step(&self) -> Option<&str> {
        match self.source {
            Source::Input(_) => None,
            Source::StepOutput(id) | Source::StepParam(id, _) => Some(id),
        }
    }
}

/// The forms, for help texts.
pub(crate) const FORMS: &str = "references are `inputs.NAME`, `steps.ID.output` or `steps.ID.params.NAME`, each followed by `.FIELD`s to reach inside the value";

/// Parse a reference; on error, a help text saying what was probably meant.
pub fn parse(text: &str) -> Result<Reference<'_>, String> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("a reference has no empty parts; {FORMS}"));
    }
    fn with<'a>(source: Source<'a>, fields: &[&'a str]) -> Result<Reference<'a>, String> {
        Ok(Reference {
            source,
            fields: fields.to_vec(),
        })
    }
    match parts.as_slice() {
        ["inputs", name, fields @ ..] => with(Source::Input(name), fields),
        ["inputs"] => Err(format!("name the input: `inputs.NAME`; {FORMS}")),
        ["steps", id, "output", fields @ ..] => with(Source::StepOutput(id), fields),
        ["steps", id, "params", name, fields @ ..] => with(Source::StepParam(id, name), fields),
        ["steps", id, "params"] => Err(format!(
            "name the parameter: `steps.{id}.params.NAME`; {FORMS}"
        )),
        ["steps", id, field, rest @ ..] => Err(format!(
            "did you mean `steps.{id}.output.{}`? a step's result is read through `output`, its parameters through `params`",
            std::iter::once(*field)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(".")
        )),
        ["steps", id] => Err(format!(
            "say what of the step is read: `steps.{id}.output[.FIELD...]` or `steps.{id}.params.NAME`"
        )),
        _ => Err(FORMS.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_parse_with_their_fields() {
        let r = parse("inputs.node").unwrap();
        assert_eq!((r.source, r.fields.len()), (Source::Input("node"), 0));
        let r = parse("inputs.target.host").unwrap();
        assert_eq!(
            (r.source, r.fields),
            (Source::Input("target"), vec!["host"])
        );
        let r = parse("steps.s1.output").unwrap();
        assert_eq!((r.source, r.fields.len()), (Source::StepOutput("s1"), 0));
        let r = parse("steps.s1.output.a.b").unwrap();
        assert_eq!((r.step(), &r.fields[..]), (Some("s1"), &["a", "b"][..]));
        let r = parse("steps.s1.params.path.x").unwrap();
        assert_eq!(
            (r.source, r.fields),
            (Source::StepParam("s1", "path"), vec!["x"])
        );
    }

    #[test]
    fn malformed_references_say_what_was_meant() {
        for (text, help) in [
            ("steps.x.foo", "did you mean `steps.x.output.foo`?"),
            (
                "steps.x.params",
                "name the parameter: `steps.x.params.NAME`",
            ),
            ("steps.x", "`steps.x.output[.FIELD...]`"),
            ("inputs", "name the input"),
            ("inputs..a", "no empty parts"),
            ("outputs.x", "references are"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(help), "{text}: {error}");
        }
    }
}
