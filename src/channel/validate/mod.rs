//! From [`ChannelConfig`](crate::channel::config::ChannelConfig) to [`ChannelSpec`](crate::channel::spec::ChannelSpec): the rules serde cannot express (addresses that
//! parse, files that exist, scripts that compile, names that are unique, ranges that make
//! sense), each reported at the offending key, and the defaults filled in.
//!
//! Every check runs even after an earlier one failed, so one pass shows every problem; the
//! spec is built only when the file has no error at all.
//!
//! # Layout
//! - `build`: the whole file in order, the spec, and the channel-level settings (durability,
//!   duplicates, pruning).
//! - `source`: the `[source]` table of each type.
//! - `address`: listen addresses and outbound `HOST:PORT` endpoints.
//! - `files`: files that must exist, with "did you mean" hints.
//!
//! Destinations and scripts have their own modules (`validate_destination`,
//! `validate_scripts`, `validate_fhir`).

mod address;
mod build;
mod files;
mod source;
#[cfg(test)]
mod tests;

pub(super) use address::endpoint;
pub(crate) use build::build;
pub(crate) use files::existing_file;
pub(super) use source::secs;
