//! The one integration-test binary: real HTTP over 127.0.0.1, real SQLite files (or PostgreSQL
//! databases, with `TEST_DATABASE_URL`), the real binary.

mod briefs;
mod cli;
mod decisions;
mod demo;
mod evidence;
mod fixture;
mod helpers;
mod notify;
mod ofrep;
mod openapi;
mod replicas;
mod server;
mod status_adapters;
mod store_conformance;
mod threads;
mod watcher;
mod watcher_edges;
mod web_auth;
mod web_pages;
mod web_summary;
