//! `ihub fhir convert FILE`: HL7 v2 → FHIR R4 transaction Bundles on standard output.
//!
//! A file with one message prints one Bundle (pretty JSON). A stream or batch file prints a
//! JSON array of Bundles, one per message in file order (as `ihub hl7 json` does), so the
//! output is always one JSON document. A message that cannot be converted stops the command
//! with exit code 1 and an error naming the message (position and MSH-10) and the field.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::fhir::convert::hl7v2_to_fhir;
use crate::hl7;

/// Runs `ihub fhir convert`.
pub fn run(file: &Path) -> anyhow::Result<ExitCode> {
    let name = if file.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        file.display().to_string()
    };
    let bytes = super::hl7::read_input(file)?;
    let messages = hl7::parse_stream(&bytes).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    if messages.is_empty() {
        anyhow::bail!("{name}: no HL7 message found");
    }
    let mut bundles = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let bundle = hl7v2_to_fhir(message).with_context(|| {
            format!(
                "{name}: message {} (MSH-10 {:?}) cannot be converted",
                i + 1,
                message.control_id()
            )
        })?;
        bundles.push(bundle);
    }
    let document = match bundles.len() {
        1 => bundles.swap_remove(0),
        _ => serde_json::Value::Array(bundles),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &document)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
