//! Integration tests: the real `rune` binary, one module per topic.

mod support;

mod cli;
