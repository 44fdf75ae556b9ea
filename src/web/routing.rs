//! The routing map: for each environment and flag, the variant served now (the file default or a
//! decision's override, with who approved it and until when), where that variant sends requests
//! (providers and models), and which apps evaluated the flag in the last 7 days.

use super::session::Viewer;
use super::{WebError, page};
use crate::flags::{FlagDef, MetaValue};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub fn router() -> Router<AppState> {
    Router::new().route("/routing", get(routing))
}

/// How far back "evaluated recently" looks.
const RECENT_DAYS: i64 = 7;

/// `provider/model` of each target of an `ai-route/v1` value, else the flag's declared providers.
pub fn routes_of(flag: &FlagDef, value: Option<&Value>) -> Vec<String> {
    if let Some(v) = value
        && v.get("schema").and_then(Value::as_str) == Some("ai-route/v1")
    {
        return v["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                let p = t["provider"].as_str().unwrap_or("?");
                match t["model"].as_str() {
                    Some(m) => format!("{p}/{m}"),
                    None => p.to_owned(),
                }
            })
            .collect();
    }
    flag.providers().map(str::to_owned).collect()
}

fn meta_text(m: &MetaValue) -> String {
    match m {
        MetaValue::Bool(b) => b.to_string(),
        MetaValue::Number(n) => n.to_string(),
        MetaValue::String(s) => s.clone(),
    }
}

async fn routing(State(st): State<AppState>, viewer: Viewer) -> Result<Response, WebError> {
    let Some(published) = st.flags.current() else {
        return page(
            &viewer,
            "routing.html",
            json!({"section": "routing", "environments": [], "loaded": false}),
        );
    };
    let usage = st.store.usage(None).await?;
    let recent = chrono::Utc::now() - chrono::Duration::days(RECENT_DAYS);
    let mut envs = Vec::new();
    for env in st.serving.environments.iter() {
        let mut rows = Vec::new();
        for flag in published.set.flags.values() {
            let ov = st.flags.override_of(env, &flag.key);
            // A DISABLED flag serves nothing (clients use their code default) unless overridden.
            let disabled = flag.state == crate::flags::FlagState::Disabled && ov.is_none();
            let variant = ov
                .as_ref()
                .map(|o| o.variant.clone())
                .or_else(|| flag.default_variant.clone().filter(|_| !disabled));
            let value = variant.as_ref().and_then(|v| flag.variants.get(v));
            let off = value.is_some_and(|v| v == &Value::Bool(false) || v.get("enabled") == Some(&Value::Bool(false)));
            let meta = |k: &str| ov.as_ref().and_then(|o| o.metadata.get(k)).map(meta_text);
            let apps: BTreeSet<&str> = usage
                .iter()
                .filter(|u| u.flag == flag.key && u.env == *env && u.last_seen >= recent)
                .map(|u| u.app.as_str())
                .collect();
            rows.push(json!({
                "key": flag.key,
                "owner": flag.owner(),
                "variant": variant,
                "default": flag.default_variant,
                "overridden": ov.is_some(),
                "off": off,
                "disabled": disabled,
                "decision": meta("decisionId"),
                "approved_by": meta("approvedBy"),
                "expires_at": meta("expiresAt"),
                "routes": routes_of(flag, value),
                "apps": apps,
            }));
        }
        envs.push(json!({
            "name": env,
            "flags": rows,
            "overridden": rows.iter().filter(|r| r["overridden"] == true).count(),
        }));
    }
    page(
        &viewer,
        "routing.html",
        json!({"section": "routing", "environments": envs, "loaded": true, "recent_days": RECENT_DAYS}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(meta: Value) -> FlagDef {
        FlagDef {
            key: "route.chat".into(),
            state: crate::flags::FlagState::Enabled,
            variants: Default::default(),
            default_variant: None,
            targeting: None,
            metadata: meta.as_object().cloned().unwrap_or_default(),
            file: Default::default(),
        }
    }

    #[test]
    fn an_ai_route_names_its_targets_else_the_declared_providers() {
        let f = flag(json!({"providers": ["acme/a-1", "other/o-1"]}));
        let route = json!({"schema": "ai-route/v1", "targets": [{"provider": "other", "model": "o-1"}]});
        assert_eq!(routes_of(&f, Some(&route)), ["other/o-1"]);
        assert_eq!(routes_of(&f, Some(&json!(true))), ["acme/a-1", "other/o-1"]);
        assert!(routes_of(&f, Some(&json!({"schema": "ai-route/v1", "targets": []}))).is_empty());
    }
}
