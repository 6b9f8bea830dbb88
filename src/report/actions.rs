//! `list-actions` renderers: a table for people, a JSON document for scripts.
//!
//! Actions are listed by name (names are unique across the catalog), each with its
//! module, category, impact, description and the parameters its input_schema
//! declares, in declaration order.

use serde_json::json;

use crate::params::{describe_parameters, ParameterInfo};
use crate::registry::{Action, Module};

/// An action with its module, ready to render.
pub type Listed<'a> = (&'a Module, &'a Action);

/// A table: one line per action, its parameters indented below it.
pub fn render_human(actions: &[Listed<'_>]) -> String {
    if actions.is_empty() {
        return "no actions\n".to_string();
    }
    let headers = ["ACTION", "MODULE", "CATEGORY", "IMPACT", "DESCRIPTION"];
    let rows: Vec<[String; 5]> = actions
        .iter()
        .map(|(m, a)| {
            [
                a.name.value.clone(),
                m.name.value.clone(),
                a.category.as_str().to_string(),
                a.impact.as_str().to_string(),
                a.description.clone(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
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
        let params = describe_parameters(a.input_schema.as_ref());
        let name_width = params.iter().map(|p| p.name.len()).max().unwrap_or(0);
        let kind_width = params.iter().map(|p| p.kind.len()).max().unwrap_or(0);
        for p in &params {
            let mut s = format!(
                "    --param {:<name_width$}  {:<kind_width$}  {:<8}  {}",
                p.name,
                p.kind,
                if p.required { "required" } else { "optional" },
                p.description
            );
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

fn parameter_json(p: &ParameterInfo) -> serde_json::Value {
    json!({
        "name": p.name,
        "type": p.kind,
        "required": p.required,
        "description": p.description,
    })
}

/// `{format_version: 1, actions: [{action, module, category, impact, description,
/// command, parameters: [{name, type, required, description}]}]}`.
pub fn render_json(actions: &[Listed<'_>]) -> String {
    let doc = json!({
        "format_version": 1,
        "actions": actions.iter().map(|(m, a)| json!({
            "action": a.name.value,
            "module": m.name.value,
            "category": a.category.as_str(),
            "impact": a.impact.as_str(),
            "description": a.description,
            "command": a.exec,
            "timeout_ms": a.settings.timeout_ms,
            "parameters": describe_parameters(a.input_schema.as_ref())
                .iter()
                .map(parameter_json)
                .collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
