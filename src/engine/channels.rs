//! Starting and stopping one channel: scripts compiled, destinations built, delivery workers and
//! the source spawned — all from a validated [`ChannelSpec`], so nothing here re-checks
//! configuration; what can still fail is what only the machine can say (a port in use, a
//! certificate file that disappeared, a script that no longer compiles).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::delivery::DeliveryWorker;
use crate::channel::runner::{ChannelMapping, Pipeline, Route, TransformStage};
use crate::channel::{
    ChannelSpec, DestinationKind, DestinationSpec, FhirAuthSpec, FhirConvert, SourceSpec,
};
use crate::destination::fhir::{DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES, hl7v2_converter};
use crate::destination::file::{FileDestination, FileSettings};
use crate::destination::http::{HttpDestination, HttpSettings};
use crate::destination::mllp::{MllpDestination, MllpSettings};
use crate::destination::{Destination, FhirDestination, FhirPayload, FhirSettings, RetryPolicy};
use crate::fhir::client::FhirAuth;
use crate::mllp::TlsClientConfig;
use crate::mllp::server::ListenerSettings;
use crate::script::{Filter, MAPPINGS_DIR, SCRIPTS_DIR, ScriptEngine, ScriptEnv, Transform};
use crate::source::file::FileSourceSettings;
use crate::store::{self, Store};

/// How long a stopping channel may take to finish what it is doing.
pub const STOP_GRACE: Duration = Duration::from_secs(8);

/// A channel that is running: its spec, what it listens on, and how to stop it.
pub struct RunningChannel {
    /// The validated channel file it was started from.
    pub spec: ChannelSpec,
    /// The address the source actually bound (port 0 resolved), if it listens.
    pub bound: Option<SocketAddr>,
    /// The pipeline, shared with the source.
    pub pipeline: Arc<Pipeline>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningChannel {
    /// Stops the source (no new messages) and the workers (after the attempt in flight), and
    /// waits for them, at most [`STOP_GRACE`]. Queued messages stay in the store.
    pub async fn stop(self) {
        self.stop.cancel();
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
            tracing::warn!(channel = %self.spec.id, "Channel tasks did not stop in time.");
        }
    }
}

/// A channel's scripts and mappings, compiled and loaded once for all its messages: what a
/// [`Pipeline`] runs.
pub struct ChannelScripts {
    /// The `[filter] accept` expression.
    pub filter: Option<Arc<Filter>>,
    /// The `[transform]`: its mapping and/or script.
    pub transform: Option<Arc<TransformStage>>,
    /// Each destination's `transform = { script, mapping }`, in the spec's destination order.
    pub destinations: Vec<Option<Arc<TransformStage>>>,
}

/// Compiles the filter and every transform script of `spec` with one engine (the channel's
/// limits, its lookup tables from `scripts/lookups/`, `scripts/lib/` for imports, and the
/// mapping files of `mappings/` for `map_fields`, all read now), and loads the transforms'
/// mapping files. Anything that runs a channel's messages (the engine, `ihub test`) builds
/// them here.
pub fn compile_scripts(spec: &ChannelSpec) -> anyhow::Result<ChannelScripts> {
    let scripted = spec.filter.is_some()
        || spec.transform.is_some()
        || spec.mapping.is_some()
        || spec
            .destinations
            .iter()
            .any(|d| d.transform.is_some() || d.mapping.is_some());
    let env = if scripted {
        ScriptEnv::load(spec.id.as_str(), Path::new(SCRIPTS_DIR))
            .context("the lookup tables")?
            .with_mappings(Path::new(MAPPINGS_DIR))
            .context("the mapping files for map_fields")?
    } else {
        // No script or mapping to call lookup or map_fields: nothing to read.
        ScriptEnv::default()
    };
    let engine = Arc::new(ScriptEngine::with_env(spec.limits.clone(), env));
    let filter = match &spec.filter {
        Some(expression) => Some(Arc::new(
            Filter::compile(&engine, expression).context("the filter")?,
        )),
        None => None,
    };
    let stage = |script: &Option<PathBuf>, mapping: &Option<PathBuf>| -> anyhow::Result<_> {
        if script.is_none() && mapping.is_none() {
            return Ok(None);
        }
        let mapping = match mapping {
            Some(path) => Some(
                ChannelMapping::load(path, &engine.env().lookups).map_err(anyhow::Error::msg)?,
            ),
            None => None,
        };
        let script = match script {
            Some(path) => Some(Arc::new(Transform::from_file(&engine, path)?)),
            None => None,
        };
        Ok(Some(Arc::new(TransformStage { mapping, script })))
    };
    let transform = stage(&spec.transform, &spec.mapping).context("the transform")?;
    let mut destinations = Vec::new();
    for d in &spec.destinations {
        destinations.push(
            stage(&d.transform, &d.mapping)
                .with_context(|| format!("the transform of destination \"{}\"", d.name))?,
        );
    }
    Ok(ChannelScripts {
        filter,
        transform,
        destinations,
    })
}

/// Starts a channel.
pub async fn start(spec: ChannelSpec, store: &Store) -> anyhow::Result<RunningChannel> {
    let id = spec.id.to_string();
    let scripts = compile_scripts(&spec)?;
    let ChannelScripts {
        filter,
        transform,
        destinations: mut destination_transforms,
    } = scripts;
    destination_transforms.reverse();
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut routes = Vec::new();
    for destination in &spec.destinations {
        let wake = Arc::new(Notify::new());
        let worker = DeliveryWorker {
            channel: id.clone(),
            name: destination.name.clone(),
            destination: build_destination(destination)
                .with_context(|| format!("destination \"{}\"", destination.name))?,
            retry: RetryPolicy::try_new(
                destination.retry.attempts,
                destination.retry.initial_backoff,
                destination.retry.max_backoff,
            )
            .with_context(|| format!("destination \"{}\": retry", destination.name))?,
            ordered: destination.ordered,
            store: store.clone(),
            wake: wake.clone(),
        };
        tasks.push(tokio::spawn(worker.run(stop.clone())));
        routes.push(Route {
            name: destination.name.clone(),
            send_original: destination.send_original,
            transform: destination_transforms.pop().flatten(),
            wake,
        });
    }
    let pipeline = Arc::new(Pipeline {
        channel: id.clone(),
        store: store.clone(),
        filter,
        transform,
        routes,
        durability: match spec.durability {
            crate::channel::Durability::Sync => store::Durability::Sync,
            crate::channel::Durability::Interval { flush_interval } => {
                store::Durability::Interval {
                    max_delay_ms: flush_interval.as_millis() as u64,
                }
            }
        },
        ack_mode: match &spec.source {
            SourceSpec::Mllp(mllp) => mllp.ack,
            _ => crate::channel::AckMode::Original,
        },
        duplicate_window: spec.duplicates.window,
        duplicate_action: spec.duplicates.action,
        meters: Default::default(),
    });
    let started = start_source(&spec.source, pipeline.clone(), stop.clone()).await;
    let (bound, source_task) = match started {
        Ok(pair) => pair,
        Err(error) => {
            // Do not leave the workers of a channel that could not start.
            stop.cancel();
            return Err(error);
        }
    };
    tasks.push(source_task);
    Ok(RunningChannel {
        spec,
        bound,
        pipeline,
        stop,
        tasks,
    })
}

async fn start_source(
    source: &SourceSpec,
    pipeline: Arc<Pipeline>,
    stop: CancellationToken,
) -> anyhow::Result<(Option<SocketAddr>, JoinHandle<()>)> {
    match source {
        SourceSpec::Mllp(mllp) => {
            let tls = match &mllp.tls {
                Some(tls) => Some(
                    crate::mllp::tls::server_config(&tls.cert, &tls.key, tls.client_ca.as_deref())
                        .context("the listener's TLS settings")?,
                ),
                None => None,
            };
            let settings = ListenerSettings {
                tls,
                max_connections: mllp.max_connections,
                max_message_bytes: mllp.max_message_bytes,
                idle_timeout: mllp.idle_timeout,
                read_timeout: mllp.read_timeout,
            };
            let (bound, task) = crate::source::mllp::start(mllp.listen, settings, pipeline, stop)
                .await
                .with_context(|| format!("cannot listen on {}", mllp.listen))?;
            Ok((Some(bound), task))
        }
        SourceSpec::Http(http) => {
            let (bound, task) = crate::source::http::start(
                http.listen,
                &http.path,
                http.max_body_bytes,
                pipeline,
                stop,
            )
            .await
            .with_context(|| format!("cannot listen on {}", http.listen))?;
            Ok((Some(bound), task))
        }
        SourceSpec::File(file) => {
            tokio::fs::create_dir_all(&file.directory)
                .await
                .with_context(|| format!("cannot create {}", file.directory.display()))?;
            let settings = FileSourceSettings {
                directory: file.directory.clone(),
                glob: file.glob.clone(),
                poll_interval: file.poll_interval,
                done_directory: file.done_directory.clone(),
                error_directory: file.error_directory.clone(),
            };
            Ok((None, crate::source::file::start(settings, pipeline, stop)))
        }
    }
}

fn build_destination(spec: &DestinationSpec) -> anyhow::Result<Destination> {
    Ok(match &spec.kind {
        DestinationKind::Mllp(mllp) => {
            let tls = match &mllp.tls {
                None => None,
                Some(tls) => {
                    let config = match &tls.identity {
                        Some(identity) => {
                            TlsClientConfig::mutual(&tls.ca, &identity.cert, &identity.key)?
                        }
                        None => TlsClientConfig::from_ca_pem(&tls.ca)?,
                    };
                    Some(match &tls.server_name {
                        Some(name) => config.with_server_name(name)?,
                        None => config,
                    })
                }
            };
            Destination::Mllp(MllpDestination::new(MllpSettings {
                endpoint: mllp.endpoint.clone(),
                tls,
                ack_timeout: mllp.ack_timeout,
                connect_timeout: mllp.ack_timeout.min(Duration::from_secs(10)),
                reject_on_ar: mllp.reject_on_ar,
            })?)
        }
        DestinationKind::Http(http) => Destination::Http(HttpDestination::new(HttpSettings {
            url: http.url.clone(),
            method: http.method.as_str().to_string(),
            headers: http.headers.clone(),
            timeout: http.timeout,
            content_type: http
                .content_type
                .clone()
                .unwrap_or_else(|| "application/hl7-v2".to_string()),
        })?),
        DestinationKind::File(file) => Destination::File(FileDestination::new(FileSettings {
            directory: file.directory.clone(),
            filename: file.filename.clone(),
        })?),
        DestinationKind::Fhir(fhir) => Destination::Fhir(FhirDestination::new(FhirSettings {
            base_url: fhir.base_url.clone(),
            auth: fhir_auth(&fhir.auth)?,
            timeout: fhir.timeout,
            payload: match fhir.convert {
                FhirConvert::Hl7v2ToFhir => FhirPayload::Convert(hl7v2_converter()),
                FhirConvert::None => FhirPayload::Json,
            },
            conditional_create: fhir.conditional_create,
            max_conditional_transaction_entries: DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
        })?),
    })
}

/// The FHIR client's credentials, the secrets read from the environment now (they were set
/// when the file was validated, but the engine may start in another environment).
fn fhir_auth(auth: &FhirAuthSpec) -> anyhow::Result<FhirAuth> {
    let secret = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.is_empty())
            .with_context(|| format!("environment variable {name} is not set (or is empty)"))
    };
    Ok(match auth {
        FhirAuthSpec::None => FhirAuth::None,
        FhirAuthSpec::Bearer { token_env } => FhirAuth::Bearer {
            token: secret(token_env)?,
        },
        FhirAuthSpec::Basic {
            username,
            password_env,
        } => FhirAuth::Basic {
            username: username.clone(),
            password: secret(password_env)?,
        },
        FhirAuthSpec::Smart(settings) => FhirAuth::Smart(settings.clone()),
    })
}
