//! Rhai scripts in a sandbox: channel filters ([`Filter`]) and transforms ([`Transform`]).
//!
//! One [`ScriptEngine`] (built with [`ScriptLimits`], shared through `Arc`) compiles and runs
//! every script. Scripts see the message as `msg` (`msg.get("PID-5.1")`, `msg.set(..)`,
//! `msg.type`, ...; a JSON message is `msg` as a map) and cannot read files, `eval` text or
//! wait; they may import modules from `scripts/lib/` and read code tables from
//! `scripts/lookups/` when the engine has a [`ScriptEnv`]. A run blocks
//! its caller and may take the whole time budget: call scripts from
//! `tokio::task::spawn_blocking` or a dedicated thread, never on a reactor thread. Threads from
//! [`spawn_script_thread`] (a large stack, which rhai needs) run scripts fastest.
//!
//! ```
//! use std::sync::Arc;
//! use ihub::hl7::MessageBuf;
//! use ihub::script::{Filter, ScriptEngine, ScriptLimits, Transform, TransformOutcome};
//!
//! let engine = Arc::new(ScriptEngine::new(ScriptLimits::default()));
//! let filter = Filter::compile(&engine, r#"msg.type == "ORU""#)?;
//! let stamp = Transform::from_source(&engine, "stamp.rhai", r#"msg.set("MSH-4", "LENSWORKS");"#)?;
//!
//! let mut msg = MessageBuf::parse(b"MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101||ORU^R01|42|P|2.5")?;
//! assert!(filter.accepts(&msg)?);
//! assert_eq!(stamp.apply(&mut msg)?, TransformOutcome::Continue);
//! assert_eq!(msg.get("MSH-4")?.text(), "LENSWORKS");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `engine`: [`ScriptEngine`] and [`ScriptLimits`], the per-run budgets.
//! - `threads`: script threads with a large stack.
//! - `env`: [`ScriptEnv`], what a channel's scripts share (lookup tables, the import folder).
//! - `api`: what scripts may call; `api/mod.rs` is the one registration point.
//! - `lookups`: [`Lookups`], the CSV code tables. `modules`: the `import` resolver.
//! - `payload`: [`Payload`], HL7 or JSON going into or out of a script.
//! - `filter`, `transform`: the two kinds of script a channel has.
//! - `error`: [`ScriptError`].

mod api;
mod engine;
mod env;
mod error;
mod filter;
mod lookups;
mod modules;
mod payload;
mod threads;
mod transform;

pub(crate) use api::{map_payload, maps_hl7};
pub use engine::{ScriptEngine, ScriptLimits};
pub use env::{LIB_PREFIX, LOOKUPS_DIR, MAPPINGS_DIR, SCRIPTS_DIR, ScriptEnv, add_csv_lookups};
pub use error::{FILTER_NAME, ScriptError};
pub use filter::Filter;
pub use lookups::{LookupTable, Lookups, parse_table};
pub use payload::Payload;
pub use threads::{SCRIPT_THREAD_STACK_BYTES, run_on_script_thread, spawn_script_thread};
pub use transform::{Transform, TransformOutcome, TransformRun};
