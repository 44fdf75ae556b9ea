//! The domain: typed values and the rules that move them, with no I/O, no SQL and no clock (the
//! time is always an argument). The store persists what these functions decide; services call
//! them with the current time.

pub mod brief;
pub mod decision;

/// The time, for the layers that may not read it themselves (the store): services pass the
/// system's, tests a fixed one.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}
