//! The accept loop: every connection bounded in number and in time, whatever its client does.
//!
//! `axum::serve` sets no header timeout and no connection cap, so 500 clients that each trickle one
//! header byte every few seconds (slowloris) hold 500 connections and file descriptors for as long
//! as they like. Here each connection is served by hyper's HTTP/1 builder with a header read timeout
//! and a head size limit, its socket wrapped in [`GuardedStream`] (idle keep-alive and send
//! timeouts), and a semaphore caps the connections: one past the cap is answered 503 at once rather
//! than queued behind connections that may take seconds to free their slot.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};

use super::state::ConnectionLimits;

/// Refusals (503 past the cap) lingering at once; past this many, an extra connection gets the 503
/// without the linger (a client still sending may then see a reset instead).
const MAX_REFUSALS: usize = 64;

/// How long a refused connection lingers for the client's request to arrive, so that closing it sends
/// a FIN after the 503, not a reset that makes the client drop the 503 unread.
const REFUSAL_LINGER: Duration = Duration::from_millis(250);

/// The whole answer to a connection past the cap.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
    retry-after: 1\r\nconnection: close\r\ncontent-length: 35\r\n\r\ntoo many connections; retry shortly\n";

/// Serve `router` on `listener` within `limits` until `shutdown` completes; then stop accepting, let
/// every open connection finish its request in flight (each is bounded by the timeouts) and return.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(slots as usize));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let builder = http1_builder(&limits);
    let (stopping, stop) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                let connection = serve_connection(
                    stream,
                    builder.clone(),
                    router.clone(),
                    limits,
                    stop.clone(),
                    permit,
                );
                tokio::spawn(connection);
            }
            Err(_) => match Arc::clone(&refusals).try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(refuse(stream, permit));
                }
                // A fresh socket's send buffer is empty: the short answer fits without waiting.
                Err(_) => {
                    let _ = stream.try_write(REFUSAL);
                }
            },
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds a permit until it ends: all of them back means all finished.
    let _ = permits.acquire_many(slots).await;
    Ok(())
}

fn http1_builder(limits: &ConnectionLimits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    builder
}

/// hyper's smallest read buffer: a head limit below it cannot be set.
pub const MIN_HEADER_BYTES: usize = 8192;

/// An accept error: a connection reset before it was accepted is the client's business; running out
/// of file descriptors (or memory) is ours, and retrying at once would spin, so wait a little.
async fn accept_failed(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn serve_connection(
    stream: TcpStream,
    builder: http1::Builder,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(GuardedStream::new(stream, &limits));
    let connection = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(connection);
    let stopping = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        // A client that times out, resets or sends garbage is routine, not an error of ours.
        tracing::debug!(%error, "connection closed");
    }
}

/// Answer a connection past the cap with a 503, then close it. What the client sent meanwhile is read
/// and dropped (for [`REFUSAL_LINGER`] at most) before closing.
async fn refuse(mut stream: TcpStream, _permit: OwnedSemaphorePermit) {
    let _ = tokio::time::timeout(REFUSAL_LINGER, async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), io::Error>(())
    })
    .await;
}

/// A client socket that closes itself when the client stalls where hyper has no timeout of its own:
/// after an answer, waiting for a next request (idle keep-alive), and while an answer waits for the
/// client to read it (send timeout).
pub struct GuardedStream {
    stream: TcpStream,
    idle_timeout: Duration,
    send_timeout: Duration,
    /// Waiting for the next request since this instant: set when the connection opens and when an
    /// answer is flushed, cleared by the first byte read.
    idle_since: Option<Instant>,
    /// Armed once per connection and re-armed only when it fires early, so that a kept-alive request
    /// costs no timer registration of ours (one per request showed in wrk's requests per second).
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// Bytes written since the last flush: hyper flushes on every turn of its loop, written or not,
    /// so only a flush after writes marks an answer sent.
    unflushed: bool,
    /// Set when a write first blocks, cleared when the answer is flushed: the answer's deadline.
    send_timer: Option<Pin<Box<Sleep>>>,
}

impl GuardedStream {
    fn new(stream: TcpStream, limits: &ConnectionLimits) -> GuardedStream {
        GuardedStream {
            stream,
            idle_timeout: limits.idle_timeout,
            send_timeout: limits.send_timeout,
            idle_since: Some(Instant::now()),
            idle_timer: None,
            unflushed: false,
            send_timer: None,
        }
    }
}

impl GuardedStream {
    /// Whether the connection has waited for a request longer than the idle timeout; registers `cx`
    /// for the deadline otherwise. The timer may have been armed for an earlier wait: when it fires
    /// before the current deadline it is re-armed, never late.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(since) = self.idle_since else {
            return false;
        };
        let deadline = since + self.idle_timeout;
        let timer = self
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        while timer.as_mut().poll(cx).is_ready() {
            if Instant::now() >= deadline {
                return true;
            }
            timer.as_mut().reset(deadline);
        }
        false
    }

    /// Note a write's progress; a write that cannot proceed stays pending until the answer's send
    /// deadline, then fails.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match result {
            Poll::Ready(Ok(written)) => {
                self.unflushed |= written > 0;
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let deadline = Instant::now() + self.send_timeout;
                let timer = self
                    .send_timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    Poll::Ready(Err(timed_out("the client does not read the answer")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_string())
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.idle_since = None;
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.idle_expired(cx) => {
                Poll::Ready(Err(timed_out("idle keep-alive connection")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, data);
        this.after_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, data);
        this.after_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        // hyper flushes once all it has is written: nothing waits for the client any more and, after
        // an answer, the next wait is for a new request.
        this.send_timer = None;
        if std::mem::take(&mut this.unflushed) {
            this.idle_since = Some(Instant::now());
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
