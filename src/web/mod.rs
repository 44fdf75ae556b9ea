//! The web pages for owners and leadership: server-rendered HTML from templates (minijinja, the
//! templates compiled into the binary), forms that post back to these routes, no front-end build.
//! Pages read and act through the same store and decisions engine as the JSON API, with the same
//! scopes: a `flags:read` viewer sees no triage buttons.

mod brief;
mod decisions;
mod diff_view;
mod feed;
mod inbox;
mod routing;
pub mod session;
mod signin;
mod sources;
pub mod summary;

use crate::state::AppState;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::Environment;
use session::Viewer;
use std::sync::OnceLock;

pub use crate::state::WebConfig;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in: go to the sign-in page, then back here.
    #[error("sign in first")]
    SignIn(String),
    #[error("this form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(String),
}

impl From<crate::store::StoreError> for WebError {
    fn from(e: crate::store::StoreError) -> Self {
        WebError::Internal(e.to_string())
    }
}

impl From<minijinja::Error> for WebError {
    fn from(e: minijinja::Error) -> Self {
        WebError::Internal(format!("template: {e:#}"))
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = match &self {
            WebError::SignIn(next) => {
                let to = format!(
                    "/signin?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                return Redirect::to(&to).into_response();
            }
            WebError::Csrf | WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Internal(e) => {
                tracing::error!(error = %e, "page failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let ctx = minijinja::context! { status => status.as_u16(), message => self.to_string() };
        let mut r = match templates().get_template("error.html").and_then(|t| t.render(ctx)) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, self.to_string()).into_response(),
        };
        secure_headers(r.headers_mut());
        r
    }
}

/// Every template, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("error.html", include_str!("templates/error.html")),
    ("signin.html", include_str!("templates/signin.html")),
    ("inbox.html", include_str!("templates/inbox.html")),
    ("routing.html", include_str!("templates/routing.html")),
    ("sources.html", include_str!("templates/sources.html")),
    ("summary.html", include_str!("templates/summary.html")),
    ("brief.html", include_str!("templates/brief.html")),
    ("decisions.html", include_str!("templates/decisions.html")),
];

pub fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .expect("templates are valid (checked by a test)");
        }
        env.add_filter("ago", ago);
        env
    })
}

/// "3 h", "2 d": how long ago an RFC 3339 time was.
fn ago(t: String) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(&t) else {
        return t;
    };
    let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", s / 60),
        s if s < 36 * 3600 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

/// Renders a page for `viewer` (its cookie set when the session is new).
pub fn page(viewer: &Viewer, template: &str, mut ctx: serde_json::Value) -> Result<Response, WebError> {
    ctx["viewer"] = viewer.context();
    let html = templates().get_template(template)?.render(&ctx)?;
    let mut r = Html(html).into_response();
    secure_headers(r.headers_mut());
    if let Some(c) = &viewer.set_cookie {
        r.headers_mut().insert(header::SET_COOKIE, c.clone());
    }
    Ok(r)
}

/// What every HTML answer carries: not cached, no framing, no script, no sniffing.
pub fn secure_headers(headers: &mut header::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
}

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(signin::router())
        .merge(inbox::router())
        .merge(routing::router())
        .merge(sources::router())
        .merge(summary::router())
        .merge(feed::router())
        .merge(brief::router())
        .merge(decisions::router())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        let env = super::templates();
        for (name, _) in super::TEMPLATES {
            env.get_template(name).unwrap();
        }
    }
}
