//! Acknowledgments: ACK and NAK in original mode (AA/AE/AR) and enhanced mode (CA/CE/CR).
//!
//! The ACK answers in the sender's own delimiters and version: MSH-3/4 and MSH-5/6 of the
//! original are swapped, MSH-11 and MSH-12 are copied, MSA-2 is the original MSH-10. When the
//! message is not accepted, an ERR segment carries the error code from HL7 table 0357, the
//! severity and the diagnostic text (in ERR-3/4/7 from v2.5 on, in ERR-1 before).
//!
//! Enhanced mode lets the sender say when it wants an accept acknowledgment (MSH-15: `AL` always,
//! `NE` never, `ER` only on error, `SU` only on success): see [`AckCondition`] and
//! [`Ack::wanted`].
//!
//! # Layout
//! - `codes`: [`AckCode`], [`AckCondition`], [`ErrorCode`], [`Severity`].
//! - `answer`: [`Ack`] and [`AckError`], what to answer with; [`build_ack`].
//! - `concatenated`: the fast path for a plain accept, written byte by byte.
//! - `by_path`: the path-based builder for every other ACK, and [`build_nak`].
//! - `header_values`: the version test and a fresh control id, shared by both paths.

mod answer;
mod by_path;
mod codes;
mod concatenated;
mod header_values;
#[cfg(test)]
mod tests;

pub use answer::{Ack, AckError, build_ack, build_ack_bytes};
pub use by_path::build_nak;
pub use codes::{AckCode, AckCondition, ErrorCode, Severity};
