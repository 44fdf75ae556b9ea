//! signalbox: watches AI vendors' documents, triages their changes, serves flags.
//!
//! The pipeline, one module per stage, data moving forward:
//! `config` (sources, settings) → `scheduler` → `fetch` → `extract` → `store` → `diff`, driven for
//! one source by `watch`; `api` and the CLI (`main.rs`) are thin shells over the same functions.

pub mod api;
pub mod audit;
pub mod auth;
pub mod briefs;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod decisions;
pub mod demo;
pub mod diff;
pub mod domain;
pub mod evidence;
pub mod extract;
pub mod fetch;
pub mod flags;
pub mod health;
pub mod http;
pub mod notify;
pub mod report;
pub mod scheduler;
pub mod server;
pub mod state;
pub mod store;
pub mod triage;
pub mod watch;
pub mod web;
