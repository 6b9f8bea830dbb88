//! `list-actions` renderers: a table for people, a JSON document for scripts.
//!
//! Actions are listed by name (names are unique across the catalog), each with its
//! module, category, impact, description and the parameters its input_schema
//! declares, in declaration order.

use std::io::Write;

use serde::Serialize;

use crate::escape::untrusted;
use crate::params::describe_parameters;
use crate::registry::{Action, Module};
use crate::yaml::{Node, Value};

/// Columns wider than this are not padded further: one long parameter name must
/// not push every other row off the screen (or past what `format!` can pad).
const MAX_COLUMN_WIDTH: usize = 48;

/// An action with its module, ready to render.
pub(crate) type Listed<'a> = (&'a Module, &'a Action);

/// A table: one line per action, its parameters indented below it.
pub(crate) fn render_human(actions: &[Listed<'_>]) -> String {
    if actions.is_empty() {
        return "no actions\n".to_string();
    }
    let headers = ["ACTION", "MODULE", "CATEGORY", "IMPACT", "DESCRIPTION"];
    let rows: Vec<[String; 5]> = actions
        .iter()
        .map(|(m, a)| {
            [
                untrusted(&a.name.value).into_owned(),
                untrusted(&m.name.value).into_owned(),
                a.category.as_str().to_string(),
                a.impact.as_str().to_string(),
                untrusted(&a.description).into_owned(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count()).min(MAX_COLUMN_WIDTH);
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(headers);
    for ((_, a), row) in actions.iter().zip(&rows) {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
        // name, kind, then "required/optional  description"
        let params: Vec<[String; 3]> = describe_parameters(a.input_schema.as_ref())
            .iter()
            .map(|p| {
                let need = if p.required { "required" } else { "optional" };
                [
                    untrusted(&p.name).into_owned(),
                    untrusted(&p.kind).into_owned(),
                    format!("{need:<8}  {}", untrusted(&p.description)),
                ]
            })
            .collect();
        let width = |i: usize| {
            params
                .iter()
                .map(|p| p[i].chars().count())
                .max()
                .unwrap_or(0)
                .min(MAX_COLUMN_WIDTH)
        };
        let (name_width, kind_width) = (width(0), width(1));
        for [name, kind, rest] in &params {
            let mut s = format!("    --param {name:<name_width$}  {kind:<kind_width$}  {rest}");
            s.truncate(s.trim_end().len());
            out.push_str(&s);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\n{} action{}\n",
        actions.len(),
        if actions.len() == 1 { "" } else { "s" }
    ));
    out
}

/// One action of the JSON form, keys in this order.
#[derive(Serialize)]
struct ActionJson<'a> {
    action: &'a str,
    module: &'a str,
    category: &'static str,
    impact: &'static str,
    description: &'a str,
    command: &'a [String],
    timeout_ms: Option<u64>,
    parameters: Vec<ParameterJson<'a>>,
}

/// A parameter for scripts: its `enum` values as an array (null when unrestricted)
/// and its `default` (null when none is declared), both as written in the catalog.
#[derive(Serialize)]
struct ParameterJson<'a> {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    required: bool,
    description: String,
    #[serde(rename = "enum")]
    values: Option<&'a Node>,
    default: Option<&'a Node>,
}

#[derive(Serialize)]
struct ActionsJson<'a> {
    format_version: u32,
    actions: Vec<ActionJson<'a>>,
}

fn action_json<'a>(module: &'a Module, action: &'a Action) -> ActionJson<'a> {
    let properties = action
        .input_schema
        .as_ref()
        .and_then(|s| s.get("properties"));
    let parameters = describe_parameters(action.input_schema.as_ref())
        .into_iter()
        .map(|p| {
            let property = properties.and_then(|all| all.get(&p.name));
            ParameterJson {
                values: property
                    .and_then(|q| q.get("enum"))
                    .filter(|e| matches!(e.value, Value::Seq(_))),
                default: property.and_then(|q| q.get("default")),
                name: p.name,
                kind: p.kind,
                required: p.required,
                description: p.description,
            }
        })
        .collect();
    ActionJson {
        action: &action.name.value,
        module: &module.name.value,
        category: action.category.as_str(),
        impact: action.impact.as_str(),
        description: &action.description,
        command: &action.exec,
        timeout_ms: action.settings.timeout_ms,
        parameters,
    }
}

/// Write the JSON form, `{format_version: 1, actions: [{action, module, category,
/// impact, description, command, timeout_ms, parameters: [{name, type, required,
/// description, enum, default}]}]}`, to `out` as it is serialised: indented, or on
/// one line (RUNE's `--output json`).
pub(crate) fn write_json(
    actions: &[Listed<'_>],
    indented: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let doc = ActionsJson {
        format_version: 1,
        actions: actions.iter().map(|(m, a)| action_json(m, a)).collect(),
    };
    if indented {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
    } else {
        serde_json::to_writer(&mut *out, &doc)?;
    }
    out.write_all(b"\n")
}
