//! One error type for every handler: a status code and one JSON body shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The caller is known but may not do this to this object (the proposer approving their own
    /// decision, a token acting outside its environment).
    #[error("{0}")]
    Forbidden(String),
    /// The request is valid but the object's state does not allow it (409).
    #[error("{0}")]
    Conflict(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Auth(#[from] super::CallerError),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Auth(e) => e.status(),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Auth(e) => e.code(),
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "the database is unreachable");
            return ApiError::Unavailable("the database is unreachable; nothing was changed, try again".into());
        }
        ApiError::Internal(e.into())
    }
}

impl From<crate::decisions::DecisionError> for ApiError {
    fn from(e: crate::decisions::DecisionError) -> Self {
        use crate::decisions::DecisionError as D;
        use crate::domain::decision::LifecycleError as L;
        use crate::store::DecisionStoreError as S;
        match e {
            D::Store(S::NotFound(id)) => ApiError::NotFound(format!("no decision {id}")),
            D::Store(S::Store(e)) => e.into(),
            D::Store(e @ S::Refused(L::OwnDecision)) => ApiError::Forbidden(e.to_string()),
            D::Store(e @ S::Refused(L::NotAllowed { .. } | L::AlreadyVoted(_))) => ApiError::Conflict(e.to_string()),
            D::Store(e @ S::NoBrief(_)) => ApiError::BadRequest(e.to_string()),
            D::Store(e @ S::AlreadyLive(_)) => ApiError::Conflict(e.to_string()),
            D::Flags(crate::flags::ServiceError::NotLoaded) => ApiError::Unavailable("flags are not loaded".into()),
            D::Flags(e) => ApiError::Conflict(e.to_string()),
            e => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// A JSON request body, or a 400 with the usual JSON error body (a missing content type or bad JSON alike).
pub(crate) fn json_body<T>(
    body: Result<axum::Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    body.map(|axum::Json(b)| b)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// An optional JSON body: empty means the defaults.
pub(crate) fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            // The details go to the log, not to the client.
            tracing::error!(error = ?e, "request failed");
        }
        let body = serde_json::json!({ "error": { "code": self.code(), "message": self.to_string() } });
        (self.status_code(), Json(body)).into_response()
    }
}
