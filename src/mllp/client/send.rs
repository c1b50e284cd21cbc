//! [`MllpClient::send`]: one frame out, one reply frame back, within a timeout, and the rule
//! that any failure which may leave a reply in flight makes the connection unusable.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};

use super::{ClientError, MllpClient};
use crate::mllp::codec::CodecError;

impl MllpClient {
    /// Sends `payload` as one frame and returns the payload of the reply frame. `timeout`
    /// covers both the write (a peer that stops reading blocks it) and the wait for the reply.
    pub async fn send(&mut self, payload: &[u8], timeout: Duration) -> Result<Bytes, ClientError> {
        if self.unusable {
            return Err(ClientError::Unusable {
                addr: self.addr.clone(),
            });
        }
        let Self { addr, framed, .. } = self;
        let exchange = async {
            // `send` is feed + flush: the frame is on the wire when it returns.
            framed
                .send(payload)
                .await
                .map_err(|source| ClientError::Write {
                    addr: addr.clone(),
                    source,
                })?;
            match framed.next().await {
                Some(Ok(reply)) => Ok(reply),
                // TLS reports a peer that closed without close_notify as UnexpectedEof; to the
                // user that is the same as a plain close.
                Some(Err(CodecError::Io(e))) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    Err(ClientError::Closed { addr: addr.clone() })
                }
                Some(Err(source)) => Err(ClientError::Read {
                    addr: addr.clone(),
                    source,
                }),
                None => Err(ClientError::Closed { addr: addr.clone() }),
            }
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                addr: self.addr.clone(),
                timeout,
            }),
        };
        // Only a payload the codec refused leaves the stream untouched (nothing was written);
        // every other failure may leave a reply in flight or half a frame on the wire.
        self.unusable = !matches!(
            result,
            Ok(_)
                | Err(ClientError::Write {
                    source: CodecError::EndBlockInPayload { .. },
                    ..
                })
        );
        result
    }
}
