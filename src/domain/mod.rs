//! The domain: typed values and the rules that move them, with no I/O, no SQL and no clock (the
//! time is always an argument). The store persists what these functions decide; services call
//! them with the current time.

/// The text form of an enum of words: `ALL`, `as_str`, `Display` and `FromStr` (exact words;
/// anything else is an [`UnknownValue`] naming what was expected). Serde's `rename_all` gives the
/// same words in JSON.
macro_rules! words_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| $crate::domain::UnknownValue {
                    what: $what,
                    value: s.to_owned(),
                })
            }
        }
    };
}

pub mod brief;
pub mod decision;

/// A stored or requested value that is none of the known ones (a database written by a newer
/// version or edited by hand, a filter word with a typo).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// The time, for the layers that may not read it themselves (the store): services pass the
/// system's, tests a fixed one.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}
