//! Configuration: source declarations, schedules and settings.

pub mod schedule;
pub mod settings;
pub mod sources;

pub use schedule::Schedule;
pub use settings::Settings;
pub use sources::{DocType, Problem, Source, SourceErrors};
