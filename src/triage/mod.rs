//! Pure text helpers for the triage engine: recognising dates, money amounts and rate-limit
//! quantities in vendor documents (pricing pages, deprecation tables, policies, SDK sources).
//!
//! Everything here is pure and allocation-light: functions take `&str` and return owned
//! values with byte offsets into the input, so callers can both extract facts and mask
//! spans (e.g. to decide whether an edit only touched a relative date).

pub mod dates;
pub mod numbers;
