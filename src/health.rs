//! Source health: the one table behind `sources list`, `GET /api/v1/sources` and (later) the
//! sources page.

use crate::config::Source;
use crate::config::settings::SchedulerSettings;
use crate::store::{SourceState, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    pub id: String,
    pub provider: String,
    pub kind: String,
    pub doc_type: String,
    pub url: String,
    pub owner: Option<String>,
    pub schedule: String,
    pub enabled: bool,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_change: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    /// `null` when healthy.
    pub last_error_class: Option<String>,
    pub last_error: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    /// `ok`, `failing`, `broken` (reached the broken threshold), `pending` (never polled) or `disabled`.
    pub health: &'static str,
    /// False for a URL that was not confirmed in public material and has not been fetched
    /// successfully yet.
    pub verified: bool,
    pub renders_with_js: bool,
    pub alternative: Option<String>,
    pub note: Option<String>,
}

pub async fn source_rows(
    store: &Store,
    sources: &[Source],
    s: &SchedulerSettings,
) -> Result<Vec<SourceRow>, StoreError> {
    let states: HashMap<String, SourceState> = store
        .states()
        .await?
        .into_iter()
        .map(|st| (st.source.clone(), st))
        .collect();
    let now = Utc::now();
    Ok(sources
        .iter()
        .map(|src| {
            let st = states.get(&src.id).cloned().unwrap_or_default();
            let healthy = st.consecutive_failures == 0;
            let health = if !src.enabled {
                "disabled"
            } else if st.consecutive_failures >= s.broken_after {
                "broken"
            } else if !healthy {
                "failing"
            } else if st.last_success.is_none() {
                "pending"
            } else {
                "ok"
            };
            // A scheduler records its plan; without one running, the schedule says when.
            let next_run = if !src.enabled {
                None
            } else {
                st.next_run
                    .filter(|t| *t >= now - chrono::Duration::minutes(1))
                    .or_else(|| src.schedule.next_after(now))
            };
            SourceRow {
                id: src.id.clone(),
                provider: src.provider.clone(),
                kind: src.kind.as_str().to_owned(),
                doc_type: src.doc_type.as_str().to_owned(),
                url: src.url.to_string(),
                owner: src.owner.clone(),
                schedule: src.schedule.expr().to_owned(),
                enabled: src.enabled,
                last_attempt: st.last_attempt,
                last_success: st.last_success,
                last_change: st.last_change,
                consecutive_failures: st.consecutive_failures,
                last_error_class: if healthy { None } else { st.last_error_class },
                last_error: if healthy { None } else { st.last_error },
                next_run,
                health,
                verified: src.confirmed || st.last_success.is_some(),
                renders_with_js: src.renders_with_js,
                alternative: src.alternative.clone(),
                note: src.note.clone(),
            }
        })
        .collect())
}
