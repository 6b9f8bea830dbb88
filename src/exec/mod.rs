//! Execution: what `rune apply` and `rune run` do with a plan document.
//!
//! The executor walks a [`crate::plan::document::PlanDocument`] (the same typed
//! contract `rune plan` prints and `--out` saves), so a reviewed plan file is exactly
//! what runs. Everything a plugin or a module process does passes through mediation
//! (LMM, [`mediation`]): it alone starts processes ([`process`]), applies timeouts and
//! retries, validates output, and turns failures into EPS errors ([`eps`]). Plugins
//! speak BPCS ([`bpcs`]), long-running modules the module SPI ([`spi`]).
//!
//! Ctrl-C is [`interrupt`]: the first signal stops scheduling, the second kills.
//!
//! Nothing here prints: every step reports [`event::Event`]s to an
//! [`event::Sink`]; the journal ([`journal`]) and the report stage (progress lines,
//! live progress, the final report) are sinks. Ids and the clock ([`ids`]) can be made
//! deterministic, so execution reports can be golden files.

pub(crate) mod apply;
pub mod bpcs;
pub mod environment;
pub mod eps;
pub mod event;
pub mod ids;
pub mod interrupt;
pub(crate) mod journal;
pub(crate) mod lifecycle;
pub mod limits;
pub(crate) mod mediation;
pub(crate) mod pool;
pub mod process;
pub(crate) mod programs;
pub(crate) mod rcs;
pub(crate) mod redact;
pub(crate) mod remote;
pub(crate) mod spi;
pub(crate) mod spi_message;
pub mod supervisor;
pub(crate) mod workflow;
