//! Reading channel files: which files are channels, TOML into
//! [`ChannelConfig`](crate::channel::config::ChannelConfig) with every problem reported, and
//! the checks that span several files (ports, ids, polled folders).
//!
//! serde stops at the first error it meets, but an analyst wants every mistake of every file
//! at once. So the document is first parsed into toml's spanned tree
//! ([`DeTable`](toml::de::DeTable)), each table is deserialized on its own, and when serde
//! fails inside a table the offending entry (found by the error's byte span) is taken out and
//! the table is read again. Each round reports one problem; the loop ends when the table reads
//! cleanly or the problem cannot be cut out (a missing key). All positions come from the tree,
//! so every diagnostic has a line, a column and a caret.
//!
//! # Layout
//! - `files`: which files in a folder are channels; loading one file or a set (the public
//!   entry points).
//! - `file_check`: one file's text: [`FileCx`], the id from the file name, syntax, then
//!   `validate`.
//! - `read_tables`: the top-level keys and the tables selected by `type`.
//! - `read_spanned`: one value through serde, cutting out each problem and reading again.
//! - `problem_text`: serde's messages taken apart and worded for analysts.
//! - `cross_check`: the checks across files (ids, ports, polled folders).

mod cross_check;
mod file_check;
mod files;
mod problem_text;
mod read_spanned;
mod read_tables;
#[cfg(test)]
mod tests;

pub(crate) use cross_check::same_dir;
/// `validate`'s unit tests check whole snippets of channel text.
#[cfg(test)]
pub(crate) use file_check::check_text;
pub(crate) use file_check::{FileCx, Seen, Site};
pub use files::{
    ChannelDirError, channel_files, load_channel_file, load_channel_files, load_channels,
};
pub(crate) use problem_text::one_of;
