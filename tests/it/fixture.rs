//! A fixture server on 127.0.0.1:0 whose pages the test changes between polls.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Page {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    /// When set, the page answers `If-None-Match: <etag>` with 304.
    pub etag: Option<String>,
    pub delay: Option<Duration>,
    pub headers: Vec<(String, String)>,
}

impl Page {
    pub fn new(content_type: &str, body: impl Into<Vec<u8>>) -> Page {
        Page {
            status: 200,
            body: body.into(),
            content_type: content_type.into(),
            etag: None,
            delay: None,
            headers: Vec::new(),
        }
    }
    pub fn html(body: &str) -> Page {
        Page::new("text/html; charset=utf-8", body)
    }
    pub fn status(mut self, s: u16) -> Page {
        self.status = s;
        self
    }
    pub fn etag(mut self, e: &str) -> Page {
        self.etag = Some(e.into());
        self
    }
    pub fn delay(mut self, d: Duration) -> Page {
        self.delay = Some(d);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Page {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// What the fixture saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    pages: HashMap<String, Vec<Page>>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
pub struct Fixture {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new().fallback(serve).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fixture { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Serves `page` at `path` from now on.
    pub fn set(&self, path: &str, page: Page) {
        self.inner.lock().unwrap().pages.insert(path.into(), vec![page]);
    }

    /// Serves these pages in turn for the next requests, the last one from then on.
    pub fn sequence(&self, path: &str, pages: Vec<Page>) {
        let mut pages = pages;
        pages.reverse();
        self.inner.lock().unwrap().pages.insert(path.into(), pages);
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn serve(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let page = {
        let mut g = inner.lock().unwrap();
        match g.pages.get_mut(&path) {
            Some(stack) if stack.len() > 1 => stack.pop(),
            Some(stack) => stack.last().cloned(),
            None => None,
        }
    };
    let mut resp = match &page {
        None => Response::builder().status(404).body(Body::from("not found")).unwrap(),
        Some(p) => {
            if let Some(d) = p.delay {
                tokio::time::sleep(d).await;
            }
            let not_modified = p.etag.is_some()
                && req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == p.etag.as_deref();
            let mut b = Response::builder().status(if not_modified { 304 } else { p.status });
            if let Some(e) = &p.etag {
                b = b.header(header::ETAG, e);
            }
            b = b.header(header::CONTENT_TYPE, &p.content_type);
            for (k, v) in &p.headers {
                b = b.header(k, HeaderValue::from_str(v).unwrap());
            }
            b.body(if not_modified {
                Body::empty()
            } else {
                Body::from(p.body.clone())
            })
            .unwrap()
        }
    };
    if resp.status() == StatusCode::NOT_FOUND && page.is_none() {
        *resp.status_mut() = StatusCode::NOT_FOUND;
    }
    inner.lock().unwrap().seen.push(Seen {
        path,
        headers: req.headers().clone(),
        status: resp.status().as_u16(),
    });
    resp
}

/// A raw TCP server that answers every connection with `response` and closes: for responses no
/// well-behaved HTTP server would send (a body shorter than its Content-Length).
pub async fn raw_server(response: &'static [u8]) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}
