//! Listener and connections: accepts under a connection limit, serves HTTP/1.1 and h2c on the
//! same port, and drains gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_layer::Layer;

use crate::forward::Forward;
use crate::h1;
use crate::layers::access_log::{AccessLog, AccessLogLayer};
use crate::layers::error_body::{ErrorBody, ErrorBodyLayer};
use crate::layers::header_policy::{HeaderPolicyLayer, HeaderPolicyService};
use crate::layers::policy_lines::DeferredLines;
use crate::layers::request_filter::{ConnInfo, RequestFilter, RequestFilterLayer};
use crate::layers::rescue::{Rescue, RescueLayer};
use crate::layers::route_metrics::{RouteMetrics, RouteMetricsLayer};
use crate::metrics::OpenConnection;
use crate::state::Shared;
use crate::tls;

/// The per-request stack, outermost first. See docs/pipeline.md.
pub type Stack =
    RequestFilter<RouteMetrics<AccessLog<HeaderPolicyService<ErrorBody<Rescue<Forward>>>>>>;

/// `lines`: the fast path writes the policy's header lines itself (see `layers::policy_lines`).
fn stack(shared: &Arc<Shared>, conn: ConnInfo, lines: Arc<DeferredLines>) -> Stack {
    let default_policy = shared.snapshot().config.default_policy.clone();
    let header_counts = shared.metrics().headers().clone();
    // Picks route + policy from one config snapshot; everything below relies on it.
    RequestFilterLayer::new(shared.clone(), conn).layer(
        // Outermost after routing: counts the status the client got, by route.
        RouteMetricsLayer.layer(
            // Outside the policy so the logged status is what the client got.
            AccessLogLayer.layer(
                // Outside rescue so proxy-made errors are hardened too.
                HeaderPolicyLayer::new(default_policy)
                    .recording(header_counts)
                    .deferring_to(lines)
                    .layer(
                        // Body filter: replaces leaky upstream error bodies before anything is sent.
                        ErrorBodyLayer.layer(
                            // Turns every failure into a generic response; nothing below answers a client.
                            RescueLayer.layer(Forward),
                        ),
                    ),
            ),
        ),
    )
}

/// A running proxy listener.
pub struct ProxyHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl ProxyHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, lets in-flight requests finish (up to the drain timeout), then returns.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Resolves when the listener has stopped (after a shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Asks for a graceful shutdown without waiting for it.
    pub fn trigger_shutdown(&self) {
        self.shutdown.cancel();
    }
}

/// Binds the configured listen address and starts serving.
pub async fn start(shared: Arc<Shared>) -> std::io::Result<ProxyHandle> {
    let addr = shared.snapshot().config.server.listen;
    let listener = TcpListener::bind(addr).await?;
    Ok(serve(shared, listener))
}

/// Serves on an already-bound listener.
pub fn serve(shared: Arc<Shared>, listener: TcpListener) -> ProxyHandle {
    serve_with(shared, listener, None)
}

/// Serves on an already-bound listener; with `tls`, every connection is TLS first.
pub fn serve_with(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
) -> ProxyHandle {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| shared.snapshot().config.server.listen);
    let token = CancellationToken::new();
    let task = tokio::spawn(accept_loop(listener, shared.clone(), token.clone(), tls));
    ProxyHandle {
        addr,
        shared,
        shutdown: token,
        task,
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tls: Option<TlsAcceptor>,
) {
    let max = shared
        .snapshot()
        .config
        .server
        .limits
        .max_connections
        .min(u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning on a failing accept.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // The service and limits are made here, so the connection's task holds them once
        // instead of also keeping what they were made from.
        let lines = DeferredLines::new();
        let service = stack(
            &shared,
            ConnInfo {
                peer,
                tls: tls.is_some(),
            },
            lines.clone(),
        );
        let settings = h1_settings(&shared);
        let open = shared.metrics().connection_opened();
        match &tls {
            None => tokio::spawn(connection(
                stream,
                permit,
                open,
                (service, lines),
                settings,
                shutdown.clone(),
            )),
            Some(acceptor) => tokio::spawn(tls_connection(
                stream,
                permit,
                open,
                (service, lines),
                settings,
                shutdown.clone(),
                acceptor.clone(),
            )),
        };
    }
    drop(listener);
    let drain = shared.snapshot().config.server.timeouts.drain;
    tracing::info!(drain = ?drain, "listener closed; draining connections");
    // Every connection holds a permit until it ends: getting them all back means drained.
    if tokio::time::timeout(drain, slots.acquire_many(max as u32))
        .await
        .is_err()
    {
        tracing::warn!("drain timeout reached; closing the remaining connections");
    }
}

/// A plain-TCP connection: HTTP/1.1 on the fast path (hyper takes over at the first request
/// the fast path hands over), or h2c through hyper when the first bytes are HTTP/2's preface.
///
/// The fast path borrows the stream, the service and the settings from this future instead of
/// owning them, and boxes each request's state for the request's duration, so an idle
/// keep-alive connection costs one allocation (this task) of about what the wait for its next
/// request needs. TLS connections have a task of their own ([`tls_connection`]).
///
/// Not an `async fn`, for the reason given at [`h1::serve`]: its arguments would be stored twice.
// `async fn` would be simpler, and larger by its arguments (above).
#[allow(clippy::manual_async_fn)]
fn connection(
    mut stream: TcpStream,
    permit: OwnedSemaphorePermit,
    open: OpenConnection,
    (mut service, lines): (Stack, Arc<DeferredLines>),
    settings: h1::Settings,
    shutdown: CancellationToken,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let _ = stream.set_nodelay(true);
        let fast = h1::serve(
            &mut stream,
            &mut service,
            &settings,
            &shutdown,
            true,
            Some(&lines),
        );
        let rest = match fast.await {
            h1::Outcome::Done => None,
            h1::Outcome::Handover(read) => Some(Hyper::Http1(h1::Rewind::new(read, stream))),
            h1::Outcome::Http2(read) => Some(Hyper::Http2(h1::Rewind::new(read, stream))),
        };
        if let Some(stream) = rest {
            Box::pin(hyper_serve(stream, service, &settings, shutdown)).await;
        }
        // Held to the end (and named here so that the block captures them): the connection
        // counts against the limit, and as open in the metrics, until it closes.
        drop((permit, open));
    }
}

/// A TLS connection: the handshake runs here, in the connection's own task, so a slow client
/// never holds up the accept loop; ALPN (not the preface) decides the protocol.
async fn tls_connection(
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _open: OpenConnection,
    (mut service, lines): (Stack, Arc<DeferredLines>),
    settings: h1::Settings,
    shutdown: CancellationToken,
    acceptor: TlsAcceptor,
) {
    let _ = stream.set_nodelay(true);
    let Some((mut stream, negotiated)) =
        Box::pin(tls::handshake(&acceptor, stream, settings.header_timeout)).await
    else {
        return;
    };
    drop(acceptor);
    let stream = match negotiated {
        tls::Negotiated::H2 => Hyper::Http2(h1::Rewind::new(BytesMut::new(), stream)),
        tls::Negotiated::Http1 => {
            let fast = h1::serve(
                &mut stream,
                &mut service,
                &settings,
                &shutdown,
                false,
                Some(&lines),
            );
            match fast.await {
                h1::Outcome::Done => return,
                h1::Outcome::Handover(read) => Hyper::Http1(h1::Rewind::new(read, stream)),
                h1::Outcome::Http2(read) => Hyper::Http2(h1::Rewind::new(read, stream)),
            }
        }
    };
    Box::pin(hyper_serve(stream, service, &settings, shutdown)).await;
}

/// The fast path's limits, from the current configuration.
fn h1_settings(shared: &Shared) -> h1::Settings {
    let runtime = shared.snapshot();
    let server = &runtime.config.server;
    h1::Settings {
        header_timeout: server.timeouts.client_header,
        idle_timeout: server.timeouts.idle,
        max_head: server.limits.max_request_header_bytes,
    }
}

/// What hyper serves: an HTTP/1.1 or HTTP/2 connection, with the bytes the fast path had read.
enum Hyper<T> {
    Http1(h1::Rewind<T>),
    Http2(h1::Rewind<T>),
}

/// Serves the rest of a connection with hyper (boxed by the callers: hyper's connection state is
/// large, and only handed-over and HTTP/2 connections need it).
async fn hyper_serve<T>(
    stream: Hyper<T>,
    service: Stack,
    settings: &h1::Settings,
    shutdown: CancellationToken,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = HyperService(service);
    match stream {
        Hyper::Http1(rewind) => {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(settings.header_timeout)
                .max_buf_size(settings.max_head.max(8192))
                .serve_connection(TokioIo::new(rewind), service)
                .with_upgrades();
            drive(conn, shutdown, |c| c.graceful_shutdown()).await;
        }
        Hyper::Http2(stream) => {
            let conn = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_header_list_size(u32::try_from(settings.max_head).unwrap_or(u32::MAX))
                .keep_alive_interval(Some(settings.idle_timeout))
                .serve_connection(TokioIo::new(stream), service);
            drive(conn, shutdown, |c| c.graceful_shutdown()).await;
        }
    }
}

/// Runs a connection to completion; on shutdown, asks it to finish in-flight requests and close.
async fn drive<C, E>(
    conn: C,
    shutdown: CancellationToken,
    graceful: impl FnOnce(std::pin::Pin<&mut C>),
) where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut conn = pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = shutdown.cancelled() => {
            graceful(conn.as_mut());
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Bridges the tower stack to hyper's `&self` service trait. Every layer of the stack is always
/// ready (none applies backpressure), so readiness is not polled; a clone per request is a few
/// reference-count increments.
#[derive(Clone)]
struct HyperService<S>(S);

impl<S, B> hyper::service::Service<http::Request<B>> for HyperService<S>
where
    S: tower_service::Service<http::Request<B>> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: http::Request<B>) -> Self::Future {
        self.0.clone().call(req)
    }
}
