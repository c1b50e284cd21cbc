//! Channel unit tests: `channels/<id>.test.toml` beside a channel, run by `ihub test` (and by
//! `cargo test`, through the integration tests).
//!
//! Each case sends one message (a file, inline HL7 or inline JSON) through the channel's real
//! pipeline (filter, transform, ACK decision, store) on a throw-away store, with no source and
//! no delivery workers, so no destination is contacted. Then it checks the ACK code, the
//! message's status, and per destination what was queued for it: HL7 paths, JSONPaths, or the
//! whole payload against a file. The file format is documented in `channels/TESTING.md`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::path::PathBuf;
//! let summary =
//!     ihub::channel::testing::run_tests(&[PathBuf::from("channels")], &mut std::io::stdout()).await?;
//! std::process::exit(summary.exit_code().into());
//! # }
//! ```
//!
//! # Layout
//! - `format`: [`TestFile`], the checked form of a test file.
//! - `parse`: the test file's serde structs and checks, with file:line:col diagnostics.
//! - `suite`: which files a PATH names; a test file with its channel → [`Suite`].
//! - `pipeline`: the channel's [`Pipeline`](crate::channel::runner::Pipeline) on a scratch store.
//! - `run`: one case through the pipeline → [`Observed`].
//! - `check`: expectations against what was observed → [`Failure`]s.
//! - `diff`: the line diff for whole-output comparisons.
//! - `report`: the run and its libtest-style report → [`Summary`].

mod check;
mod diff;
mod format;
mod parse;
mod pipeline;
mod report;
mod run;
mod suite;

pub use check::{Failure, check_case, whole_output_diff};
pub use format::{
    Check, Checked, Expectation, ExpectedStatus, Input, Location, TEST_SUFFIX, TestCase, TestFile,
    normalise_segments, sibling_channel, sibling_test_file,
};
pub use parse::{load_test_file, parse_test_file};
pub use pipeline::{ScratchDir, Scripts, pipeline};
pub use report::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Summary, run_tests};
pub use run::{Observed, TEST_PEER, observe};
pub use suite::{Plan, Suite, discover, load_suite};
