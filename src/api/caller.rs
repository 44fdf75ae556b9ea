//! Who is calling: the API token from `Authorization: Bearer` or `X-API-Key`, looked up in the
//! in-memory token cache; or, when the settings allow it, anonymous development use.

use super::AppState;
use crate::auth::{Principal, Scope};
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CallerError {
    #[error("missing API token (send `Authorization: Bearer <token>` or `X-API-Key: <token>`)")]
    Missing,
    #[error("invalid or revoked API token")]
    Invalid,
    #[error("this token lacks the scope this needs: {0}")]
    Forbidden(&'static str),
    #[error("invalid or expired event-stream channel; fetch the bulk evaluation again for a new one")]
    BadChannel,
    #[error("this token is bound to environment `{0}`, which is not configured on this server")]
    UnknownEnv(String),
}

impl CallerError {
    pub fn status(&self) -> StatusCode {
        match self {
            CallerError::Forbidden(_) | CallerError::UnknownEnv(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// OFREP's shape: `{errorDetails}`.
    pub fn into_ofrep_response(self) -> Response {
        let mut r = (self.status(), Json(json!({"errorDetails": self.to_string()}))).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        r
    }

    pub fn code(&self) -> &'static str {
        if self.status() == StatusCode::FORBIDDEN {
            "forbidden"
        } else {
            "unauthorized"
        }
    }
}

/// The management API's shape (`{error: {code, message}}`), through `ApiError`.
impl IntoResponse for CallerError {
    fn into_response(self) -> Response {
        super::ApiError::Auth(self).into_response()
    }
}

impl Caller {
    pub fn require(self, scope: Scope) -> Result<Caller, CallerError> {
        if self.scopes.allows(scope) {
            Ok(self)
        } else {
            Err(CallerError::Forbidden(scope.as_str()))
        }
    }
}

/// The presented token: `Ok(None)` when the request carries no credential at all, `Err` when it
/// carries one we cannot read (another scheme, an empty bearer): that is never anonymous access.
fn presented_token(parts: &Parts) -> Result<Option<&str>, CallerError> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| CallerError::Invalid)?.trim();
        return match (v.get(..7), v.get(7..).map(str::trim)) {
            (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty() => {
                Ok(Some(token))
            }
            _ => Err(CallerError::Invalid),
        };
    }
    match parts.headers.get("x-api-key") {
        Some(v) => Ok(Some(v.to_str().map_err(|_| CallerError::Invalid)?.trim())),
        None => Ok(None),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = CallerError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Caller, CallerError> {
        match presented_token(parts)? {
            Some(t) => st.tokens.authenticate(t).map(Caller).ok_or(CallerError::Invalid),
            None => st.anonymous.clone().map(Caller).ok_or(CallerError::Missing),
        }
    }
}
