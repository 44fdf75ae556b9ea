//! The domain: typed values and the rules that move them, with no I/O, no SQL and no clock (the
//! time is always an argument). The store persists what these functions decide; services call
//! them with the current time.

pub mod brief;
pub mod decision;
