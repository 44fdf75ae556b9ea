//! Feature flags: the flagd flag-definition format, its loader and validator, and an in-memory
//! evaluation engine with flagd's semantics, served over OFREP by the API layer.
//!
//! Data flows one way: files → [`load_dir`] → [`FlagSet`] → [`Snapshot::build`] (with the active
//! [`Override`]s and a revision) → [`Snapshot::evaluate`]. A snapshot is immutable; a new revision
//! builds a new one and swaps it in atomically.
//!
//! Targeting is JsonLogic, evaluated by datalogic-rs (the one crate whose `fractional` reproduces
//! flagd's current buckets); this module adds what flagd adds around the rule engine: `$evaluators` /
//! `$ref` expansion, the `$flagd.flagKey` / `$flagd.timestamp` context, `starts_with` / `ends_with`, and
//! the mapping of a rule's result to a variant and a reason.

mod engine;
mod load;
mod model;
mod rules;
mod service;
mod telemetry;

pub use engine::{EvalError, Evaluation, FlatMetadata, META_REVISION, Override, Reason, Snapshot};
pub use load::{FlagErrors, Problem, load_dir, parse_file};
pub use model::{
    DEFAULT_APPROVALS, FailMode, FlagDef, FlagSet, FlagState, META_APPROVALS, META_CLIENT_VISIBLE, META_FAIL_MODE,
    META_OWNER, META_PROVIDERS, MetaValue,
};
pub use service::{
    EnvSnapshot, FlagService, Published, ReloadOutcome, RevisionEvent, RevisionFuture, RevisionSource, ServiceError,
};
pub use telemetry::{Telemetry, stopped};

#[cfg(test)]
mod eval_tests;
