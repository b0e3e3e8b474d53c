//! `rampart-proxy --demo`: a deliberately leaky origin with the proxy in front, to see the
//! difference with curl.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rampart_config::{Config, Overrides};
use tokio::net::TcpListener;

use crate::server::{self, ProxyHandle};
use crate::state::{ReloadError, Shared};

/// What a typical unhardened stack sends.
fn leaky(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body, ctype) = match req.uri().path() {
        "/admin" => (
            StatusCode::FORBIDDEN,
            r#"{"Message":"User: arn:aws:iam::123456789012:role/app-runtime is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/admin"}"#,
            "application/json",
        ),
        "/crash" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Traceback (most recent call last):\n  File \"/var/www/app/views.py\", line 42, in index\npsycopg2.errors.UndefinedTable: relation \"users\" does not exist\n",
            "text/plain",
        ),
        _ => (
            StatusCode::OK,
            "<!doctype html><title>demo</title><p>Hello from the leaky origin.</p>\n",
            "text/html",
        ),
    };
    let mut res = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert("content-type", http::HeaderValue::from_static(ctype));
    h.insert(
        "server",
        http::HeaderValue::from_static("nginx/1.18.0 (Ubuntu)"),
    );
    h.insert("x-powered-by", http::HeaderValue::from_static("PHP/7.4.3"));
    h.insert(
        "x-aspnet-version",
        http::HeaderValue::from_static("4.0.30319"),
    );
    h.insert(
        "x-amzn-requestid",
        http::HeaderValue::from_static("6f1c2b7a-0d4e-4b8e-9a51-3c2f1e0d9b8a"),
    );
    if status == StatusCode::FORBIDDEN {
        h.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static("AccessDeniedException"),
        );
    }
    res
}

pub struct Demo {
    pub origin: std::net::SocketAddr,
    pub proxy: ProxyHandle,
}

/// Starts the leaky origin and the proxy (strict preset) on free loopback ports.
pub async fn start() -> Result<Demo, DemoError> {
    let origin_listener = TcpListener::bind("127.0.0.1:0").await?;
    let origin = origin_listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = origin_listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req| async move { Ok::<_, Infallible>(leaky(req)) });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let overrides = Overrides {
        listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        upstream: Some(format!("http://{origin}")),
        ..Overrides::default()
    };
    let config = Config::from_overrides(&overrides).map_err(ReloadError::from)?;
    let shared: Arc<Shared> = Shared::from_config(config, None, overrides)?;
    let proxy = server::start(shared).await?;
    Ok(Demo { origin, proxy })
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Setup(#[from] ReloadError),
}

/// The text printed when the demo is up.
pub fn instructions(origin: std::net::SocketAddr, proxy: std::net::SocketAddr) -> String {
    format!(
        "rampart demo\n\
         \n  leaky origin:          http://{origin}\n  through rampart-proxy: http://{proxy}  (strict preset)\n\
         \nCompare the headers (Server, X-Powered-By, x-amzn-*, the security headers):\n\
         \n  curl -si http://{origin}/\n  curl -si http://{proxy}/\n\
         \nAn API-Gateway-style 403 naming an IAM role, and a Python stack trace: replaced by generic bodies:\n\
         \n  curl -si http://{origin}/admin\n  curl -si http://{proxy}/admin\n  curl -si http://{proxy}/crash\n\
         \nHSTS is sent only on HTTPS connections (or when a trusted TLS-terminating peer says\n\
         X-Forwarded-Proto: https), so it is absent here.\n\
         \nPress Ctrl-C to stop.\n"
    )
}
