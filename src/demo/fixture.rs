//! The demo's stand-in for the vendor's web site: an HTTP server on 127.0.0.1 serving the current
//! version of each document, which the script replaces as the story moves on.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

type Pages = Arc<RwLock<HashMap<String, (&'static str, String)>>>;

pub struct VendorSite {
    pages: Pages,
    pub addr: SocketAddr,
}

impl VendorSite {
    /// Starts serving on an ephemeral port of 127.0.0.1 until `shutdown` turns true.
    pub async fn start(mut shutdown: tokio::sync::watch::Receiver<bool>) -> std::io::Result<VendorSite> {
        let pages: Pages = Arc::default();
        let app = axum::Router::new()
            .route("/{*path}", axum::routing::get(page))
            .with_state(pages.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = crate::flags::stopped(&mut shutdown).await;
                })
                .await;
        });
        Ok(VendorSite { pages, addr })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Publishes a new version of the document at `path`.
    pub fn set(&self, path: &str, content_type: &'static str, body: String) {
        self.pages
            .write()
            .expect("pages lock")
            .insert(path.trim_start_matches('/').to_owned(), (content_type, body));
    }
}

async fn page(State(pages): State<Pages>, Path(path): Path<String>) -> impl IntoResponse {
    match pages.read().expect("pages lock").get(&path) {
        Some((ct, body)) => (StatusCode::OK, [(header::CONTENT_TYPE, *ct)], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
