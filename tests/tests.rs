//! Integration tests: the real `rune` binary, one module per topic.

mod support;

mod apply;
mod apply_smoke;
mod checks;
mod cli;
mod completions;
mod deep_graphs;
mod errors;
mod examples;
mod exec_review;
mod explain;
mod formats;
mod graph;
mod hostile;
mod interrupt;
mod large_files;
mod list_actions;
mod many_files;
mod messages;
mod module_exec;
mod output;
mod plan;
mod plan_document;
mod plan_examples;
mod properties;
mod registration;
mod review;
mod robustness;
mod run;
mod suggestions;
mod validate;
mod validate_workflows;
mod workflow_apply;
mod workflow_plan;
mod yaml_input;
