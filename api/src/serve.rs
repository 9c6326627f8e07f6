//! The accept loop: HTTP/1.1 over hyper with bounds on what one connection can hold
//! (issue 10). It replaces `axum::serve`, which has no connection cap, no idle timeout and
//! no header-read timeout, and which closes a connection whose request body was left
//! unread while the body is still arriving, so the kernel answers the rest with a reset
//! that can destroy the response before the client reads it.
//!
//! - **Connection cap** ([`ConnectionSettings::max_connections`]): a semaphore permit per
//!   open connection. At the cap the loop *stops accepting* until a connection ends: new
//!   clients wait in the kernel's listen backlog (their connect succeeds, their request is
//!   answered once a slot frees; beyond the backlog the kernel drops SYNs and clients
//!   retry). Chosen over "accept and answer 503": answering costs an accept, a task and a
//!   write per excess connection, i.e. unbounded work at exactly the moment the server is
//!   flooded, while every held slot is itself bounded in time by the timeouts below (the
//!   same choice as Go's `netutil.LimitListener`).
//! - **Header read timeout** and **idle keep-alive timeout**: [`ConnIo`] closes a
//!   connection that has not sent a complete request head within
//!   `header_read_timeout` of being accepted (or of its first byte after an idle period),
//!   or that stays idle longer than `keep_alive` between requests. hyper's own
//!   `header_read_timeout` is not used: hyper starts that timer as soon as it waits for a
//!   request head, i.e. right after the previous response (hyper 1.x
//!   `proto::h1::conn::poll_read_head`), so it bounds idle time and header time together
//!   and cannot give a keep-alive period longer than the header timeout.
//! - **Linger-close**: when hyper ends a connection it shuts the write side down through
//!   [`ConnIo::poll_shutdown`], which then reads and discards what the client still sends
//!   (at most [`LINGER_MAX_BYTES`] for at most [`LINGER_TIME`]) until the client closes,
//!   and only then lets the socket close. A response sent with the request body unread
//!   (413, 408, 415 …) therefore reaches the client instead of being overtaken by a reset.
//! - **Graceful shutdown** (`hyper_util::server::graceful`): on the signal the loop stops
//!   accepting, each connection finishes its request in flight and closes, and `serve`
//!   returns when the last one is gone. A connection that has not sent a request yet is
//!   not idle for hyper; it ends at its header read timeout.
//!
//! HTTP/2 is not offered: the API is called by browsers and scripts over HTTP/1.1 (behind
//! an Ingress that speaks HTTP/2 to clients when wanted), and the embedded build of
//! `axum::serve` did not offer it either.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use futures::task::AtomicWaker;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::limits::connections::ConnectionSettings;
use crate::metrics::Metrics;

/// Most bytes read and discarded from a client after its connection's last response.
pub const LINGER_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Longest wait for a client to close after its connection's last response.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` resolves, then lets the open connections
/// finish their request in flight and returns when they are all closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ConnectionSettings,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let timeouts = Timeouts {
        header: settings.header_read_timeout(),
        keep_alive: settings.keep_alive(),
    };
    let permits = Arc::new(Semaphore::new(
        settings.max_connections().min(Semaphore::MAX_PERMITS),
    ));
    let mut http = http1::Builder::new();
    // Explicitly off (it is inactive without a timer anyway): ConnIo does it, see above.
    http.header_read_timeout(None);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // At the cap, wait for a connection to end before accepting another one.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // the semaphore is never closed
            },
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Responses go out as soon as they are written: with Nagle's algorithm a
        // response written in two parts waits for the client's delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let open = OpenConnection::start(&metrics);
        let shared = Arc::new(Requests::default());
        let io = TokioIo::new(ConnIo::new(tcp, timeouts, shared.clone()));
        let service = ConnService {
            router: router.clone(),
            peer,
            requests: shared,
        };
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
            }
            drop(open);
            drop(permit);
        });
    }
    // Closing the listener refuses new connections while the open ones finish.
    drop(listener);
    graceful.shutdown().await;
}

/// Errors of `accept`: a connection that failed before it was accepted is skipped; any
/// other error (out of file descriptors, …) is logged and retried after a pause instead of
/// spinning.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Counts a connection in the `http_connections_open` gauge while it lives.
struct OpenConnection(prometheus::IntGauge);

impl OpenConnection {
    fn start(metrics: &Metrics) -> Self {
        metrics.http_connections.inc();
        metrics.http_connections_open.inc();
        OpenConnection(metrics.http_connections_open.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The two connection timeouts [`ConnIo`] enforces.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    keep_alive: Duration,
}

impl Timeouts {
    /// How far ahead the alarm of [`ConnIo`] is armed at most.
    fn shortest(&self) -> Duration {
        self.header.min(self.keep_alive)
    }
}

/// Requests of one connection being handled now (the service call and its response
/// body), shared by [`ConnService`] and [`ConnIo`]: while one is, the connection is not
/// idle and not reading a head. When the last one ends, the connection's task is woken so
/// that [`ConnIo`] starts the idle timer even if hyper has no other reason to read.
#[derive(Debug, Default)]
struct Requests {
    handling: AtomicUsize,
    reader: AtomicWaker,
}

impl Requests {
    fn busy(&self) -> bool {
        self.handling.load(Ordering::Acquire) > 0
    }
}

/// Holds a request as "being handled" until it is dropped with the response body.
struct Handling(Arc<Requests>);

impl Handling {
    fn start(requests: &Arc<Requests>) -> Self {
        requests.handling.fetch_add(1, Ordering::AcqRel);
        Handling(requests.clone())
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        if self.0.handling.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.reader.wake();
        }
    }
}

/// The hyper service of one connection: the router, with the peer address as
/// `ConnectInfo<SocketAddr>` (the rate limits key on it, see `limits::client_addr`).
#[derive(Clone)]
struct ConnService {
    router: Router,
    peer: SocketAddr,
    requests: Arc<Requests>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let handling = Handling::start(&self.requests);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.router.clone();
        Box::pin(async move {
            let resp = match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            Ok(resp.map(|body| TrackedBody {
                inner: body,
                _handling: handling,
            }))
        })
    }
}

/// A response body that keeps its request counted as being handled until hyper has
/// written it (a long download is not an idle connection).
struct TrackedBody {
    inner: axum::body::Body,
    _handling: Handling,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the connection is waiting for, as far as its timeouts are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request head: it must be complete before the deadline.
    Head,
    /// Nothing, between two requests: the first byte must come before the deadline.
    Idle,
    /// A request is being handled; the body read timeout and the request timeout apply.
    Busy,
}

/// Draining after the write side is shut down.
struct Linger {
    left: usize,
    until: Pin<Box<Sleep>>,
}

/// The TCP stream of one connection, with its header and idle timeouts (an expired one
/// makes the next read fail with `TimedOut`, which ends the connection) and the
/// linger-close in `poll_shutdown`. Hand-written because these states are between hyper's
/// requests, which no tower layer sees.
struct ConnIo {
    tcp: TcpStream,
    requests: Arc<Requests>,
    timeouts: Timeouts,
    phase: Phase,
    /// When the current phase's timeout expires (meaningless while `Busy`).
    deadline: Instant,
    /// Wakes the connection at or before `deadline`. It is re-armed only when it fires,
    /// never on a phase change: resetting a registered tokio timer takes the timer
    /// wheel's lock, and a keep-alive request changes phase three times (the cost is in
    /// `bench/abuse.sh`'s throughput rows). It is armed at most `Timeouts::shortest`
    /// ahead, so it never fires later than any deadline set after it was armed.
    alarm: Pin<Box<Sleep>>,
    linger: Option<Linger>,
}

impl ConnIo {
    fn new(tcp: TcpStream, timeouts: Timeouts, requests: Arc<Requests>) -> Self {
        ConnIo {
            tcp,
            requests,
            timeouts,
            phase: Phase::Head,
            deadline: Instant::now() + timeouts.header,
            alarm: Box::pin(tokio::time::sleep(timeouts.shortest())),
            linger: None,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let limit = match phase {
            Phase::Head => self.timeouts.header,
            Phase::Idle => self.timeouts.keep_alive,
            Phase::Busy => return,
        };
        self.deadline = Instant::now() + limit;
    }

    /// Whether the deadline of the phase (`Head` or `Idle`) has passed; when the alarm
    /// fired early, re-arms it (registering `cx` to be woken) for the deadline or
    /// `Timeouts::shortest` from now, whichever is first.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.alarm.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if now >= self.deadline {
                return true;
            }
            let next = self.deadline.min(now + self.timeouts.shortest());
            self.alarm.as_mut().reset(next);
        }
        false
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Registered before the check, so the end of a request cannot be missed.
        this.requests.reader.register(cx.waker());
        let busy = this.requests.busy();
        match (this.phase, busy) {
            (Phase::Busy, true) | (Phase::Head | Phase::Idle, false) => {}
            (_, true) => this.enter(Phase::Busy),
            (Phase::Busy, false) => this.enter(Phase::Idle),
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.phase == Phase::Idle && buf.filled().len() > before {
                    this.enter(Phase::Head);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if this.phase != Phase::Busy && this.expired(cx) {
                    let what = match this.phase {
                        Phase::Idle => "idle keep-alive timeout",
                        _ => "request head read timeout",
                    };
                    tracing::debug!(reason = what, "closing connection");
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    /// Shuts the write side down (the client reads the end of the response), then reads
    /// and discards until the client closes or the linger bounds are reached: closing a
    /// socket with unread bytes makes the kernel send a reset, which can destroy the
    /// response in the client's receive buffer.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            let Some(linger) = &mut this.linger else {
                // The client may already be gone; draining then ends at once.
                let _ = std::task::ready!(Pin::new(&mut this.tcp).poll_shutdown(cx));
                this.linger = Some(Linger {
                    left: LINGER_MAX_BYTES,
                    until: Box::pin(tokio::time::sleep(LINGER_TIME)),
                });
                continue;
            };
            if linger.until.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut scratch = [0u8; 16 * 1024];
            let mut discard = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.tcp).poll_read(cx, &mut discard) {
                Poll::Ready(Ok(())) if !discard.filled().is_empty() => {
                    linger.left = linger.left.saturating_sub(discard.filled().len());
                    if linger.left == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                // End of stream or an error: the client is done with the connection.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
