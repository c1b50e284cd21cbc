//! [`FhirClient`]: the FHIR R4 REST interactions the engine needs (read, search, create,
//! conditional create, update, transaction/batch) against one server, with its authentication.
//!
//! Every call is one HTTP exchange bounded by the client's timeout; the only repeat is one
//! retry after a 401 when the token came from SMART Backend Services (a fresh token may be
//! accepted where the cached one was revoked). Everything else — 429, 5xx, timeouts — comes back
//! as a [`FhirError`] for the caller to classify, because the delivery worker owns retries.
//!
//! - `auth`: [`FhirAuth`] and the `Authorization` header it becomes.
//! - `error`: [`FhirError`] and the OperationOutcome summary.

mod auth;
mod error;

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, ETAG, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::Value;

pub use auth::{FhirAuth, FhirSetupError};
pub use error::{FhirError, operation_outcome_text};

use auth::Credentials;

/// The FHIR JSON media type (FHIR R4 §3.1.0.1.9).
const FHIR_JSON: &str = "application/fhir+json";

/// Largest response body read; beyond it the answer is cut off and reported as unusable.
/// Transaction responses with every resource echoed back can be large, so this is generous.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What the server answered to a successful interaction.
#[derive(Debug, Clone, PartialEq)]
pub struct FhirResponse {
    /// The status, e.g. 201 for a create, 200 for a read or a transaction.
    pub status: StatusCode,
    /// The `Location` header: where a created resource lives, with its version.
    pub location: Option<String>,
    /// The `ETag` header: the version (`W/"1"`).
    pub etag: Option<String>,
    /// The body: the resource, a Bundle (search, transaction-response), or `None` when empty.
    pub body: Option<Value>,
}

/// A client for one FHIR server. Cheap to share behind an `Arc`; calls may run concurrently.
#[derive(Debug)]
pub struct FhirClient {
    http: Client,
    base: Url,
    credentials: Credentials,
    timeout: Duration,
}

impl FhirClient {
    /// A client for the server at `base_url` (e.g. `https://fhir.example.org/R4`), with its own
    /// connection pool. `timeout` bounds each HTTP exchange, token requests included.
    pub fn new(
        base_url: &str,
        auth: FhirAuth,
        timeout: Duration,
    ) -> Result<FhirClient, FhirSetupError> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| FhirSetupError::Client(crate::destination::error_chain(&error)))?;
        FhirClient::with_client(base_url, auth, timeout, http)
    }

    /// Like [`FhirClient::new`] on the caller's HTTP client (the engine's shared pool, custom
    /// trust). Redirects should be off: a redirected POST can turn into a GET.
    pub fn with_client(
        base_url: &str,
        auth: FhirAuth,
        timeout: Duration,
        http: Client,
    ) -> Result<FhirClient, FhirSetupError> {
        let bad_url = |reason: String| FhirSetupError::BaseUrl {
            url: base_url.to_owned(),
            reason,
        };
        // A trailing slash makes `Url::join` append instead of replacing the last segment.
        let mut base = Url::parse(base_url).map_err(|error| bad_url(error.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad_url(format!(
                "scheme \"{}\" is not http or https",
                base.scheme()
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad_url("a base URL has no query or fragment".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        if timeout.is_zero() {
            return Err(FhirSetupError::ZeroTimeout);
        }
        let credentials = Credentials::new(auth)?;
        Ok(FhirClient {
            http,
            base,
            credentials,
            timeout,
        })
    }

    /// The base URL, always ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET [base]/[type]/[id]`: the current version of a resource.
    pub async fn read(&self, resource_type: &str, id: &str) -> Result<FhirResponse, FhirError> {
        let url = self.url(&format!("{}/{}", check_type(resource_type)?, check_id(id)?))?;
        self.execute(Method::GET, url, None, None).await
    }

    /// `GET [base]/[type]?name=value&…`: a search; the body is a `searchset` Bundle.
    pub async fn search(
        &self,
        resource_type: &str,
        params: &[(&str, &str)],
    ) -> Result<FhirResponse, FhirError> {
        let mut url = self.url(check_type(resource_type)?)?;
        url.query_pairs_mut().extend_pairs(params);
        self.execute(Method::GET, url, None, None).await
    }

    /// `POST [base]/[type]`: creates the resource; the server assigns the id.
    pub async fn create(&self, resource: &Value) -> Result<FhirResponse, FhirError> {
        let url = self.url(check_type(resource_type_of(resource)?)?)?;
        self.execute(Method::POST, url, Some(resource), None).await
    }

    /// `POST [base]/[type]` with `If-None-Exist: <search>`: creates the resource unless one
    /// matches the search (e.g. `identifier=http://hosp.example/mrn|123`), in which case the
    /// server answers 200 with the existing one and nothing is created.
    pub async fn conditional_create(
        &self,
        resource: &Value,
        if_none_exist: &str,
    ) -> Result<FhirResponse, FhirError> {
        let url = self.url(check_type(resource_type_of(resource)?)?)?;
        let condition = HeaderValue::from_str(if_none_exist).map_err(|_| FhirError::Request {
            reason: "the If-None-Exist search contains characters not allowed in a header".into(),
        })?;
        self.execute(Method::POST, url, Some(resource), Some(condition))
            .await
    }

    /// `PUT [base]/[type]/[id]`: replaces the resource with the `id` it carries.
    pub async fn update(&self, resource: &Value) -> Result<FhirResponse, FhirError> {
        let resource_type = check_type(resource_type_of(resource)?)?;
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| FhirError::Request {
                reason: format!("an update needs the {resource_type}'s id"),
            })?;
        let url = self.url(&format!("{resource_type}/{}", check_id(id)?))?;
        self.execute(Method::PUT, url, Some(resource), None).await
    }

    /// `POST [base]` with a Bundle of type `transaction` (all or nothing) or `batch` (each
    /// entry on its own); the body is the `transaction-response` / `batch-response`.
    pub async fn transaction(&self, bundle: &Value) -> Result<FhirResponse, FhirError> {
        if resource_type_of(bundle)? != "Bundle" {
            return Err(FhirError::Request {
                reason: "a transaction is a Bundle".into(),
            });
        }
        let kind = bundle
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind != "transaction" && kind != "batch" {
            return Err(FhirError::Request {
                reason: format!("Bundle.type is \"{kind}\", not transaction or batch"),
            });
        }
        self.execute(Method::POST, self.base.clone(), Some(bundle), None)
            .await
    }

    fn url(&self, path: &str) -> Result<Url, FhirError> {
        self.base.join(path).map_err(|error| FhirError::Request {
            reason: format!("cannot build the URL for {path}: {error}"),
        })
    }

    /// One interaction, repeated once with a new SMART token after a 401.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        if_none_exist: Option<HeaderValue>,
    ) -> Result<FhirResponse, FhirError> {
        let body =
            body.map(serde_json::to_vec)
                .transpose()
                .map_err(|error| FhirError::Request {
                    reason: format!("the resource cannot be serialized: {error}"),
                })?;
        let mut renewed = false;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .header(ACCEPT, FHIR_JSON)
                .timeout(self.timeout);
            if let Some(body) = &body {
                request = request.header(CONTENT_TYPE, FHIR_JSON).body(body.clone());
            }
            if let Some(condition) = &if_none_exist {
                request = request.header("if-none-exist", condition.clone());
            }
            let (request, token) = self
                .credentials
                .authorize(request, &self.http, &self.base, self.timeout)
                .await?;
            let response = request
                .send()
                .await
                .map_err(|error| self.transport(error))?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !renewed
                && let (Credentials::Smart(smart), Some(token)) = (&self.credentials, &token)
            {
                smart.forget(token).await;
                renewed = true;
                continue;
            }
            return self.finish(response).await;
        }
    }

    /// Turns the answer into a [`FhirResponse`] or a [`FhirError::Status`].
    async fn finish(&self, mut response: reqwest::Response) -> Result<FhirResponse, FhirError> {
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (location, etag, retry_after) = (header(LOCATION), header(ETAG), header(RETRY_AFTER));
        let mut bytes = Vec::new();
        let mut cut = false;
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES => {
                    cut = true;
                    break;
                }
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                // An error answer whose body broke off still says what the status says.
                Err(_) if !status.is_success() => break,
                Err(error) => return Err(self.transport(error)),
            }
        }
        if !status.is_success() {
            return Err(FhirError::Status {
                status,
                diagnostics: error::describe_error_body(&bytes),
                retry_after,
            });
        }
        if cut {
            return Err(FhirError::Response {
                status,
                reason: format!("larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            Some(
                serde_json::from_slice(&bytes).map_err(|error| FhirError::Response {
                    status,
                    reason: format!("not JSON: {error}"),
                })?,
            )
        };
        Ok(FhirResponse {
            status,
            location,
            etag,
            body,
        })
    }

    /// A transport failure as text, without the URL (its query may hold search values).
    fn transport(&self, error: reqwest::Error) -> FhirError {
        let (timed_out, connect) = (error.is_timeout(), error.is_connect());
        let chain = crate::destination::error_chain(&error.without_url());
        let reason = if timed_out {
            format!(
                "no response within {} s: {chain}",
                self.timeout.as_secs_f64()
            )
        } else if connect {
            format!("could not connect: {chain}")
        } else {
            chain
        };
        FhirError::Transport { reason }
    }
}

/// The `resourceType` of a resource given as JSON.
fn resource_type_of(resource: &Value) -> Result<&str, FhirError> {
    resource
        .get("resourceType")
        .and_then(Value::as_str)
        .ok_or_else(|| FhirError::Request {
            reason: "the JSON has no resourceType".into(),
        })
}

/// A resource type name: letters only, starting upper-case (so it cannot add path segments).
fn check_type(name: &str) -> Result<&str, FhirError> {
    let mut chars = name.chars();
    if chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphabetic())
    {
        Ok(name)
    } else {
        Err(FhirError::Request {
            reason: format!("\"{name}\" is not a resource type"),
        })
    }
}

/// A FHIR id: 1–64 of `A-Z a-z 0-9 - .` (FHIR R4 `id` datatype).
fn check_id(id: &str) -> Result<&str, FhirError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(id)
    } else {
        Err(FhirError::Request {
            reason: format!("\"{id}\" is not a FHIR id"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client(base: &str) -> Result<FhirClient, FhirSetupError> {
        FhirClient::new(base, FhirAuth::None, Duration::from_secs(5))
    }

    #[test]
    fn base_urls_are_checked_and_end_in_a_slash() {
        assert_eq!(
            client("http://127.0.0.1:1/fhir/R4")
                .unwrap()
                .base_url()
                .as_str(),
            "http://127.0.0.1:1/fhir/R4/"
        );
        assert_eq!(
            client("https://h.example/R4/").unwrap().base_url().as_str(),
            "https://h.example/R4/"
        );
        for bad in ["fhir.example.org", "ftp://h/R4", "http://h/R4?x=1"] {
            assert!(
                matches!(client(bad), Err(FhirSetupError::BaseUrl { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            FhirClient::new("http://h/", FhirAuth::None, Duration::ZERO),
            Err(FhirSetupError::ZeroTimeout)
        ));
    }

    #[test]
    fn credentials_stay_out_of_debug_output_and_bad_ones_are_refused() {
        let bearer = FhirAuth::Bearer {
            token: "s3cret".into(),
        };
        let basic = FhirAuth::Basic {
            username: "ihub".into(),
            password: "pa55".into(),
        };
        assert!(!format!("{bearer:?}{basic:?}").contains("s3cret"));
        assert!(!format!("{basic:?}").contains("pa55"));
        let built = FhirClient::new("http://h/", basic, Duration::from_secs(1)).unwrap();
        assert!(
            !format!("{built:?}").contains("aWh1YjpwYTU1"),
            "base64 of ihub:pa55"
        );
        let broken = FhirAuth::Bearer {
            token: "a\nb".into(),
        };
        assert!(matches!(
            FhirClient::new("http://h/", broken, Duration::from_secs(1)),
            Err(FhirSetupError::BadCredential("bearer"))
        ));
    }

    #[test]
    fn types_and_ids_cannot_escape_the_path() {
        assert!(check_type("Patient").is_ok());
        for bad in ["", "patient", "Patient/1", "../x", "Pat ient"] {
            assert!(check_type(bad).is_err(), "{bad}");
        }
        assert!(check_id("a-1.B").is_ok());
        for bad in ["", "a/b", "a?b", &"x".repeat(65)] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn invalid_requests_fail_before_sending() {
        // Port 1 refuses connections; these must fail without trying.
        let client = client("http://127.0.0.1:1/R4").unwrap();
        let no_type = client.create(&json!({"id": "1"})).await.unwrap_err();
        assert_eq!(
            no_type.to_string(),
            "invalid FHIR request: the JSON has no resourceType"
        );
        let no_id = client
            .update(&json!({"resourceType": "Patient"}))
            .await
            .unwrap_err();
        assert!(
            no_id.to_string().contains("needs the Patient's id"),
            "{no_id}"
        );
        let collection = json!({"resourceType": "Bundle", "type": "collection"});
        let not_tx = client.transaction(&collection).await.unwrap_err();
        assert!(
            not_tx.to_string().contains("not transaction or batch"),
            "{not_tx}"
        );
        let bad_id = client.read("Patient", "1/_history").await.unwrap_err();
        assert!(matches!(bad_id, FhirError::Request { .. }));
        let refused = client.read("Patient", "1").await.unwrap_err();
        assert!(
            refused.to_string().starts_with("could not connect"),
            "{refused}"
        );
    }
}
