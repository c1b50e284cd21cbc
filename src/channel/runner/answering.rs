//! The answering half of the pipeline: the ACK (or NAK) for a stored message, for input that
//! is no readable message, and for a message the store could not make durable; the ACK codes
//! of the channel's acknowledgment mode.

use bytes::Bytes;

use crate::channel::AckMode;
use crate::hl7::{self, Ack, AckCode, ErrorCode, Message, MessageBuf, Severity};
use crate::store::{self, MessageMeta, MessageStatus};

use super::storing::StoredOutcome;
use super::{Disposition, Pipeline};

/// What the answer to a submitted message is built from once the store has answered.
pub(super) enum AnswerFrom {
    /// The parsed copy of the message (scripts ran on it, or its bytes are not the frame's).
    Copy(MessageBuf),
    /// A plain accept for a message without scripts, written while the frame was parsed, so
    /// the message need not be copied to answer it. The frame is parsed again only if the
    /// store answers otherwise (it failed).
    Prepared {
        /// The ACK, `None` when the sender asked for none.
        ack: Option<Bytes>,
        /// The received frame.
        raw: Bytes,
    },
}

impl Pipeline {
    /// The plain accept for `message`, as [`AnswerFrom::Prepared`] keeps it.
    pub(super) fn prepared_accept(&self, message: &Message<'_>, raw: Bytes) -> AnswerFrom {
        let ack = Ack::new(self.accept_code());
        AnswerFrom::Prepared {
            ack: ack
                .wanted(message)
                .then(|| Bytes::from(hl7::build_ack_bytes(message, &ack))),
            raw,
        }
    }

    /// The answer to a stored message, from what [`Pipeline::submit`] kept for it.
    pub(super) async fn answer_from(
        &self,
        from: &AnswerFrom,
        stored: StoredOutcome,
    ) -> Disposition {
        let raw = match from {
            AnswerFrom::Copy(buf) => {
                return self
                    .answer(buf, stored.id, stored.code, stored.status, stored.ack_text)
                    .await;
            }
            AnswerFrom::Prepared { ack, raw } => {
                if let Ok(id) = stored.id
                    && stored.code == self.accept_code()
                    && stored.ack_text.is_none()
                {
                    self.count_ack(stored.code);
                    return Disposition {
                        ack: ack.clone(),
                        code: stored.code,
                        message_id: Some(id),
                        status: stored.status,
                    };
                }
                raw
            }
        };
        match MessageBuf::parse(raw) {
            Ok(buf) => {
                self.answer(&buf, stored.id, stored.code, stored.status, stored.ack_text)
                    .await
            }
            // It parsed when it came in; should it not now, the sender is told to send again.
            Err(error) => self.store_failed(
                store::StoreError::Invalid(format!("the message no longer parses: {error}")),
                None,
            ),
        }
    }

    /// Input that is not a readable message: stored as ERROR, answered AE or AR.
    pub(super) async fn unreadable(
        &self,
        raw: Bytes,
        peer: &str,
        received_at_ms: u64,
        error: &hl7::ParseError,
    ) -> Disposition {
        metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "receiving", "error_type" => "parse").increment(1);
        let nak = hl7::build_nak(&raw, error);
        let code = nak
            .get("MSA-1")
            .ok()
            .and_then(|v| v.text().parse::<AckCode>().ok())
            .unwrap_or(AckCode::AR);
        let meta = MessageMeta {
            message_type: String::new(),
            trigger: String::new(),
            control_id: nak
                .get("MSA-2")
                .map(|v| v.text().into_owned())
                .unwrap_or_default(),
            patient_id: String::new(),
        };
        let stored = self
            .record(
                raw,
                peer,
                received_at_ms,
                meta,
                MessageStatus::Error,
                Some(error.to_string()),
                None,
                Vec::new(),
            )
            .await;
        let code = if self.ack_mode == AckMode::Enhanced {
            enhanced(code)
        } else {
            code
        };
        match stored {
            Ok(id) => {
                self.count_ack(code);
                Disposition {
                    ack: Some(Bytes::from(nak_with_code(&nak, code))),
                    code,
                    message_id: Some(id),
                    status: MessageStatus::Error,
                }
            }
            Err(store_error) => self.store_failed(store_error, None),
        }
    }

    /// Builds the ACK once the message is stored (or the NAK if storing failed).
    pub(super) async fn answer(
        &self,
        buf: &MessageBuf,
        stored: Result<store::MessageId, store::StoreError>,
        code: AckCode,
        status: MessageStatus,
        text: Option<String>,
    ) -> Disposition {
        let original = buf.as_message();
        let id = match stored {
            Ok(id) => id,
            Err(error) => return self.store_failed(error, Some(&original)),
        };
        let mut ack = Ack::new(code);
        if let Some(text) = text {
            ack = if code.is_accept() {
                ack.with_text(text)
            } else {
                ack.with_text(text.clone()).with_error(
                    ErrorCode::ApplicationInternalError,
                    Severity::Error,
                    text,
                )
            };
        }
        self.count_ack(code);
        let bytes = ack
            .wanted(&original)
            .then(|| Bytes::from(hl7::build_ack_bytes(&original, &ack)));
        Disposition {
            ack: bytes,
            code,
            message_id: Some(id),
            status,
        }
    }

    /// The store could not make the message durable: the sender must send it again, so the
    /// answer is a NAK (AE/CE: "try again"), never an accept.
    pub(super) fn store_failed(
        &self,
        error: store::StoreError,
        original: Option<&Message<'_>>,
    ) -> Disposition {
        tracing::error!(channel = %self.channel, %error, "Could not store a message; answering with an error so the sender retries.");
        metrics::counter!(crate::metrics::ERRORS, "channel" => self.channel.clone(), "stage" => "receiving", "error_type" => "store").increment(1);
        let code = self.error_code();
        let ack = Ack::new(code).with_error(
            ErrorCode::ApplicationInternalError,
            Severity::Error,
            "the message could not be stored; send it again",
        );
        let bytes = original.map(|m| Bytes::from(hl7::build_ack_bytes(m, &ack)));
        self.count_ack(code);
        Disposition {
            ack: bytes,
            code,
            message_id: None,
            status: MessageStatus::Error,
        }
    }

    pub(super) fn accept_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AA,
            AckMode::Enhanced => AckCode::CA,
        }
    }

    pub(super) fn error_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AE,
            AckMode::Enhanced => AckCode::CE,
        }
    }

    pub(super) fn reject_code(&self) -> AckCode {
        match self.ack_mode {
            AckMode::Original => AckCode::AR,
            AckMode::Enhanced => AckCode::CR,
        }
    }

    pub(super) fn count_ack(&self, code: AckCode) {
        self.meters.ack(&self.channel, code).increment(1);
    }
}

fn enhanced(code: AckCode) -> AckCode {
    match code {
        AckCode::AA => AckCode::CA,
        AckCode::AE => AckCode::CE,
        AckCode::AR => AckCode::CR,
        other => other,
    }
}

fn nak_with_code(nak: &MessageBuf, code: AckCode) -> Vec<u8> {
    let mut nak = nak.clone();
    let _ = nak.set("MSA-1", code.as_str());
    nak.into_bytes()
}
