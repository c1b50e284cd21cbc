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
//! - frames of one connection are *submitted* one after another ([`FrameHandler::submit`]: the
//!   part that must happen in arrival order), but a connection that pipelines may have up to
//!   [`MAX_IN_FLIGHT`] frames waiting for their replies at once (for the engine: for the store's
//!   commit, so they share one); the replies go back in the order the frames came, whatever
//!   order they become ready in;
//! - shutdown is a `CancellationToken`: the accept loop stops at once, and each connection stops
//!   reading and answers the frames it has already submitted before it closes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::codec::{CodecError, MllpCodec};

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

/// Frames one connection may have submitted and not yet answered. Beyond it the connection
/// stops reading until the oldest is answered, so a sender cannot make it hold unbounded work.
pub const MAX_IN_FLIGHT: usize = 32;

/// The read buffer of a connection, and what one read may take at most. A pipelining sender
/// has several frames of a few KB waiting in the socket: with the codec's default of 8 KB a
/// read took about one frame, so every frame cost its own `recv` and its own wake-up.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// A submitted frame's reply, once it is ready (see [`FrameHandler::submit`]).
pub type PendingReply = Pin<Box<dyn Future<Output = Option<Bytes>> + Send>>;

/// Receives each frame; returns the reply to write back, or `None` for no reply (enhanced mode
/// with MSH-15 = NE, for instance).
pub trait FrameHandler: Send + Sync + 'static {
    /// What the handler keeps for one connection while it is open (made when it opens): the
    /// engine keeps the order its frames are stored in. `()` for nothing.
    type Connection: Default + Send + Sync;

    /// Handles one frame from `peer`.
    fn handle(&self, frame: Bytes, peer: SocketAddr) -> impl Future<Output = Option<Bytes>> + Send;

    /// Handles one frame in two steps: the returned future is awaited before the connection's
    /// next frame is submitted (so whatever it does happens in frame order), and the
    /// [`PendingReply`] it gives may be waited for together with later frames' replies. The
    /// default runs [`FrameHandler::handle`] completely in the first step.
    // Yielding a future is the point: the caller awaits it later, with the next frames'.
    #[allow(clippy::async_yields_async)]
    fn submit(&self, frame: Bytes, peer: SocketAddr) -> impl Future<Output = PendingReply> + Send {
        async move {
            let reply = self.handle(frame, peer).await;
            Box::pin(std::future::ready(reply)) as PendingReply
        }
    }

    /// Submits frames that arrived together (in one read), in order, as
    /// [`FrameHandler::submit`] would one by one. The engine stores them with one journal
    /// write. The default submits them one after another.
    // As for `submit`: the replies are futures on purpose.
    #[allow(clippy::async_yields_async)]
    fn submit_all(
        &self,
        connection: &Self::Connection,
        frames: Vec<Bytes>,
        peer: SocketAddr,
    ) -> impl Future<Output = Vec<PendingReply>> + Send {
        let _ = connection;
        async move {
            let mut replies = Vec::with_capacity(frames.len());
            for frame in frames {
                replies.push(self.submit(frame, peer).await);
            }
            replies
        }
    }

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

/// One connection: read frames and submit them, and write their replies in order as they
/// become ready, until the peer leaves, a limit is hit or shutdown is asked. However it ends, the
/// frames already submitted are answered first (as far as the peer still reads).
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
    let mut framed = Framed::with_capacity(
        stream,
        MllpCodec::with_max_frame_bytes(settings.max_message_bytes),
        READ_BUFFER_BYTES,
    );
    let mut waiting: FuturesOrdered<PendingReply> = FuturesOrdered::new();
    let problem =
        read_and_answer(&mut framed, &mut waiting, peer, settings, handler, shutdown).await;
    while let Some(reply) = waiting.next().await {
        if let Some(reply) = reply
            && let Err(error) = framed.send(reply).await
        {
            handler.connection_problem(peer, &format!("cannot write the reply: {error}"));
            return;
        }
    }
    if let Some(problem) = problem {
        handler.connection_problem(peer, &problem);
    }
}

/// Writes `first` and every other reply that is ready already, then flushes once: a group
/// commit answers many frames of a pipelining sender at the same moment, and one write for
/// all of them costs far less than one each.
async fn write_ready_replies<S>(
    framed: &mut Framed<S, MllpCodec>,
    waiting: &mut FuturesOrdered<PendingReply>,
    first: Option<Bytes>,
) -> Result<(), CodecError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut next = Some(first);
    while let Some(reply) = next {
        if let Some(reply) = reply {
            framed.feed(reply).await?;
        }
        next = if waiting.is_empty() {
            None
        } else {
            waiting.next().now_or_never().flatten()
        };
    }
    SinkExt::<Bytes>::flush(framed).await
}

/// The connection's loop: returns why it stopped when that is a problem to report (after the
/// replies still waiting have been written), `None` when the peer left or shutdown was asked.
async fn read_and_answer<S, H>(
    framed: &mut Framed<S, MllpCodec>,
    waiting: &mut FuturesOrdered<PendingReply>,
    peer: SocketAddr,
    settings: &ListenerSettings,
    handler: &H,
    shutdown: &CancellationToken,
) -> Option<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: FrameHandler,
{
    // Wake up at least this often to check the two timeouts against the clock. One timer for
    // the connection's life, not one per frame read (registering and cancelling a timer took
    // the runtime's timer lock twice per message).
    let tick = settings
        .read_timeout
        .min(settings.idle_timeout)
        .max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_activity = Instant::now();
    let mut partial_since: Option<Instant> = None;
    let kept = H::Connection::default();
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return None,
            Some(reply) = waiting.next(), if !waiting.is_empty() => {
                if let Err(error) = write_ready_replies(framed, waiting, reply).await {
                    return Some(format!("cannot write the reply: {error}"));
                }
                last_activity = Instant::now();
                continue;
            }
            next = framed.next(), if waiting.len() < MAX_IN_FLIGHT => Some(next),
            // Not while too many replies are pending: the sender is waiting for them then,
            // and the frames it already sent wait unread on purpose.
            _ = ticker.tick(), if waiting.len() < MAX_IN_FLIGHT => None,
        };
        let frame = match next {
            Some(Some(Ok(frame))) => frame,
            Some(None) => return None,
            Some(Some(Err(error))) => return Some(error.to_string()),
            None => {
                let now = Instant::now();
                if framed.read_buffer().is_empty() {
                    partial_since = None;
                    // Replies still being prepared are activity: the sender waits for them.
                    if waiting.is_empty()
                        && now.duration_since(last_activity) >= settings.idle_timeout
                    {
                        return Some("idle timeout".into());
                    }
                } else {
                    let since = *partial_since.get_or_insert(now);
                    if now.duration_since(since) >= settings.read_timeout {
                        return Some("read timeout: a frame was started and not finished".into());
                    }
                }
                continue;
            }
        };
        partial_since = None;
        last_activity = Instant::now();
        // The frames that came with it (in the same read) are submitted together, and before
        // any reply is written, so their replies go out together too.
        let mut frames = vec![frame];
        let mut ended = None;
        while waiting.len() + frames.len() < MAX_IN_FLIGHT && !framed.read_buffer().is_empty() {
            match framed.next().now_or_never() {
                Some(Some(Ok(frame))) => frames.push(frame),
                Some(Some(Err(error))) => {
                    ended = Some(Some(error.to_string()));
                    break;
                }
                Some(None) => {
                    ended = Some(None);
                    break;
                }
                None => break,
            }
        }
        for reply in handler.submit_all(&kept, frames, peer).await {
            waiting.push_back(reply);
        }
        if let Some(ended) = ended {
            return ended;
        }
    }
}
