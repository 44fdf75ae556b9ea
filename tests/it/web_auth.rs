//! Signing in to the web pages: tokens to session cookies, the SSO header from trusted proxies
//! only, CSRF on sign-out, and what an expired or revoked credential gets.

use crate::helpers::{Env, spawn_app_with};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Form posts by hand (reqwest's `form` feature is not built).
trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn token(env: &Env, name: &str, scopes: &[&str]) -> String {
    let settings = env.settings();
    let store = signalbox::store::Store::open(&settings.database).await.unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let t = signalbox::auth::create_token(
        &store,
        name,
        &scopes,
        "production",
        &settings.serving.environments,
        "test",
    )
    .await
    .unwrap()
    .token;
    store.close().await;
    t
}

/// The `name=value` part of a Set-Cookie header.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_signs_in_to_a_strict_http_only_session_and_sign_out_needs_the_form_token() {
    let env = Env::new();
    let oncall = token(&env, "oncall", &["briefs:write"]).await;
    let run = spawn_app_with(env.settings()).await;
    let c = client();

    // Pages send strangers to the sign-in page, remembering where they were going.
    let r = c.get(format!("{}/?status=all", run.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/signin?next=%2F%3Fstatus%3Dall");

    let r = c
        .post(format!("{}/signin", run.base))
        .form_body(&[("token", "sbx_not_a_token"), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(SET_COOKIE).is_none());

    let r = c
        .post(format!("{}/signin", run.base))
        .form_body(&[("token", oncall.as_str()), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/", "no redirect off the site");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain HTTP on 127.0.0.1 without a trusted TLS proxy: {set}"
    );
    assert!(!set.contains(&oncall), "the token itself is never the cookie");
    let cookie = cookie_pair(&set);

    let inbox = c
        .get(format!("{}/", run.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status(), StatusCode::OK);
    let html = inbox.text().await.unwrap();
    assert!(html.contains("Nothing needs attention"), "an empty inbox says so");
    assert!(html.contains("oncall"));
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Sign-out without the form token, or from another site, is refused and signs nobody out.
    let r = c
        .post(format!("{}/signout", run.base))
        .header(COOKIE, &cookie)
        .form_body(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{}/signout", run.base))
        .header(COOKIE, &cookie)
        .header("origin", "https://evil.example")
        .form_body(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        c.get(format!("{}/", run.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let r = c
        .post(format!("{}/signout", run.base))
        .header(COOKIE, &cookie)
        .form_body(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c
        .get(format!("{}/", run.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_the_token_ends_its_web_sessions() {
    let env = Env::new();
    let t = token(&env, "temp", &["briefs:write"]).await;
    let mut settings = env.settings();
    settings.serving.token_refresh_secs = 1;
    let run = spawn_app_with(settings).await;
    let c = client();
    let r = c
        .post(format!("{}/signin", run.base))
        .form_body(&[("token", t.as_str())])
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(r.headers()[SET_COOKIE].to_str().unwrap());
    assert_eq!(
        c.get(format!("{}/", run.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let store = signalbox::store::Store::open(&env.settings().database).await.unwrap();
    store.revoke_token("temp", "test").await.unwrap().unwrap();
    store.close().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let s = c
            .get(format!("{}/", run.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
            .status();
        if s == StatusCode::SEE_OTHER {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still signed in after the token was revoked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sso_header_is_believed_from_trusted_proxies_only() {
    let env = Env::new();
    let mut settings = env.settings();
    settings.web.sso_header = "X-Forwarded-Email".into();
    settings.web.trusted_proxies = vec!["10.9.8.7/32".into()];
    let untrusted = spawn_app_with(settings.clone()).await;
    let c = client();
    let r = c
        .get(format!("{}/", untrusted.base))
        .header("x-forwarded-email", "mallory@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a header from an untrusted peer is ignored"
    );

    let env2 = Env::new();
    let mut settings = env2.settings();
    settings.web.sso_header = "X-Forwarded-Email".into();
    settings.web.trusted_proxies = vec!["127.0.0.1/32".into()];
    settings.web.sso_scopes = vec!["briefs:write".into()];
    let trusted = spawn_app_with(settings).await;
    let r = c
        .get(format!("{}/", trusted.base))
        .header("x-forwarded-email", "dana@example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("__Host-sbx_session=") && set.contains("Secure"),
        "behind TLS: {set}"
    );
    assert!(r.text().await.unwrap().contains("dana@example.com"));

    // A proxy configuration that trusts nobody is refused at start.
    let env3 = Env::new();
    let mut bad = env3.settings();
    bad.web.sso_header = "X-Forwarded-Email".into();
    let app = signalbox::server::App::build(bad).await.unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = signalbox::server::serve(app, l, async {}).await.unwrap_err();
    assert!(err.is_config() && err.to_string().contains("trusted_proxies"), "{err}");
}
