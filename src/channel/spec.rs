//! [`ChannelSpec`]: a channel file after validation, the only form the runtime sees.
//!
//! Every default is filled in, every address is parsed, every duration is a [`Duration`], and
//! every rule the loader checks already holds (ports free of other channels, scripts present,
//! destination names unique, retry ranges sane), so the code that starts a channel has nothing
//! left to check and no error path for bad configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::diagnostic::Diagnostic;
use crate::script::ScriptLimits;

/// A channel's id: the file stem of its channel file, `[a-z0-9_-]+`. It names the channel in
/// logs, metrics labels, store keys and API URLs, hence the narrow alphabet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(String);

/// Why a name is not a valid channel id (or destination name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` may only contain lower-case letters a-z, digits 0-9, `_` and `-`")]
pub struct InvalidChannelId(pub String);

impl ChannelId {
    /// Checks `id` against `[a-z0-9_-]+`.
    pub fn new(id: &str) -> Result<ChannelId, InvalidChannelId> {
        if is_valid_name(id) {
            Ok(ChannelId(id.to_owned()))
        } else {
            Err(InvalidChannelId(id.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z0-9_-]+`: the alphabet of channel ids and destination names.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A validated channel: where messages come from, what is accepted, how they are changed,
/// and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The file stem of the channel file.
    pub id: ChannelId,
    /// The channel file, as it was named to the loader.
    pub file: PathBuf,
    /// Free text for people; empty when not given.
    pub description: String,
    /// Whether the channel starts with the engine.
    pub enabled: bool,
    /// When a received message counts as stored, and so when the sender gets its ACK.
    pub durability: Durability,
    /// Where messages come from.
    pub source: SourceSpec,
    /// The `[filter] accept` Rhai expression (syntax already checked); `None` accepts all.
    pub filter: Option<String>,
    /// The `[transform] script` file (present and syntactically valid when loaded), relative
    /// to the working directory as written; `None` delivers messages unchanged.
    pub transform: Option<PathBuf>,
    /// The `[transform] mapping` file (present when loaded), applied before the script; `None`
    /// when there is none.
    pub mapping: Option<PathBuf>,
    /// Where messages go, in file order; names are unique. May be empty (a warning).
    pub destinations: Vec<DestinationSpec>,
    /// Duplicate control-id detection.
    pub duplicates: DuplicatesSpec,
    /// How long messages are kept.
    pub prune: PruneSpec,
    /// Sandbox limits for the filter and the transform script, ready for
    /// [`ScriptEngine::new`](crate::script::ScriptEngine::new).
    pub limits: ScriptLimits,
    /// Warnings found while loading (they are also in the loader's diagnostics), so a reload
    /// of this one file can log them.
    pub warnings: Vec<Diagnostic>,
}

impl ChannelSpec {
    /// Every file the running channel depends on besides the channel file: its scripts and
    /// mapping files, and, when it has any script, every module in `scripts/lib/` and table in
    /// `scripts/lookups/` (listed now, so a new table is seen too). Hot reload restarts the
    /// channel when one of them changes.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self
            .transform
            .iter()
            .chain(&self.mapping)
            .cloned()
            .collect();
        for d in &self.destinations {
            files.extend(d.transform.iter().chain(&d.mapping).cloned());
        }
        let scripted = self.filter.is_some()
            || self.transform.is_some()
            || self.destinations.iter().any(|d| d.transform.is_some());
        if scripted {
            files.extend(crate::script::ScriptEnv::dependencies(Path::new(
                crate::script::SCRIPTS_DIR,
            )));
        }
        files
    }
}

/// `durability`: when a message is acknowledged relative to the disk sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// ACK only after the message is synced to disk (group commit shares one sync among
    /// concurrent messages). Nothing acknowledged is lost, even in a power cut.
    Sync,
    /// ACK once the message is written to the store's journal; the store syncs at most every
    /// `flush_interval`. Faster; a process crash loses nothing, but a power cut or an OS crash
    /// can lose up to that much acknowledged traffic.
    Interval {
        /// The longest time between syncs.
        flush_interval: Duration,
    },
}

/// A validated source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// An MLLP listener.
    Mllp(MllpSourceSpec),
    /// An HTTP listener taking POSTs.
    Http(HttpSourceSpec),
    /// A polled directory.
    File(FileSourceSpec),
}

impl SourceSpec {
    /// `mllp`, `http` or `file`: the `type` key, and the `source_type` metrics label.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceSpec::Mllp(_) => "mllp",
            SourceSpec::Http(_) => "http",
            SourceSpec::File(_) => "file",
        }
    }

    /// The socket address the source binds, if it listens on one.
    pub fn listen(&self) -> Option<SocketAddr> {
        match self {
            SourceSpec::Mllp(s) => Some(s.listen),
            SourceSpec::Http(s) => Some(s.listen),
            SourceSpec::File(_) => None,
        }
    }
}

/// `ack`: the HL7 acknowledgment mode an MLLP source answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// Original mode: AA / AE / AR.
    Original,
    /// Enhanced mode: a commit ACK, CA / CE / CR, honouring MSH-15.
    Enhanced,
}

/// Server-side TLS for a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsSpec {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM CA certificates; when set, every client must present a certificate they signed
    /// (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// An MLLP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MllpSourceSpec {
    /// Where to listen. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The ACK mode.
    pub ack: AckMode,
    /// TLS, or plain TCP when `None`.
    pub tls: Option<ServerTlsSpec>,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest message accepted; a larger frame closes that connection.
    pub max_message_bytes: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A started frame must be complete within this long.
    pub read_timeout: Duration,
}

/// An HTTP listener: a POST of HL7 or JSON to `path` is one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSourceSpec {
    /// Where to listen. Port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// The URL path that takes messages; starts with `/`.
    pub path: String,
    /// Largest request body accepted (413 above it).
    pub max_body_bytes: usize,
}

/// A polled directory: each matching file is read, stored, then moved away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSourceSpec {
    /// The directory to poll.
    pub directory: PathBuf,
    /// Which file names to pick up (`*` and `?` wildcards).
    pub glob: String,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Where a file goes once all its messages are stored.
    pub done_directory: PathBuf,
    /// Where a file goes when it cannot be read at all.
    pub error_directory: PathBuf,
}

/// A validated destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSpec {
    /// Unique within the channel, `[a-z0-9_-]+`; names its queue, logs and metrics.
    pub name: String,
    /// What kind of receiver, and how to reach it.
    pub kind: DestinationKind,
    /// How often and how patiently to retry.
    pub retry: RetrySpec,
    /// Deliver in arrival order (a message waits for the one before it).
    pub ordered: bool,
    /// Send the message as received instead of the transformed one.
    pub send_original: bool,
    /// `transform = { script }`: a script for this destination only (present and compiling
    /// when loaded), run after the channel's transform; its `drop()` skips this destination.
    pub transform: Option<PathBuf>,
    /// `transform = { mapping }`: a mapping file for this destination only (present when
    /// loaded), applied before its script.
    pub mapping: Option<PathBuf>,
}

impl DestinationSpec {
    /// `mllp`, `http`, `file` or `fhir`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            DestinationKind::Mllp(_) => "mllp",
            DestinationKind::Http(_) => "http",
            DestinationKind::File(_) => "file",
            DestinationKind::Fhir(_) => "fhir",
        }
    }
}

/// The kinds of destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationKind {
    /// An MLLP receiver.
    Mllp(MllpDestinationSpec),
    /// An HTTP endpoint.
    Http(HttpDestinationSpec),
    /// A directory.
    File(FileDestinationSpec),
    /// A FHIR R4 server.
    Fhir(FhirDestinationSpec),
}

/// A certificate and its key, presented by a client for mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKeyPair {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Client-side TLS for an outbound connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTlsSpec {
    /// PEM CA certificates the server's certificate must chain to.
    pub ca: PathBuf,
    /// Our certificate, when the server asks for one (mutual TLS).
    pub identity: Option<CertKeyPair>,
    /// The name to verify in the server's certificate; `None` uses the endpoint's host.
    pub server_name: Option<String>,
}

/// An MLLP receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MllpDestinationSpec {
    /// `host:port`; the host may be a name or an IP (`[::1]:6661` for IPv6).
    pub endpoint: String,
    /// TLS, or plain TCP when `None`.
    pub tls: Option<ClientTlsSpec>,
    /// How long to wait for the ACK before the attempt counts as failed (and is retried).
    pub ack_timeout: Duration,
    /// An AR/CR answer marks the message ERROR at once (`true`) or is retried like AE.
    pub reject_on_ar: bool,
}

/// `method` of an HTTP destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum HttpMethod {
    /// `POST`.
    #[serde(rename = "POST")]
    Post,
    /// `PUT`.
    #[serde(rename = "PUT")]
    Put,
    /// `PATCH`.
    #[serde(rename = "PATCH")]
    Patch,
}

impl HttpMethod {
    /// The method as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
        }
    }
}

/// An HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpDestinationSpec {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// The request method.
    pub method: HttpMethod,
    /// Extra request headers (names and values already checked), sorted by name.
    pub headers: Vec<(String, String)>,
    /// How long a request may take before the attempt counts as failed (and is retried).
    pub timeout: Duration,
    /// The `Content-Type` to send; `None` lets the sender pick by message kind
    /// (`application/hl7-v2` for HL7, `application/json` for JSON).
    pub content_type: Option<String>,
}

/// A directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDestinationSpec {
    /// Where files are written (created when missing).
    pub directory: PathBuf,
    /// The file name template; only the placeholders in
    /// [`FILENAME_PLACEHOLDERS`](super::config::FILENAME_PLACEHOLDERS) appear in it.
    pub filename: String,
}

/// `convert` of a FHIR destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum FhirConvert {
    /// HL7 v2 → FHIR R4 transaction Bundle.
    #[serde(rename = "hl7v2-to-fhir")]
    Hl7v2ToFhir,
    /// The payload is FHIR JSON already.
    #[serde(rename = "none")]
    None,
}

/// A FHIR R4 server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirDestinationSpec {
    /// An `http://` or `https://` base URL without query or fragment.
    pub base_url: String,
    /// Whether the message is converted from HL7 v2 or is FHIR JSON already.
    pub convert: FhirConvert,
    /// Create single resources only if none with the same first identifier exists.
    pub conditional_create: bool,
    /// Bound on each HTTP exchange, token requests included.
    pub timeout: Duration,
    /// How to authenticate.
    pub auth: FhirAuthSpec,
}

/// How a FHIR destination authenticates. Secrets are not here: only the names of the
/// environment variables holding them (checked to be set when the file was validated), read
/// again when the destination is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FhirAuthSpec {
    /// No `Authorization` header.
    None,
    /// A bearer token from an environment variable.
    Bearer {
        /// The variable holding the token.
        token_env: String,
    },
    /// HTTP Basic with the password from an environment variable.
    Basic {
        /// The user name.
        username: String,
        /// The variable holding the password.
        password_env: String,
    },
    /// SMART Backend Services (the key file existed when validated).
    Smart(crate::fhir::smart::SmartSettings),
}

/// A validated retry policy: `attempts ≥ 1`, `0 < initial_backoff ≤ max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySpec {
    /// Delivery attempts in all, the first one included.
    pub attempts: u32,
    /// The wait after the first failure; it doubles after each further failure.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

/// `action` for a duplicate control id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateAction {
    /// Store it as a duplicate, answer AA/CA again, deliver nothing.
    Ack,
    /// Store it as a duplicate, answer AR/CR.
    Reject,
}

/// Duplicate control-id (MSH-10) detection, per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicatesSpec {
    /// How far back to look; `None` turns detection off.
    pub window: Option<Duration>,
    /// What to do with a duplicate.
    pub action: DuplicateAction,
}

/// How long a channel's messages are kept. `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneSpec {
    /// Messages older than this are removed (except those in ERROR, see below).
    pub keep_for: Option<Duration>,
    /// At most this many messages are kept; the oldest go first.
    pub keep_messages: Option<u64>,
    /// Messages in ERROR older than this are removed.
    pub keep_errors_for: Option<Duration>,
}

/// One day, for the `*_days` settings.
pub(crate) const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_are_lower_case_words() {
        assert_eq!(
            ChannelId::new("lab_results-2").unwrap().as_str(),
            "lab_results-2"
        );
        assert_eq!(ChannelId::new("adt").unwrap().to_string(), "adt");
        for bad in ["", "Lab", "lab results", "lab.results", "läb", "a/b"] {
            assert_eq!(
                ChannelId::new(bad),
                Err(InvalidChannelId(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn http_method_names() {
        assert_eq!(HttpMethod::Patch.as_str(), "PATCH");
        assert_eq!(HttpMethod::Post.as_str(), "POST");
    }
}
