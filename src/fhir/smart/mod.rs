//! SMART Backend Services (SMART App Launch 2.x, "Backend Services"): how a server-side client
//! gets an access token without a user.
//!
//! The client proves who it is with a JWT it signs itself (`private_key_jwt`, RFC 7523): issuer
//! and subject are the client id, the audience is the token endpoint, it expires within five
//! minutes and carries a fresh `jti` so it cannot be replayed. It sends that assertion in a
//! `client_credentials` token request and gets a short-lived bearer token for the FHIR server.
//!
//! [`SmartAuth`] does this once and keeps the token until shortly before it expires. Callers that
//! need a token at the same time wait for one fetch (a Tokio mutex held across it) instead of each
//! asking the authorization server. When the FHIR server still answers 401, the FHIR client calls
//! [`SmartAuth::forget`] and asks again once: the token was revoked or the server's clock differs.
//!
//! The token endpoint is configured, or read from `{base}/.well-known/smart-configuration`.
//! Nothing here logs a token or an assertion.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, StatusCode, Url};
use serde::Serialize;
use tokio::sync::{Mutex, OnceCell};

use token::{discover_token_endpoint, parse_http_url, request_token};

/// Discovery and the token request over HTTP.
mod token;

/// How long a client assertion is valid: SMART says no more than five minutes.
const ASSERTION_LIFETIME_SECS: u64 = 300;

/// A cached token is replaced this long before it expires, so a request never leaves with a
/// token that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// The signature algorithms SMART requires servers to support for client assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-384; the key is an RSA private key (PKCS#1 or PKCS#8 PEM).
    Rs384,
    /// ECDSA on P-384 with SHA-384; the key is a P-384 private key in PKCS#8 PEM.
    Es384,
}

impl SmartAlgorithm {
    /// Reads `RS384` or `ES384` (the JOSE names, any case), as a channel file spells them.
    pub fn parse(name: &str) -> Option<SmartAlgorithm> {
        match name.to_ascii_uppercase().as_str() {
            "RS384" => Some(SmartAlgorithm::Rs384),
            "ES384" => Some(SmartAlgorithm::Es384),
            _ => None,
        }
    }

    /// The JOSE name, `RS384` or `ES384`.
    pub fn name(self) -> &'static str {
        match self {
            SmartAlgorithm::Rs384 => "RS384",
            SmartAlgorithm::Es384 => "ES384",
        }
    }

    fn jose(self) -> Algorithm {
        match self {
            SmartAlgorithm::Rs384 => Algorithm::RS384,
            SmartAlgorithm::Es384 => Algorithm::ES384,
        }
    }
}

/// What a SMART Backend Services client is registered with at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartSettings {
    /// The client id the authorization server gave this engine.
    pub client_id: String,
    /// The PEM file holding the private key the assertions are signed with (kept in `certs/`).
    pub private_key_file: PathBuf,
    /// The key's algorithm.
    pub algorithm: SmartAlgorithm,
    /// The key id (`kid`) of the matching public key in the JWKS registered for the client.
    pub key_id: String,
    /// The scopes to ask for, space-separated, e.g. `system/Patient.cruds system/Observation.cruds`.
    pub scope: String,
    /// The token endpoint; `None` reads it from the FHIR server's SMART configuration.
    pub token_endpoint: Option<String>,
}

/// Settings that cannot work, found before any message is sent.
#[derive(Debug, thiserror::Error)]
pub enum SmartSetupError {
    /// The key file cannot be read.
    #[error("cannot read the SMART private key {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file holds no private key of the configured kind.
    #[error("{path} is not an {} private key in PEM form: {reason}", algorithm.name())]
    Key {
        /// The file.
        path: PathBuf,
        /// The configured algorithm.
        algorithm: SmartAlgorithm,
        /// The key parser's reason.
        reason: String,
    },
    /// The token endpoint is not an http(s) URL.
    #[error("invalid SMART token endpoint \"{url}\": {reason}")]
    TokenEndpoint {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Client id, key id or scope is empty.
    #[error("the SMART setting `{0}` must not be empty")]
    Empty(&'static str),
}

/// Why no access token could be had. The texts quote what the authorization server said, never
/// the assertion or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmartError {
    /// The discovery document or the token endpoint could not be reached or timed out.
    #[error("SMART {step}: {reason}")]
    Transport {
        /// `discovery` or `token request`.
        step: &'static str,
        /// The transport error.
        reason: String,
    },
    /// The server answered with an error status (for a token request, with the OAuth error).
    #[error("SMART {step}: HTTP {status}: {reason}")]
    Status {
        /// `discovery` or `token request`.
        step: &'static str,
        /// The status.
        status: StatusCode,
        /// The OAuth `error` and `error_description`, or the start of the body.
        reason: String,
    },
    /// A 2xx answer without what it must hold.
    #[error("SMART {step}: unusable answer: {reason}")]
    Response {
        /// `discovery` or `token request`.
        step: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The client assertion could not be signed.
    #[error("SMART: cannot sign the client assertion: {0}")]
    Sign(String),
}

/// A token and when to stop using it.
struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// A SMART Backend Services client: signs assertions, fetches and caches access tokens.
pub struct SmartAuth {
    settings: SmartSettings,
    key: EncodingKey,
    token_endpoint: OnceCell<Url>,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for SmartAuth {
    // The key and the token stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartAuth")
            .field("client_id", &self.settings.client_id)
            .field("key_id", &self.settings.key_id)
            .field("algorithm", &self.settings.algorithm)
            .field("scope", &self.settings.scope)
            .finish_non_exhaustive()
    }
}

/// The claims of a client assertion (SMART Backend Services, "Authentication JWT").
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    iat: u64,
    jti: String,
}

impl SmartAuth {
    /// Reads the private key and checks the settings.
    pub fn new(settings: SmartSettings) -> Result<SmartAuth, SmartSetupError> {
        for (name, value) in [
            ("client_id", &settings.client_id),
            ("key_id", &settings.key_id),
            ("scope", &settings.scope),
        ] {
            if value.trim().is_empty() {
                return Err(SmartSetupError::Empty(name));
            }
        }
        let path = &settings.private_key_file;
        let pem = std::fs::read(path).map_err(|error| SmartSetupError::KeyFile {
            path: path.clone(),
            reason: error.to_string(),
        })?;
        let key = match settings.algorithm {
            SmartAlgorithm::Rs384 => EncodingKey::from_rsa_pem(&pem),
            SmartAlgorithm::Es384 => EncodingKey::from_ec_pem(&pem),
        }
        .map_err(|error| SmartSetupError::Key {
            path: path.clone(),
            algorithm: settings.algorithm,
            reason: error.to_string(),
        })?;
        let token_endpoint = OnceCell::new();
        if let Some(url) = &settings.token_endpoint {
            let parsed = parse_http_url(url).map_err(|reason| SmartSetupError::TokenEndpoint {
                url: url.clone(),
                reason,
            })?;
            // A fresh cell cannot be full.
            let _ = token_endpoint.set(parsed);
        }
        Ok(SmartAuth {
            settings,
            key,
            token_endpoint,
            token: Mutex::new(None),
        })
    }

    /// A valid access token for the FHIR server at `fhir_base`: the cached one, or a new one.
    /// `timeout` bounds each request to the authorization server.
    pub async fn access_token(
        &self,
        http: &Client,
        fhir_base: &Url,
        timeout: Duration,
    ) -> Result<String, SmartError> {
        // Held across the fetch: concurrent callers wait for this one token.
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(token.value.clone());
        }
        let endpoint = self
            .token_endpoint
            .get_or_try_init(|| discover_token_endpoint(http, fhir_base, timeout))
            .await?;
        let assertion = self.assertion(endpoint.as_str())?;
        let (value, lifetime) =
            request_token(http, endpoint, &self.settings.scope, &assertion, timeout).await?;
        let keep = lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + keep,
        });
        Ok(value)
    }

    /// Drops `token` from the cache (the FHIR server refused it), so the next call fetches a new
    /// one. A token another caller has already replaced is left alone.
    pub async fn forget(&self, token: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == token) {
            *cached = None;
        }
    }

    /// Signs a client assertion for `audience` (the token endpoint), valid for five minutes.
    fn assertion(&self, audience: &str) -> Result<String, SmartError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = AssertionClaims {
            iss: &self.settings.client_id,
            sub: &self.settings.client_id,
            aud: audience,
            exp: now + ASSERTION_LIFETIME_SECS,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(self.settings.algorithm.jose());
        header.kid = Some(self.settings.key_id.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|error| SmartError::Sign(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(path: &std::path::Path) -> SmartSettings {
        SmartSettings {
            client_id: "ihub".into(),
            private_key_file: path.to_owned(),
            algorithm: SmartAlgorithm::Rs384,
            key_id: "k1".into(),
            scope: "system/*.rs".into(),
            token_endpoint: None,
        }
    }

    #[test]
    fn algorithms_by_their_jose_names() {
        assert_eq!(SmartAlgorithm::parse("RS384"), Some(SmartAlgorithm::Rs384));
        assert_eq!(SmartAlgorithm::parse("es384"), Some(SmartAlgorithm::Es384));
        assert_eq!(SmartAlgorithm::parse("RS256"), None);
    }

    #[test]
    fn unusable_settings_name_the_problem() {
        let missing = std::path::Path::new("/nonexistent/smart.key");
        let error = SmartAuth::new(settings(missing)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the SMART private key /nonexistent/smart.key"),
            "{error}"
        );
        let dir = tempfile::tempdir().unwrap();
        let not_a_key = dir.path().join("junk.pem");
        std::fs::write(
            &not_a_key,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = SmartAuth::new(settings(&not_a_key)).unwrap_err();
        assert!(matches!(error, SmartSetupError::Key { .. }), "{error}");
        assert!(
            error.to_string().contains("is not an RS384 private key"),
            "{error}"
        );
        let empty_scope = SmartSettings {
            scope: " ".into(),
            ..settings(&not_a_key)
        };
        assert_eq!(
            SmartAuth::new(empty_scope).unwrap_err().to_string(),
            "the SMART setting `scope` must not be empty"
        );
    }
}
