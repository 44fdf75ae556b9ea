//! The flagd flag-definition format, as loaded and validated.
//!
//! A [`FlagSet`] is what the files say (after `$evaluators` expansion); it carries no compiled state,
//! so it can be cloned, diffed and re-serialized in flagd's own shape with [`FlagSet::to_flagd_json`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Metadata keys that signalbox itself interprets (see DESIGN.md, "Flags").
pub const META_OWNER: &str = "owner";
/// The provider/model ids a flag's variants use, for impact analysis. An array, so never sent over OFREP.
pub const META_PROVIDERS: &str = "providers";
/// Approvals a production decision on the flag needs.
pub const META_APPROVALS: &str = "approvals";
/// `open` or `closed`.
pub const META_FAIL_MODE: &str = "failMode";
/// Whether browser clients may read the flag.
pub const META_CLIENT_VISIBLE: &str = "clientVisible";

/// Approvals required when a flag does not say (DESIGN.md: "default 2").
pub const DEFAULT_APPROVALS: u64 = 2;

/// A flag's `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlagState {
    Enabled,
    Disabled,
}

impl FlagState {
    /// Parses flagd's spelling exactly (the flagd schema is case-sensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ENABLED" => Some(Self::Enabled),
            "DISABLED" => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// What an app should do when it cannot reach signalbox (metadata `failMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Open,
    Closed,
}

impl FailMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// One flag, as written in a flag file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagDef {
    /// The flag key (the map key under `flags:`); not part of the serialized body.
    #[serde(skip)]
    pub key: String,
    pub state: FlagState,
    pub variants: BTreeMap<String, Value>,
    /// `None` means "no default": evaluation then yields no value and the client uses its code default.
    pub default_variant: Option<String>,
    /// JsonLogic with every `$ref` expanded; `None` when absent or `{}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targeting: Option<Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// The file the flag came from, for error messages and the management API.
    #[serde(skip)]
    pub file: PathBuf,
}

impl FlagDef {
    pub fn owner(&self) -> Option<&str> {
        self.metadata.get(META_OWNER).and_then(Value::as_str)
    }

    /// Provider/model ids such as `anthropic/claude-sonnet-4`; empty when not declared.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.metadata
            .get(META_PROVIDERS)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
    }

    pub fn approvals(&self) -> u64 {
        self.metadata
            .get(META_APPROVALS)
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_APPROVALS)
    }

    pub fn fail_mode(&self) -> Option<FailMode> {
        self.metadata
            .get(META_FAIL_MODE)
            .and_then(Value::as_str)
            .and_then(FailMode::parse)
    }

    pub fn client_visible(&self) -> bool {
        self.metadata
            .get(META_CLIENT_VISIBLE)
            .and_then(Value::as_bool)
            // Visible unless marked otherwise: bulk evaluation (what browser and mobile providers
            // call) returns every flag, as OFREP clients and flagd users expect.
            .unwrap_or(true)
    }
}

/// Every flag from a directory of flag files, keyed and ordered by flag key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagSet {
    pub flags: BTreeMap<String, FlagDef>,
}

impl FlagSet {
    /// The whole set as one flagd document (`{"flags": {...}}`), refs already expanded, so flagd or its
    /// JSON schema can read what signalbox serves.
    pub fn to_flagd_json(&self) -> Value {
        let flags: Map<String, Value> = self
            .flags
            .iter()
            .map(|(key, def)| (key.clone(), serde_json::to_value(def).unwrap_or(Value::Null)))
            .collect();
        let mut doc = Map::new();
        doc.insert("flags".to_owned(), Value::Object(flags));
        Value::Object(doc)
    }
}

/// A flat metadata value, the only kinds OFREP metadata allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MetaValue {
    Bool(bool),
    /// Kept as a JSON number so integers stay integers and floats keep their decimal point on the wire.
    Number(serde_json::Number),
    String(String),
}

impl MetaValue {
    /// The flat value of a JSON scalar; `None` for null, arrays and objects.
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(Self::Bool(*b)),
            Value::Number(n) => Some(Self::Number(n.clone())),
            Value::String(s) => Some(Self::String(s.clone())),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for MetaValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for MetaValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<bool> for MetaValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<u64> for MetaValue {
    fn from(n: u64) -> Self {
        Self::Number(n.into())
    }
}

impl From<i64> for MetaValue {
    fn from(n: i64) -> Self {
        Self::Number(n.into())
    }
}

impl fmt::Display for MetaValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => f.write_str(s),
        }
    }
}
