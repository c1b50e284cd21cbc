//! The raw channel-file model: what `channels/*.toml` may say, exactly as written.
//!
//! Every table is a serde struct with `deny_unknown_fields`, so a misspelt key is an error and
//! never a silently ignored setting. Keys that later checks must point at are
//! [`Spanned`], keeping their byte position in the file. The `///` docs are the reference text
//! (mirrored in `channels/README.md`), each with its default.
//!
//! The tables selected by `type` (`[source]`, `[[destination]]`) are *not* serde's internally
//! tagged enums: serde buffers such a table before it picks the variant, which loses every
//! position inside it (and with it `Spanned`), and `deny_unknown_fields` on the enum itself
//! lets unknown keys through (serde #2123). The loader reads `type` itself and deserializes the
//! rest straight into the variant struct; [`SourceConfig::TYPES`] and
//! [`DestinationKindConfig::TYPES`] list the variants.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64};

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::spec::{AckMode, DuplicateAction, FhirConvert, HttpMethod};

/// Default `flush_interval_ms` for `durability = "interval"`.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 50;
/// The longest `flush_interval_ms` accepted: beyond this a crash could lose more
/// acknowledged messages than any sender expects.
pub const MAX_FLUSH_INTERVAL_MS: u64 = 10_000;
/// Default `[duplicates] window_secs`: one hour.
pub const DEFAULT_DUPLICATE_WINDOW_SECS: u64 = 3600;
/// Default `[prune] keep_days`.
pub const DEFAULT_KEEP_DAYS: u32 = 30;
/// Default `[prune] keep_error_days`: errors are kept longer than the rest, for the analyst.
pub const DEFAULT_KEEP_ERROR_DAYS: u32 = 90;
/// Default `max_connections` of an MLLP source.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 64;
/// Default `max_message_bytes` of an MLLP source and `max_body_bytes` of an HTTP source.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Default `idle_timeout_secs` of an MLLP source.
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 600;
/// Default `read_timeout_secs` of an MLLP source.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 60;
/// Default `path` of an HTTP source.
pub const DEFAULT_HTTP_PATH: &str = "/";
/// Default `glob` of a file source.
pub const DEFAULT_GLOB: &str = "*.hl7";
/// Default `poll_interval_secs` of a file source.
pub const DEFAULT_POLL_INTERVAL_SECS: u64 = 1;
/// Default `ack_timeout_secs` of an MLLP destination.
pub const DEFAULT_ACK_TIMEOUT_SECS: u64 = 30;
/// Default `timeout_secs` of an HTTP destination.
pub const DEFAULT_HTTP_TIMEOUT_SECS: u64 = 30;
/// Default `timeout_secs` of a FHIR destination.
pub const DEFAULT_FHIR_TIMEOUT_SECS: u64 = 30;
/// Default `filename` of a file destination.
pub const DEFAULT_FILENAME: &str = "{message_id}.hl7";
/// The placeholders a file destination's `filename` may use.
pub const FILENAME_PLACEHOLDERS: &[&str] = &[
    "message_id",
    "control_id",
    "channel",
    "message_type",
    "type",
    "trigger",
    "received",
    "date",
];
/// Default `retry.attempts`.
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 5;
/// Default `retry.initial_backoff_secs`.
pub const DEFAULT_INITIAL_BACKOFF_SECS: u64 = 1;
/// Default `retry.max_backoff_secs`.
pub const DEFAULT_MAX_BACKOFF_SECS: u64 = 60;

/// The keys a channel file may have at its top level, in the order the reference documents
/// them. The loader reads each one into the matching [`ChannelConfig`] field.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "description",
    "enabled",
    "durability",
    "flush_interval_ms",
    "duplicates",
    "prune",
    "limits",
    "source",
    "filter",
    "transform",
    "destination",
];

/// A whole channel file. Assembled by the loader table by table (so one bad table does not
/// hide the problems of the next); a section that could not be read is `None` and has its
/// diagnostics.
#[derive(Debug, Clone, Default, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Optional. Free text shown in the API and dashboard. Default: empty.
    pub description: Option<String>,
    /// Optional. `false` keeps the channel stopped until started through the API.
    /// Default: `true`.
    pub enabled: Option<bool>,
    /// Optional. `"sync"`: acknowledge a message only after it is synced to disk (nothing
    /// acknowledged is ever lost). `"interval"`: acknowledge once written, sync at most every
    /// `flush_interval_ms` (faster; a crash may lose that much acknowledged traffic).
    /// Default: `"sync"`.
    #[schemars(with = "Option<DurabilityMode>")]
    pub durability: Option<Spanned<DurabilityMode>>,
    /// Optional, with `durability = "interval"` only. Milliseconds between syncs, 1 to
    /// 10000. Default: 50.
    #[schemars(with = "Option<NonZeroU64>")]
    pub flush_interval_ms: Option<Spanned<NonZeroU64>>,
    /// Optional. `[duplicates]`: duplicate control-id detection.
    pub duplicates: Option<DuplicatesConfig>,
    /// Optional. `[prune]`: how long messages are kept.
    pub prune: Option<PruneConfig>,
    /// Optional. `[limits]`: sandbox limits for the filter and transform.
    pub limits: Option<LimitsConfig>,
    /// Required. `[source]`: where messages come from.
    #[schemars(with = "Option<SourceConfig>")]
    pub source: Option<Spanned<SourceConfig>>,
    /// Optional. `[filter]`: which messages to accept. Default: all.
    pub filter: Option<FilterConfig>,
    /// Optional. `[transform]`: how to change them. Default: unchanged.
    pub transform: Option<TransformConfig>,
    /// `[[destination]]`, in file order: where messages go. None at all is a warning.
    #[schemars(with = "Vec<DestinationConfig>")]
    pub destination: Vec<Spanned<DestinationConfig>>,
}

/// `durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DurabilityMode {
    /// ACK after the disk sync.
    Sync,
    /// ACK after the write; sync on a timer.
    Interval,
}

/// `[duplicates]`: a message whose control id (MSH-10) was seen on this channel within the
/// window is stored as a duplicate and not delivered again.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicatesConfig {
    /// Optional. How far back to look, in seconds; `0` turns detection off. Default: 3600.
    pub window_secs: Option<u64>,
    /// Optional. `"ack"`: answer AA/CA again (the sender is satisfied, nothing is delivered
    /// twice). `"reject"`: answer AR/CR. Default: `"ack"`.
    #[schemars(with = "Option<DuplicateAction>")]
    pub action: Option<Spanned<DuplicateAction>>,
}

/// `[prune]`: how long a channel's messages are kept. `0` means "no limit" for each key.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PruneConfig {
    /// Optional. Days to keep messages (except errors). Default: 30.
    #[schemars(with = "Option<u32>")]
    pub keep_days: Option<Spanned<u32>>,
    /// Optional. Most messages to keep; the oldest go first. Default: 0 (no limit).
    pub keep_messages: Option<u64>,
    /// Optional. Days to keep messages in ERROR. Default: 90.
    #[schemars(with = "Option<u32>")]
    pub keep_error_days: Option<Spanned<u32>>,
}

/// `[limits]`: what one run of the filter or of a transform script may use. Each is at least
/// 1 (the script engine would read 0 as "unlimited") and at most the maximum given, so that
/// one channel's script cannot hold a worker for minutes or fill the memory. The defaults are
/// those of [`ScriptLimits::default`](crate::script::ScriptLimits).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Optional. Script operations per run, 1 to 1000000000. Default: 1000000.
    #[schemars(with = "Option<NonZeroU64>", range(max = 1_000_000_000))]
    pub max_operations: Option<Spanned<NonZeroU64>>,
    /// Optional. Wall-clock milliseconds per run, 1 to 60000. Default: 1000.
    #[schemars(with = "Option<NonZeroU64>", range(max = 60_000))]
    pub timeout_ms: Option<Spanned<NonZeroU64>>,
    /// Optional. Longest string a script may build, in bytes, 1 to 268435456 (256 MiB).
    /// Default: 1048576 (1 MiB).
    #[schemars(with = "Option<NonZeroU64>", range(max = 268_435_456))]
    pub max_string_bytes: Option<Spanned<NonZeroU64>>,
    /// Optional. Most elements in one array a script builds (nested ones counted), 1 to
    /// 10000000. Default: 100000.
    #[schemars(with = "Option<NonZeroU64>", range(max = 10_000_000))]
    pub max_array_len: Option<Spanned<NonZeroU64>>,
    /// Optional. Most entries in one object map a script builds (nested ones counted), 1 to
    /// 10000000. Default: 100000.
    #[schemars(with = "Option<NonZeroU64>", range(max = 10_000_000))]
    pub max_map_len: Option<Spanned<NonZeroU64>>,
    /// Optional. Deepest nesting of script function calls, 1 to 256. Default: 64.
    #[schemars(with = "Option<NonZeroU64>", range(max = 256))]
    pub max_call_depth: Option<Spanned<NonZeroU64>>,
}

/// The largest value each `[limits]` key accepts, in the order of [`LimitsConfig`]'s fields.
pub const LIMIT_MAXIMA: &[(&str, u64)] = &[
    ("max_operations", 1_000_000_000),
    ("timeout_ms", 60_000),
    ("max_string_bytes", 268_435_456),
    ("max_array_len", 10_000_000),
    ("max_map_len", 10_000_000),
    ("max_call_depth", 256),
];

/// `[source]`, selected by `type`.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    /// `type = "mllp"`.
    Mllp(MllpSourceConfig),
    /// `type = "http"`.
    Http(HttpSourceConfig),
    /// `type = "file"`.
    File(FileSourceConfig),
}

impl SourceConfig {
    /// The accepted values of `type`.
    pub const TYPES: &[&str] = &["mllp", "http", "file"];
}

/// `[source] type = "mllp"`: an MLLP (HL7 over TCP) listener.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MllpSourceConfig {
    /// Required. `IP:PORT` to listen on, e.g. `"127.0.0.1:2575"` (this machine only) or
    /// `"0.0.0.0:2575"` (all interfaces). No two channels may share one.
    #[schemars(with = "String")]
    pub listen: Spanned<String>,
    /// Optional. `"original"` (AA/AE/AR) or `"enhanced"` (CA/CE/CR). Sent only after the
    /// message is stored. Default: `"original"`.
    pub ack: Option<AckMode>,
    /// Optional. `{ cert, key, client_ca }`: TLS; `client_ca` makes it mutual TLS.
    /// Default: plain TCP.
    pub tls: Option<ServerTlsConfig>,
    /// Optional. Connections served at once; more wait. Default: 64.
    pub max_connections: Option<NonZeroU64>,
    /// Optional. Largest message in bytes; a larger frame closes that connection.
    /// Default: 16777216 (16 MiB).
    pub max_message_bytes: Option<NonZeroU64>,
    /// Optional. Seconds a connection may stay silent before it is closed. Default: 600.
    pub idle_timeout_secs: Option<NonZeroU64>,
    /// Optional. Seconds a started message may take to arrive completely. Default: 60.
    pub read_timeout_secs: Option<NonZeroU64>,
}

/// `tls = { cert, key, client_ca }` of a listener. Paths to PEM files.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// Required. The certificate chain, e.g. `"certs/server.crt"`.
    #[schemars(with = "String")]
    pub cert: Spanned<String>,
    /// Required. The private key, e.g. `"certs/server.key"`.
    #[schemars(with = "String")]
    pub key: Spanned<String>,
    /// Optional. CA certificates that client certificates must chain to; setting it
    /// requires every client to present one (mutual TLS). Default: none.
    #[schemars(with = "Option<String>")]
    pub client_ca: Option<Spanned<String>>,
}

/// `[source] type = "http"`: an HTTP listener; each POST to `path` is one message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// Required. `IP:PORT` to listen on, e.g. `"127.0.0.1:8081"`.
    #[schemars(with = "String")]
    pub listen: Spanned<String>,
    /// Optional. The URL path that takes messages. Default: `"/"`.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Optional. Largest request body in bytes. Default: 16777216 (16 MiB).
    pub max_body_bytes: Option<NonZeroU64>,
}

/// `[source] type = "file"`: a directory polled for files.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Required. The directory to poll, e.g. `"in/lab"`.
    #[schemars(with = "String")]
    pub directory: Spanned<String>,
    /// Optional. Which file names to pick up; `*` and `?` are wildcards. Default: `"*.hl7"`.
    #[schemars(with = "Option<String>")]
    pub glob: Option<Spanned<String>>,
    /// Optional. Seconds between polls. Default: 1.
    pub poll_interval_secs: Option<NonZeroU64>,
    /// Optional. Where a file goes once stored. Default: `"<directory>/done"`.
    #[schemars(with = "Option<String>")]
    pub done_directory: Option<Spanned<String>>,
    /// Optional. Where an unreadable file goes. Default: `"<directory>/error"`.
    #[schemars(with = "Option<String>")]
    pub error_directory: Option<Spanned<String>>,
}

/// `[filter]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Required. A Rhai expression over `msg`; a message is delivered when it is `true`,
    /// and stored as FILTERED (and still answered AA) when `false`.
    /// E.g. `'msg.type == "ORU"'`.
    #[schemars(with = "String")]
    pub accept: Spanned<String>,
}

/// `[transform]` of the channel, and `transform = { .. }` of a `[[destination]]`: a script, a
/// field mapping, or both (the mapping first). At least one is required.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// Optional. A Rhai script that changes `msg` in place, drops it or emits more messages,
    /// relative to the working directory. E.g. `"scripts/stamp_facility.rhai"`.
    #[schemars(with = "Option<String>")]
    pub script: Option<Spanned<String>>,
    /// Optional. A field mapping file, relative to the working directory.
    /// E.g. `"mappings/patient.toml"`.
    #[schemars(with = "Option<String>")]
    pub mapping: Option<Spanned<String>>,
}

/// One `[[destination]]`: the keys every kind has, plus the kind selected by `type`.
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    /// `name`, `retry`, `ordered`, `send_original`.
    pub common: DestinationCommonConfig,
    /// The rest, by `type`.
    pub kind: DestinationKindConfig,
}

/// The keys of a `[[destination]]` that do not depend on its `type`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationCommonConfig {
    /// Required. Unique in the channel, `[a-z0-9_-]+`, e.g. `"archive"`. Names the queue,
    /// and appears in logs, metrics and the API.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Optional. `{ attempts, initial_backoff_secs, max_backoff_secs }`.
    /// Default: `{ attempts = 5, initial_backoff_secs = 1, max_backoff_secs = 60 }`.
    #[schemars(with = "Option<RetryConfig>")]
    pub retry: Option<Spanned<RetryConfig>>,
    /// Optional. Deliver in arrival order: a message waits until the one before it is sent
    /// or has failed for good. Default: `true`.
    pub ordered: Option<bool>,
    /// Optional. Send the message as received instead of the transformed one.
    /// Default: `false`.
    #[schemars(with = "Option<bool>")]
    pub send_original: Option<Spanned<bool>>,
    /// Optional. `{ script, mapping }`: a transform for this destination only, run after the
    /// channel's `[transform]` (on the original with `send_original = true`); its `drop()`
    /// means this destination does not get the message. Default: none.
    #[schemars(with = "Option<TransformConfig>")]
    pub transform: Option<Spanned<TransformConfig>>,
}

/// `retry = { attempts, initial_backoff_secs, max_backoff_secs }`: exponential backoff with
/// jitter, doubling from the initial wait up to the maximum; after the last attempt the
/// message is ERROR (it can be replayed).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Optional. Attempts in all, the first included; at least 1. Default: 5.
    pub attempts: Option<NonZeroU32>,
    /// Optional. Seconds to wait after the first failure; at least 1. Default: 1.
    pub initial_backoff_secs: Option<NonZeroU64>,
    /// Optional. Longest wait in seconds; at least `initial_backoff_secs`. Default: 60.
    pub max_backoff_secs: Option<NonZeroU64>,
}

/// The kind of a `[[destination]]`, selected by `type`.
#[derive(Debug, Clone)]
pub enum DestinationKindConfig {
    /// `type = "mllp"`.
    Mllp(MllpDestinationConfig),
    /// `type = "http"`.
    Http(HttpDestinationConfig),
    /// `type = "file"`.
    File(FileDestinationConfig),
    /// `type = "fhir"`.
    Fhir(FhirDestinationConfig),
}

impl DestinationKindConfig {
    /// The accepted values of `type`.
    pub const TYPES: &[&str] = &["mllp", "http", "file", "fhir"];
}

/// `type = "mllp"`: an MLLP receiver.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MllpDestinationConfig {
    /// Required. `HOST:PORT`, e.g. `"lab.example.org:6661"` or `"127.0.0.1:6661"`.
    #[schemars(with = "String")]
    pub endpoint: Spanned<String>,
    /// Optional. `{ ca, cert, key, server_name }`: TLS. Default: plain TCP.
    pub tls: Option<ClientTlsConfig>,
    /// Optional. Seconds to wait for the ACK. Default: 30.
    pub ack_timeout_secs: Option<NonZeroU64>,
    /// Optional. An AR/CR answer marks the message ERROR without retrying (`true`), or is
    /// retried like AE/CE (`false`). Default: `true`.
    pub reject_on_ar: Option<bool>,
}

/// `tls = { ca, cert, key, server_name }` of an outbound connection. Paths to PEM files.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// Required. CA certificates the server's certificate must chain to.
    #[schemars(with = "String")]
    pub ca: Spanned<String>,
    /// Optional, with `key`. Our certificate, for servers that require mutual TLS.
    #[schemars(with = "Option<String>")]
    pub cert: Option<Spanned<String>>,
    /// Optional, with `cert`. Our private key.
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Optional. The name to check in the server's certificate. Default: the endpoint host.
    #[schemars(with = "Option<String>")]
    pub server_name: Option<Spanned<String>>,
}

/// `type = "http"`: an HTTP endpoint; 2xx is success, 408/429/5xx/timeouts are retried,
/// any other status marks the message ERROR.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpDestinationConfig {
    /// Required. An `http://` or `https://` URL.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// Optional. `"POST"`, `"PUT"` or `"PATCH"`. Default: `"POST"`.
    pub method: Option<HttpMethod>,
    /// Optional. Extra headers, e.g. `{ X-Source = "ihub" }`. Default: none.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub headers: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    /// Optional. Seconds a request may take. Default: 30.
    pub timeout_secs: Option<NonZeroU64>,
    /// Optional. The `Content-Type` sent. Default: `application/hl7-v2` for HL7 messages,
    /// `application/json` for JSON ones.
    #[schemars(with = "Option<String>")]
    pub content_type: Option<Spanned<String>>,
}

/// `type = "file"`: one file per message in a directory, written atomically.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDestinationConfig {
    /// Required. The directory (created when missing), e.g. `"out/lab_results"`.
    #[schemars(with = "String")]
    pub directory: Spanned<String>,
    /// Optional. The file name template; placeholders: `{message_id}`, `{control_id}`,
    /// `{channel}`, `{message_type}` (or `{type}`), `{trigger}`, `{received}`
    /// (`YYYYMMDDHHMMSS`, UTC), `{date}` (`YYYYMMDD`).
    /// Default: `"{message_id}.hl7"`.
    #[schemars(with = "Option<String>")]
    pub filename: Option<Spanned<String>>,
}

/// `type = "fhir"`: a FHIR R4 server. A transaction or batch Bundle is POSTed to `base_url`,
/// any other resource is created at `[base_url]/[type]`. 2xx is success; 408/429/5xx, timeouts
/// and token-server outages are retried; any other status marks the message ERROR with the
/// server's OperationOutcome.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FhirDestinationConfig {
    /// Required. The server's base URL, `http://` or `https://`,
    /// e.g. `"https://fhir.example.org/R4"`.
    #[schemars(with = "String")]
    pub base_url: Spanned<String>,
    /// Optional. `"hl7v2-to-fhir"`: the message is HL7 v2 and becomes a transaction Bundle
    /// (Patient, Encounter, Observations…). `"none"`: the message is FHIR JSON already (a
    /// transform built it) and is sent as it is. Default: `"hl7v2-to-fhir"`.
    pub convert: Option<FhirConvert>,
    /// Optional. Create a single resource only when none with its first identifier exists
    /// (`If-None-Exist`). No effect on Bundles, whose entries say it themselves.
    /// Default: `false`.
    pub conditional_create: Option<bool>,
    /// Optional. Seconds each HTTP exchange (token requests included) may take. Default: 30.
    pub timeout_secs: Option<NonZeroU64>,
    /// Optional. `{ type = "smart" | "bearer" | "basic", .. }`: how to authenticate.
    /// Secrets are never written here: `bearer` and `basic` name environment variables.
    /// Default: no `Authorization` header.
    // Read by the loader from the table by hand, like `type`, so positions survive.
    #[serde(skip)]
    #[schemars(with = "Option<FhirAuthConfig>")]
    pub auth: Option<Spanned<FhirAuthConfig>>,
}

/// `auth` of a FHIR destination, selected by its `type`.
#[derive(Debug, Clone)]
pub enum FhirAuthConfig {
    /// `type = "smart"`.
    Smart(SmartAuthConfig),
    /// `type = "bearer"`.
    Bearer(BearerAuthConfig),
    /// `type = "basic"`.
    Basic(BasicAuthConfig),
}

impl FhirAuthConfig {
    /// The accepted values of `auth.type`.
    pub const TYPES: &[&str] = &["smart", "bearer", "basic"];
}

/// `auth = { type = "smart", .. }`: SMART Backend Services. The engine signs a JWT with its
/// private key and trades it for a short-lived access token, cached until shortly before it
/// expires.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmartAuthConfig {
    /// Required. The client id registered at the authorization server, e.g. `"ihub"`.
    #[schemars(with = "String")]
    pub client_id: Spanned<String>,
    /// Required. The PEM private key the assertions are signed with, relative to the working
    /// directory, e.g. `"certs/smart-rs384.pem"`.
    #[schemars(with = "String")]
    pub private_key: Spanned<String>,
    /// Required. `"RS384"` (an RSA key) or `"ES384"` (a P-384 key).
    #[schemars(with = "String")]
    pub algorithm: Spanned<String>,
    /// Required. The `kid` of the matching public key in the client's registered JWKS.
    #[schemars(with = "String")]
    pub key_id: Spanned<String>,
    /// Required. The scopes to ask for, space-separated, e.g. `"system/*.cruds"`.
    #[schemars(with = "String")]
    pub scope: Spanned<String>,
    /// Optional. The token endpoint URL. Default: read from
    /// `[base_url]/.well-known/smart-configuration`.
    #[schemars(with = "Option<String>")]
    pub token_endpoint: Option<Spanned<String>>,
}

/// `auth = { type = "bearer", token_env }`: a fixed bearer token.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BearerAuthConfig {
    /// Required. The environment variable holding the token, e.g. `"FHIR_TOKEN"`; it must be
    /// set when the channel is validated and started.
    #[schemars(with = "String")]
    pub token_env: Spanned<String>,
}

/// `auth = { type = "basic", username, password_env }`: HTTP Basic authentication.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthConfig {
    /// Required. The user name.
    #[schemars(with = "String")]
    pub username: Spanned<String>,
    /// Required. The environment variable holding the password, e.g. `"FHIR_PASSWORD"`; it
    /// must be set when the channel is validated and started.
    #[schemars(with = "String")]
    pub password_env: Spanned<String>,
}
