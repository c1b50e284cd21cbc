//! [`MllpDestination`]: delivers HL7 v2 to an MLLP receiver over one persistent connection and
//! judges each message by its ACK.
//!
//! Why one persistent connection: interface engines and lab systems expect a long-lived session
//! (many log every connect, some limit them), and a TCP plus TLS handshake per message would
//! cost more than the message. MLLP allows one outstanding message per connection, which
//! matches a destination that delivers in order, one message at a time.
//!
//! Why the connection is dropped after some failures: after a timeout, a late ACK may still be
//! on its way and would be read as the answer to the next message. The same goes for an ACK
//! whose MSA-2 names another message: the stream is out of step. The next send then opens a
//! fresh connection ("lazy reconnect"); pacing between attempts is the retry policy's job.

use std::time::Duration;

use crate::hl7::{AckCode, Message, Segment};
use crate::mllp::{ClientError, CodecError, MllpClient, TlsClientConfig};

use super::{Outcome, error_chain};

/// Longest receiver diagnostic (MSA-3, ERR) kept in an outcome's error text. Enough for any
/// real diagnostic; stops a chatty receiver from bloating every attempt record.
const MAX_DIAGNOSTIC_CHARS: usize = 300;

/// Settings of an MLLP destination, already validated by the channel loader.
#[derive(Debug, Clone)]
pub struct MllpSettings {
    /// The receiver, `HOST:PORT` (`[IPv6]:PORT` for IPv6 literals).
    pub endpoint: String,
    /// TLS (and the CAs to trust) when the receiver speaks MLLP over TLS.
    pub tls: Option<TlsClientConfig>,
    /// How long to wait for the ACK after sending; a receiver that answers later is treated
    /// as having failed (retry), and the connection is replaced.
    pub ack_timeout: Duration,
    /// How long TCP connect plus the TLS handshake may take.
    pub connect_timeout: Duration,
    /// Whether AR/CR ends delivery at once (ERROR without retry). When false, AR/CR is retried
    /// like AE, for receivers that answer AR to transient trouble.
    pub reject_on_ar: bool,
}

/// Settings an MLLP destination cannot be built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MllpSetupError {
    /// The endpoint is not `HOST:PORT` with a port in 1..=65535.
    #[error(
        "MLLP endpoint \"{endpoint}\" is not HOST:PORT (a host name or IP address and a port 1-65535)"
    )]
    BadEndpoint {
        /// The endpoint given.
        endpoint: String,
    },
    /// A zero timeout would fail every send.
    #[error("the MLLP {which} timeout must be greater than zero")]
    ZeroTimeout {
        /// `ack` or `connect`.
        which: &'static str,
    },
}

/// An MLLP receiver with its (lazily opened) connection. One per destination queue.
#[derive(Debug)]
pub struct MllpDestination {
    settings: MllpSettings,
    /// `None` before the first send and after any failure that may leave the stream out of
    /// step; the next send connects again.
    client: Option<MllpClient>,
}

/// How one exchange ended, before deciding whether to try once more on a fresh connection.
enum Exchange {
    /// A final outcome.
    Done(Outcome),
    /// The connection turned out to be dead: the peer closed it or reset it. On a connection
    /// that sat idle since the last message, that usually means the receiver (or a firewall)
    /// dropped it meanwhile, not that this message is a problem.
    Dead(Outcome),
}

impl MllpDestination {
    /// Checks the settings and builds the destination. No connection is opened yet: the first
    /// send opens it, so a receiver that is down at startup does not stop the channel.
    pub fn new(settings: MllpSettings) -> Result<MllpDestination, MllpSetupError> {
        if !is_host_port(&settings.endpoint) {
            return Err(MllpSetupError::BadEndpoint {
                endpoint: settings.endpoint.clone(),
            });
        }
        if settings.ack_timeout.is_zero() {
            return Err(MllpSetupError::ZeroTimeout { which: "ack" });
        }
        if settings.connect_timeout.is_zero() {
            return Err(MllpSetupError::ZeroTimeout { which: "connect" });
        }
        Ok(MllpDestination {
            settings,
            client: None,
        })
    }

    /// The receiver's `HOST:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.settings.endpoint
    }

    /// Whether a connection is currently open (it may still turn out dead on the next send).
    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// Sends one message and reads its ACK. `control_id` is the payload's MSH-10, which the
    /// ACK's MSA-2 must echo.
    ///
    /// When a connection kept from an earlier message turns out to be closed, the message is
    /// sent once more on a fresh connection right away: the receiver dropped an idle session,
    /// which says nothing about this message, and a retry delay would only add latency. The
    /// receiver may then see the message twice (if it read it before closing), which
    /// at-least-once delivery allows and MSH-10 lets it detect.
    pub async fn send(&mut self, payload: &[u8], control_id: &str) -> Outcome {
        let reused = self.client.is_some();
        match self.exchange(payload, control_id).await {
            Exchange::Done(outcome) => outcome,
            Exchange::Dead(outcome) if !reused => outcome,
            Exchange::Dead(_) => {
                tracing::debug!(
                    endpoint = %self.settings.endpoint,
                    "MLLP connection was closed while idle; reconnecting."
                );
                match self.exchange(payload, control_id).await {
                    Exchange::Done(outcome) | Exchange::Dead(outcome) => outcome,
                }
            }
        }
    }

    /// One connect-if-needed, send, read and judge.
    async fn exchange(&mut self, payload: &[u8], control_id: &str) -> Exchange {
        let client = match &mut self.client {
            Some(client) => client,
            slot @ None => {
                let connected = MllpClient::connect_timeout(
                    &self.settings.endpoint,
                    self.settings.tls.clone(),
                    self.settings.connect_timeout,
                )
                .await;
                match connected {
                    Ok(client) => slot.insert(client),
                    Err(error) => return Exchange::Done(Outcome::retry(error_chain(&error))),
                }
            }
        };
        let result = client.send(payload, self.settings.ack_timeout).await;
        match result {
            Ok(reply) => {
                let (outcome, keep) = judge_reply(&reply, control_id, self.settings.reject_on_ar);
                if !keep {
                    self.client = None;
                }
                Exchange::Done(outcome)
            }
            // Nothing was written: the payload itself can never be framed, so retrying is
            // pointless and the connection is still in step.
            Err(ClientError::Write {
                source: CodecError::EndBlockInPayload { offset },
                ..
            }) => Exchange::Done(Outcome::reject(format!(
                "the message contains the MLLP end byte 0x1C (FS) at offset {offset}; \
                 it cannot be sent over MLLP"
            ))),
            Err(error) => {
                // Every other failure may leave a reply in flight or half a frame on the
                // wire (and `MllpClient` refuses further sends anyway).
                self.client = None;
                let dead = is_dead_connection(&error);
                let outcome = Outcome::retry(error_chain(&error));
                if dead {
                    Exchange::Dead(outcome)
                } else {
                    Exchange::Done(outcome)
                }
            }
        }
    }
}

/// True for failures that mean the peer had already closed or reset the connection: worth one
/// immediate try on a fresh connection. A timeout is not one of them: the receiver may be busy
/// with this very message, and sending it again at once would only add load.
fn is_dead_connection(error: &ClientError) -> bool {
    use std::io::ErrorKind;
    match error {
        ClientError::Closed { .. } => true,
        ClientError::Write {
            source: CodecError::Io(io),
            ..
        }
        | ClientError::Read {
            source: CodecError::Io(io),
            ..
        } => matches!(
            io.kind(),
            ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// Classifies an ACK. Returns the outcome and whether the connection may be kept.
///
/// MSA-2 is checked before MSA-1: an ACK for another message says nothing about this one, and
/// it means the request/response lockstep is broken, so the connection goes too. A reply that
/// cannot be read as an ACK still arrived as one whole frame, so the stream is in step and the
/// connection stays.
pub(crate) fn judge_reply(reply: &[u8], control_id: &str, reject_on_ar: bool) -> (Outcome, bool) {
    let message = match Message::parse(reply) {
        Ok(message) => message,
        Err(error) => {
            return (
                Outcome::retry(format!("the reply is not an HL7 message: {error}")),
                true,
            );
        }
    };
    let Some(msa) = message.segment("MSA") else {
        return (
            Outcome::retry(format!(
                "the reply ({}^{}) has no MSA segment",
                message.message_type(),
                message.trigger_event()
            )),
            true,
        );
    };
    let acked = msa.field(2).text();
    if acked.trim() != control_id.trim() {
        return (
            Outcome::retry(format!(
                "the ACK is for control id \"{}\", not \"{control_id}\"; the connection is \
                 out of step and will be reopened",
                truncate(acked.trim(), 64)
            )),
            false,
        );
    }
    let code_text = msa.field(1).text();
    let Ok(code) = code_text.trim().parse::<AckCode>() else {
        return (
            Outcome::retry(format!(
                "the ACK has an unknown code \"{}\" in MSA-1",
                truncate(code_text.trim(), 8)
            )),
            true,
        );
    };
    let outcome = match code {
        AckCode::AA | AckCode::CA => Outcome::Delivered {
            response: Some(reply.to_vec()),
        },
        AckCode::AE | AckCode::CE => Outcome::retry(nak_text(code, &message, msa)),
        AckCode::AR | AckCode::CR if reject_on_ar => Outcome::reject(nak_text(code, &message, msa)),
        AckCode::AR | AckCode::CR => Outcome::retry(nak_text(code, &message, msa)),
    };
    (outcome, true)
}

/// `receiver answered AE: <why>`, the why taken from MSA-3 and the first ERR segment (v2.5+
/// ERR-3 code and text, ERR-7 diagnostic, ERR-8 user message; ERR-1 before v2.5).
fn nak_text(code: AckCode, message: &Message<'_>, msa: Segment<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut add = |text: &str| {
        let text = text.trim();
        if !text.is_empty() && !parts.iter().any(|p| p == text) {
            parts.push(text.to_owned());
        }
    };
    add(&msa.field(3).text());
    if let Some(err) = message.segment("ERR") {
        let error_code = err.field(3);
        add(&format!(
            "{} {}",
            error_code.component(1).text(),
            error_code.component(2).text()
        ));
        add(&err.field(7).text());
        add(&err.field(8).text());
        add(&err.field(1).component(4).subcomponent(2).text());
    }
    let why = if parts.is_empty() {
        "no reason given".to_owned()
    } else {
        parts.join("; ")
    };
    format!(
        "receiver answered {code}: {}",
        truncate(&why, MAX_DIAGNOSTIC_CHARS)
    )
}

/// At most `max` characters of `text`, with `…` when something was cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// `HOST:PORT` with a non-empty host and a port in 1..=65535 (`[v6]:PORT` included).
fn is_host_port(endpoint: &str) -> bool {
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return false;
    };
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner.strip_suffix(']').is_some_and(|v6| !v6.is_empty())
    } else {
        !host.is_empty() && !host.contains(':') && !host.contains(char::is_whitespace)
    };
    host_ok && port.parse::<u16>().is_ok_and(|p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(code: &str, control_id: &str, extra: &str) -> Vec<u8> {
        format!(
            "MSH|^~\\&|LAB|HOSP|IHUB|HOSP|20260101120000||ACK^R01^ACK|A1|P|2.5.1\r\
             MSA|{code}|{control_id}{extra}"
        )
        .into_bytes()
    }

    #[test]
    fn accept_codes_deliver_with_the_reply() {
        for code in ["AA", "CA"] {
            let reply = ack(code, "MSG1", "\r");
            let (outcome, keep) = judge_reply(&reply, "MSG1", true);
            assert_eq!(
                outcome,
                Outcome::Delivered {
                    response: Some(reply.clone())
                }
            );
            assert!(keep);
        }
    }

    #[test]
    fn error_codes_retry_with_the_receivers_reason() {
        let reply = ack(
            "AE",
            "MSG1",
            "|Unknown patient\rERR||PID^1^3|204^Unknown key identifier^HL70357|E||||Check MRN\r",
        );
        let (outcome, keep) = judge_reply(&reply, "MSG1", true);
        assert_eq!(
            outcome,
            Outcome::retry(
                "receiver answered AE: Unknown patient; 204 Unknown key identifier; Check MRN"
            )
        );
        assert!(keep);
        let (outcome, _) = judge_reply(&ack("CE", "MSG1", ""), "MSG1", true);
        assert_eq!(
            outcome,
            Outcome::retry("receiver answered CE: no reason given")
        );
    }

    #[test]
    fn reject_codes_follow_the_setting() {
        for code in ["AR", "CR"] {
            let reply = ack(code, "MSG1", "|Not supported");
            let (outcome, keep) = judge_reply(&reply, "MSG1", true);
            assert_eq!(
                outcome,
                Outcome::reject(format!("receiver answered {code}: Not supported"))
            );
            assert!(keep);
            let (outcome, _) = judge_reply(&reply, "MSG1", false);
            assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
        }
    }

    #[test]
    fn wrong_msa2_retries_and_drops_the_connection() {
        // Even an AA: it acknowledges some other message.
        let (outcome, keep) = judge_reply(&ack("AA", "MSG0", ""), "MSG1", true);
        assert!(!keep);
        let Outcome::Retry { error, after } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(error.contains("\"MSG0\", not \"MSG1\""), "{error}");
        assert_eq!(after, None);
    }

    #[test]
    fn garbage_and_non_acks_retry_but_keep_the_connection() {
        let (outcome, keep) = judge_reply(b"hello", "MSG1", true);
        assert!(keep);
        assert!(
            matches!(&outcome, Outcome::Retry { error, .. } if error.starts_with("the reply is not an HL7 message")),
            "{outcome:?}"
        );
        let no_msa = b"MSH|^~\\&|A|B|C|D|20260101||ADT^A01|X|P|2.5\rPID|1\r";
        let (outcome, keep) = judge_reply(no_msa, "MSG1", true);
        assert!(keep);
        assert_eq!(
            outcome,
            Outcome::retry("the reply (ADT^A01) has no MSA segment")
        );
        let (outcome, _) = judge_reply(&ack("ZZ", "MSG1", ""), "MSG1", true);
        assert_eq!(
            outcome,
            Outcome::retry("the ACK has an unknown code \"ZZ\" in MSA-1")
        );
    }

    #[test]
    fn long_diagnostics_are_cut() {
        let long = "x".repeat(1000);
        let (outcome, _) = judge_reply(&ack("AE", "MSG1", &format!("|{long}")), "MSG1", true);
        let Outcome::Retry { error, .. } = outcome else {
            panic!("{outcome:?}");
        };
        assert!(error.ends_with('…'));
        assert!(error.chars().count() < MAX_DIAGNOSTIC_CHARS + 40);
    }

    #[test]
    fn endpoints_and_timeouts_are_checked() {
        for good in ["lab.example.org:6661", "127.0.0.1:2575", "[::1]:2575"] {
            assert!(is_host_port(good), "{good}");
        }
        for bad in [
            "lab",
            "lab:",
            ":2575",
            "lab:0",
            "lab:70000",
            "::1:2575",
            "[]:1",
            "a b:1",
        ] {
            assert!(!is_host_port(bad), "{bad}");
        }
        let settings = MllpSettings {
            endpoint: "127.0.0.1:2575".into(),
            tls: None,
            ack_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reject_on_ar: true,
        };
        let dest = MllpDestination::new(settings.clone()).unwrap();
        assert_eq!(dest.endpoint(), "127.0.0.1:2575");
        assert!(!dest.is_connected(), "connects lazily");
        let err = MllpDestination::new(MllpSettings {
            endpoint: "lab".into(),
            ..settings.clone()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "MLLP endpoint \"lab\" is not HOST:PORT (a host name or IP address and a port 1-65535)"
        );
        let err = MllpDestination::new(MllpSettings {
            ack_timeout: Duration::ZERO,
            ..settings
        })
        .unwrap_err();
        assert_eq!(err, MllpSetupError::ZeroTimeout { which: "ack" });
    }
}
