//! `ihub test [PATH...]`: runs channel tests (`channels/<id>.test.toml`) through each channel's
//! real filter, transform and store, without contacting any destination.
//!
//! Exit codes: 0 when every test passed, 1 when any failed, 78 (`EX_CONFIG`, as `ihub
//! validate`) when a test file or its channel has errors, so some tests could not run. The
//! report goes to standard output, like libtest's.

use std::process::ExitCode;

use anyhow::Context as _;

use super::TestArgs;
use crate::channel::testing;

/// Runs `ihub test`.
pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        testing::run_tests(&args.paths, &mut out).await
    });
    let summary = summary.context("cannot write the report")?;
    Ok(ExitCode::from(summary.exit_code()))
}
