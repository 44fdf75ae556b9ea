//! Sign-in with an API token (the session remembers the token's id, never the token), and
//! sign-out.

use super::session::{self, TrustedPeer, Viewer, same_origin};
use super::{WebError, templates};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin", get(form).post(sign_in))
        .route("/signout", post(sign_out))
}

#[derive(Deserialize, Default)]
struct Next {
    next: Option<String>,
}

/// Only paths on this site: `/x`, never `//evil.example` or `https://...`.
fn local(next: Option<&str>) -> String {
    match next {
        // Browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil"): no control
        // characters, no whitespace, no backslashes, and never a second leading slash.
        Some(n)
            if n.starts_with('/')
                && !n[1..].starts_with('/')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn render(next: &str, error: Option<&str>, status: StatusCode) -> Result<Response, WebError> {
    let html = templates()
        .get_template("signin.html")?
        .render(minijinja::context! { next => next, error => error })?;
    let mut r = (status, Html(html)).into_response();
    super::secure_headers(r.headers_mut());
    Ok(r)
}

async fn form(Query(q): Query<Next>) -> Result<Response, WebError> {
    render(&local(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    next: Option<String>,
}

async fn sign_in(
    State(st): State<AppState>,
    TrustedPeer(trusted): TrustedPeer,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Result<Response, WebError> {
    if !same_origin(&headers) {
        return Err(WebError::Csrf);
    }
    let next = local(f.next.as_deref());
    let Some(p) = st.tokens.authenticate(f.token.trim()) else {
        tracing::warn!("web sign-in with an unknown or revoked token");
        return render(
            &next,
            Some("That token is not valid (unknown or revoked)."),
            StatusCode::UNAUTHORIZED,
        );
    };
    let scopes: Vec<String> = p.scopes.names().into_iter().map(str::to_owned).collect();
    let (id, _) = session::start(&st, Some(p.token_id), &p.name, &scopes, &p.env).await?;
    st.store
        .audit(crate::store::NewAudit::new(
            &p.name,
            "web.signed_in",
            "token",
            p.token_id,
            serde_json::json!({"name": &*p.name, "env": &*p.env}),
        ))
        .await?;
    let cookie = session::session_cookie(&st, &headers, trusted, &id, st.web.session_hours.max(1) as i64 * 3600);
    tracing::info!(name = %p.name, "web sign-in");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
}

async fn sign_out(
    State(st): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<session::CsrfForm>,
) -> Result<Response, WebError> {
    viewer.check_post(&headers, &f.csrf)?;
    st.store.delete_web_session(&viewer.session).await?;
    st.store
        .audit(crate::store::NewAudit::new(
            &viewer.name,
            "web.signed_out",
            "web_session",
            &viewer.session[..16],
            serde_json::json!({}),
        ))
        .await?;
    let gone = |name: &str, secure: &str| {
        header::HeaderValue::from_str(&format!(
            "{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"
        ))
        .expect("ASCII")
    };
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().append(header::SET_COOKIE, gone(session::COOKIE, ""));
    r.headers_mut()
        .append(header::SET_COOKIE, gone(session::SECURE_COOKIE, "; Secure"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_paths_on_this_site_are_followed() {
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "/\n/x",
            "/ /x",
            "evil",
        ] {
            assert_eq!(super::local(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(super::local(Some("/briefs/3?x=1")), "/briefs/3?x=1");
    }
}
