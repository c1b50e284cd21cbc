//! Declarative field mappings between local records, JSON (JSONPath, RFC 9535) and HL7 v2
//! (HL7 paths): transform functions, record validation and conflict resolution. Pure: no I/O
//! except loading mapping files.
//!
//! # Layout
//! - `path`: where a field lives: JSONPath read (all of RFC 9535) and write (one place,
//!   creating what is missing), or an HL7 path.
//! - [`transform`]: the transform functions, chains and their inverses.
//! - [`validate`]: per-record rules (required, type, format, enumeration, length).
//! - [`conflict`]: choosing between a local and a remote version of a record.
//! - `file`: mapping files (`mappings/*.toml`) → [`MappingSet`], errors with file:line:col.
//! - `entity`: [`EntityMapping`], applying a mapping to a JSON record or an HL7 message.
//! - `error`: [`FieldError`] and [`RecordErrors`].

pub mod conflict;
mod direction;
mod entity;
mod error;
mod file;
mod park;
pub mod path;
pub mod transform;
pub mod validate;

pub use direction::{Direction, Directions};
pub use entity::{BatchOutcome, EntityMapping, FieldMapping};
pub use error::{FieldError, RecordErrors};
pub use file::{MappingFileError, MappingProblem, MappingSet};
pub use park::{RecordRef, Settled, settle};
pub use transform::{LookupTables, Transform, apply_chain};
