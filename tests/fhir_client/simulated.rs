//! The answers a real test server does not give on demand, from a simulated FHIR server and a
//! simulated token endpoint (axum on 127.0.0.1:0): 429 with `Retry-After`, 503, a timeout,
//! Basic credentials, a token that stops working (401 → new token → retry once), concurrent
//! callers sharing one token fetch. The token endpoint verifies each client assertion with the
//! public key, so the assertion's shape is checked here too, not just that a server took it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ihub::destination::{FhirDestination, FhirPayload, FhirSettings, Outcome};
use ihub::fhir::client::{FhirAuth, FhirClient};
use ihub::fhir::smart::{SmartAlgorithm, SmartSettings};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use tokio::net::TcpListener;

struct Sim {
    url: String,
    public_key: Vec<u8>,
    tokens_issued: AtomicUsize,
}

/// The simulator's state and the private key its client signs with.
struct Simulator {
    sim: Arc<Sim>,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

async fn start() -> Option<Simulator> {
    let dir = tempfile::tempdir().unwrap();
    let key = match super::servers::make_key(
        dir.path(),
        "sim",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    ) {
        Ok(key) => key,
        Err(reason) => {
            eprintln!("skipped: openssl could not make a key: {reason}");
            return None;
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Arc::new(Sim {
        url: format!("http://{}", listener.local_addr().unwrap()),
        public_key: std::fs::read(dir.path().join("sim.pub.pem")).unwrap(),
        tokens_issued: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/token", post(token))
        .route("/{mode}/R4/.well-known/smart-configuration", get(discovery))
        .route("/{mode}/R4/{*rest}", get(fhir).post(fhir))
        .with_state(sim.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Some(Simulator {
        sim,
        key,
        _dir: dir,
    })
}

async fn discovery(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(json!({ "token_endpoint": format!("{}/token", sim.url) })).into_response()
}

/// Checks the request and the assertion as SMART requires, then issues `token-N`.
async fn token(State(sim): State<Arc<Sim>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let refuse = |why: String| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "invalid_request", "error_description": why })),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        || form.get("scope").map(String::as_str) != Some("system/Patient.cruds")
    {
        return refuse(format!("bad form: {form:?}"));
    }
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    let header = jsonwebtoken::decode_header(&assertion).unwrap();
    assert_eq!(
        (header.alg, header.kid.as_deref(), header.typ.as_deref()),
        (Algorithm::RS384, Some("sim-kid"), Some("JWT"))
    );
    let mut validation = Validation::new(Algorithm::RS384);
    validation.set_audience(&[format!("{}/token", sim.url)]);
    validation.set_issuer(&["sim-client", "sim-short"]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let key = DecodingKey::from_rsa_pem(&sim.public_key).unwrap();
    let claims = match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(error) => return refuse(format!("assertion: {error}")),
    };
    assert_eq!(claims["sub"], claims["iss"]);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 300, "five minutes");
    assert!(
        uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok(),
        "jti is a UUID"
    );
    // Slow enough that concurrent callers overlap with the fetch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = sim.tokens_issued.fetch_add(1, Ordering::SeqCst) + 1;
    // `sim-short` gets two-second tokens, to see them replaced.
    let expires_in = if claims["iss"] == "sim-short" { 2 } else { 300 };
    let answer = json!({ "access_token": format!("token-{n}"), "token_type": "bearer",
                         "expires_in": expires_in });
    axum::Json(answer).into_response()
}

fn outcome(status: StatusCode, text: &str) -> Response {
    let body = json!({ "resourceType": "OperationOutcome", "issue": [{ "severity": "error", "code": "transient", "diagnostics": text }] });
    (
        status,
        [("content-type", "application/fhir+json")],
        body.to_string(),
    )
        .into_response()
}

/// `mode` picks the behaviour.
async fn fhir(Path((mode, _rest)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let created = || {
        (
            StatusCode::CREATED,
            [("location", "Patient/1/_history/1")],
            r#"{"resourceType":"Patient","id":"1"}"#,
        )
            .into_response()
    };
    match mode.as_str() {
        "busy" => {
            let mut response = outcome(StatusCode::TOO_MANY_REQUESTS, "rate limit");
            response
                .headers_mut()
                .insert("retry-after", "7".parse().unwrap());
            response
        }
        "down" => outcome(StatusCode::SERVICE_UNAVAILABLE, "maintenance"),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            created()
        }
        // Base64 of ihub:pa55 word.
        "basic" if auth == "Basic aWh1YjpwYTU1IHdvcmQ=" => created(),
        // The first token has been revoked; later ones work.
        "revoked" if auth.starts_with("Bearer token-") && auth != "Bearer token-1" => created(),
        "shared" if auth.starts_with("Bearer token-") => created(),
        _ => outcome(StatusCode::UNAUTHORIZED, "token not accepted"),
    }
}

fn destination(sim: &Simulator, mode: &str, auth: FhirAuth, timeout: Duration) -> FhirDestination {
    FhirDestination::new(FhirSettings {
        base_url: format!("{}/{mode}/R4", sim.sim.url),
        auth,
        timeout,
        payload: FhirPayload::Json,
        conditional_create: false,
        max_conditional_transaction_entries:
            ihub::destination::fhir::DEFAULT_MAX_CONDITIONAL_TRANSACTION_ENTRIES,
    })
    .unwrap()
}

fn smart(sim: &Simulator) -> FhirAuth {
    FhirAuth::Smart(SmartSettings {
        client_id: "sim-client".into(),
        private_key_file: sim.key.clone(),
        algorithm: SmartAlgorithm::Rs384,
        key_id: "sim-kid".into(),
        scope: "system/Patient.cruds".into(),
        token_endpoint: None,
    })
}

const PATIENT: &[u8] = br#"{"resourceType":"Patient"}"#;

#[tokio::test]
async fn simulated_429_503_and_timeouts_are_retries_honouring_retry_after() {
    let Some(sim) = start().await else { return };
    let long = Duration::from_secs(10);
    assert_eq!(
        destination(&sim, "busy", FhirAuth::None, long)
            .send(PATIENT)
            .await,
        Outcome::Retry {
            error: "HTTP 429 Too Many Requests: error transient: rate limit".into(),
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        destination(&sim, "down", FhirAuth::None, long)
            .send(PATIENT)
            .await,
        Outcome::Retry {
            error: "HTTP 503 Service Unavailable: error transient: maintenance".into(),
            after: None
        }
    );
    let started = std::time::Instant::now();
    let Outcome::Retry { error, after: None } =
        destination(&sim, "slow", FhirAuth::None, Duration::from_millis(300))
            .send(PATIENT)
            .await
    else {
        panic!("a timeout is a retry");
    };
    assert!(error.starts_with("no response within 0.3 s"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn simulated_basic_credentials_are_sent() {
    let Some(sim) = start().await else { return };
    let basic = |password: &str| FhirAuth::Basic {
        username: "ihub".into(),
        password: password.into(),
    };
    let timeout = Duration::from_secs(10);
    let Outcome::Delivered {
        response: Some(summary),
    } = destination(&sim, "basic", basic("pa55 word"), timeout)
        .send(PATIENT)
        .await
    else {
        panic!("the right credentials are accepted");
    };
    assert_eq!(
        String::from_utf8(summary).unwrap(),
        r#"{"id":"Patient/1","location":"Patient/1/_history/1","status":201}"#
    );
    assert_eq!(
        destination(&sim, "basic", basic("wrong"), timeout)
            .send(PATIENT)
            .await,
        Outcome::Reject {
            error: "HTTP 401 Unauthorized: error transient: token not accepted".into()
        }
    );
}

#[tokio::test]
async fn simulated_revoked_token_is_replaced_once_then_the_401_stands() {
    let Some(sim) = start().await else { return };
    let timeout = Duration::from_secs(10);
    let revoked = destination(&sim, "revoked", smart(&sim), timeout);
    assert!(matches!(
        revoked.send(PATIENT).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(
        sim.sim.tokens_issued.load(Ordering::SeqCst),
        2,
        "token-1 refused, token-2 fetched"
    );
    assert!(matches!(
        revoked.send(PATIENT).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(
        sim.sim.tokens_issued.load(Ordering::SeqCst),
        2,
        "token-2 is cached"
    );

    let never = destination(&sim, "never", smart(&sim), timeout);
    let Outcome::Reject { error } = never.send(PATIENT).await else {
        panic!("a 401 after a fresh token is final")
    };
    assert!(error.starts_with("HTTP 401"), "{error}");
    assert_eq!(
        sim.sim.tokens_issued.load(Ordering::SeqCst),
        4,
        "one fetch, one renewal, no more"
    );
}

#[tokio::test]
async fn simulated_concurrent_requests_share_one_token_fetch() {
    let Some(sim) = start().await else { return };
    let client = Arc::new(
        FhirClient::new(
            &format!("{}/shared/R4", sim.sim.url),
            smart(&sim),
            Duration::from_secs(10),
        )
        .unwrap(),
    );
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.create(&json!({"resourceType": "Patient"})).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, 201);
    }
    assert_eq!(sim.sim.tokens_issued.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn simulated_tokens_are_replaced_before_they_expire() {
    let Some(sim) = start().await else { return };
    let FhirAuth::Smart(mut settings) = smart(&sim) else {
        unreachable!()
    };
    settings.client_id = "sim-short".into();
    let dest = destination(
        &sim,
        "shared",
        FhirAuth::Smart(settings),
        Duration::from_secs(10),
    );
    assert!(matches!(
        dest.send(PATIENT).await,
        Outcome::Delivered { .. }
    ));
    assert!(matches!(
        dest.send(PATIENT).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(
        sim.sim.tokens_issued.load(Ordering::SeqCst),
        1,
        "still fresh"
    );
    // A 2 s token is kept for half its life, then replaced.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(matches!(
        dest.send(PATIENT).await,
        Outcome::Delivered { .. }
    ));
    assert_eq!(sim.sim.tokens_issued.load(Ordering::SeqCst), 2, "replaced");
}
