//! Channels: the files analysts write (`channels/*.toml`), how they are read and checked, and
//! the validated form the runtime starts.
//!
//! A channel file goes through three types (style rule 1): TOML → the raw serde structs of
//! [`config`] (unknown keys rejected) → checks → [`ChannelSpec`], with every default filled
//! in and every address parsed. Problems come out as [`Diagnostic`]s with file, line, column
//! and a hint, all of them at once; [`render`] prints them the way `ihub validate` shows them.
//!
//! ```
//! use std::path::Path;
//! let (channels, diagnostics) = ihub::channel::load_channels(Path::new("channels"));
//! assert!(diagnostics.iter().all(|d| !d.is_error()), "{}", ihub::channel::render(&diagnostics, &[]));
//! assert!(channels.iter().any(|c| c.id.as_str() == "lab_results"));
//! ```
//!
//! One channel per file; the id is the file stem; `*.test.toml` files are channel tests, not
//! channels. Relative paths inside a channel file (scripts, folders, certificates) resolve
//! against the working directory, not the file's folder.
//!
//! # Layout
//! - `config`: the raw structs, one per table, whose `///` docs are the reference.
//! - `load`: which files are channels, TOML into config with every error, cross-file checks.
//! - `validate`: the rules serde cannot express, and building the spec;
//!   `validate_scripts`: the script side (`[limits]`, `[filter]`, transforms, lookups);
//!   `validate_fhir`: a FHIR destination (base URL, auth, secrets from the environment).
//! - `spec`: [`ChannelSpec`] and its parts, what the runtime uses.
//! - `diagnostic`: [`Diagnostic`] and the report renderer.
//! - `suggest`: `did you mean …`.
//! - `schema`: [`channel_schema`], the JSON Schema of the file format (`ihub schema`).
//! - [`runner`]: the pipeline a running channel puts each message through; `stage`: a
//!   transform's mapping and script ([`runner::TransformStage`]).

pub mod config;
mod diagnostic;
mod load;
pub mod runner;
mod schema;
mod scripted;
mod spec;
mod stage;
pub(crate) mod suggest;
pub mod testing;
mod validate;
mod validate_destination;
mod validate_fhir;
mod validate_scripts;

pub use diagnostic::{Diagnostic, Severity, Snippet, render};
pub use load::{
    ChannelDirError, channel_files, load_channel_file, load_channel_files, load_channels,
};
pub use schema::channel_schema;
pub use spec::{
    AckMode, CertKeyPair, ChannelId, ChannelSpec, ClientTlsSpec, DestinationKind, DestinationSpec,
    DuplicateAction, DuplicatesSpec, Durability, FhirAuthSpec, FhirConvert, FhirDestinationSpec,
    FileDestinationSpec, FileSourceSpec, HttpDestinationSpec, HttpMethod, HttpSourceSpec,
    InvalidChannelId, MllpDestinationSpec, MllpSourceSpec, PruneSpec, RetrySpec, ServerTlsSpec,
    SourceSpec,
};
