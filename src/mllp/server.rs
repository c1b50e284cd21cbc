//! An MLLP listener: accepts connections (TCP or TLS), reads frames, hands each to a
//! [`FrameHandler`] and writes its reply, in order, on the same connection.
//!
//! Written in the mini-redis manner:
//! - the number of open connections is bounded by a semaphore taken *before* `accept`, so a
//!   flood of clients waits in the kernel's backlog instead of exhausting memory or files;
//! - each connection is its own task, so one bad frame or one slow sender affects only that
//!   connection: an oversize or malformed frame closes it, a sender that goes quiet is closed
//!   after the idle timeout, and one that starts a frame and never finishes it after the read
//!   timeout;
//! - frames of one connection are handled one after another, so replies go back in the order
//!   the messages came (senders that pipeline rely on that);
//! - shutdown is a `CancellationToken`: the accept loop stops at once, and each connection stops
//!   reading after the frame it is handling has been answered.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::codec::MllpCodec;

/// What a listener needs besides its socket.
#[derive(Clone)]
pub struct ListenerSettings {
    /// TLS; `None` for plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Connections served at once; more wait in the backlog.
    pub max_connections: usize,
    /// Largest frame payload accepted; a larger one closes the connection.
    pub max_message_bytes: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A frame that was started must be complete within this long.
    pub read_timeout: Duration,
}

/// Receives each frame; returns the reply to write back, or `None` for no reply (enhanced mode
/// with MSH-15 = NE, for instance).
pub trait FrameHandler: Send + Sync + 'static {
    /// Handles one frame from `peer`.
    fn handle(&self, frame: Bytes, peer: SocketAddr) -> impl Future<Output = Option<Bytes>> + Send;

    /// Called when a connection is closed because of a framing problem or a timeout, so the
    /// owner can count it. `reason` is a short sentence without message content.
    fn connection_problem(&self, _peer: SocketAddr, _reason: &str) {}

    /// Called when a connection opens (`true`) or closes (`false`), for gauges.
    fn connection_changed(&self, _peer: SocketAddr, _open: bool) {}
}

/// Serves `listener` until `shutdown` is cancelled; returns after every connection has finished.
pub async fn serve<H: FrameHandler>(
    listener: TcpListener,
    settings: ListenerSettings,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let acceptor = settings.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let settings = settings.clone();
        let shutdown = shutdown.clone();
        let acceptor = acceptor.clone();
        tracker.spawn(async move {
            handler.connection_changed(peer, true);
            match acceptor {
                None => connection(stream, peer, &settings, &*handler, &shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(settings.read_timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => connection(tls, peer, &settings, &*handler, &shutdown).await,
                        Ok(Err(error)) => handler
                            .connection_problem(peer, &format!("TLS handshake failed: {error}")),
                        Err(_) => handler.connection_problem(peer, "TLS handshake timed out"),
                    }
                }
            }
            handler.connection_changed(peer, false);
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}

/// One connection: read a frame, answer it, repeat, until the peer leaves, a limit is hit or
/// shutdown is asked.
async fn connection<S, H>(
    stream: S,
    peer: SocketAddr,
    settings: &ListenerSettings,
    handler: &H,
    shutdown: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    H: FrameHandler,
{
    let mut framed = Framed::new(
        stream,
        MllpCodec::with_max_frame_bytes(settings.max_message_bytes),
    );
    // Wake up at least this often to check the two timeouts against the clock.
    let tick = settings
        .read_timeout
        .min(settings.idle_timeout)
        .max(Duration::from_millis(10));
    let mut last_activity = Instant::now();
    let mut partial_since: Option<Instant> = None;
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = tokio::time::timeout(tick, framed.next()) => next,
        };
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return,
            Ok(Some(Err(error))) => {
                handler.connection_problem(peer, &error.to_string());
                return;
            }
            Err(_) => {
                let now = Instant::now();
                if framed.read_buffer().is_empty() {
                    partial_since = None;
                    if now.duration_since(last_activity) >= settings.idle_timeout {
                        handler.connection_problem(peer, "idle timeout");
                        return;
                    }
                } else {
                    let since = *partial_since.get_or_insert(now);
                    if now.duration_since(since) >= settings.read_timeout {
                        handler.connection_problem(
                            peer,
                            "read timeout: a frame was started and not finished",
                        );
                        return;
                    }
                }
                continue;
            }
        };
        partial_since = None;
        if let Some(reply) = handler.handle(frame, peer).await
            && let Err(error) = framed.send(reply).await
        {
            handler.connection_problem(peer, &format!("cannot write the reply: {error}"));
            return;
        }
        last_activity = Instant::now();
    }
}
