//! [`FhirAuth`]: how the client proves who it is, and the `Authorization` header that becomes.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Client, RequestBuilder, Url};

use super::FhirError;
use crate::fhir::smart::{SmartAuth, SmartSettings, SmartSetupError};

/// How the client authenticates to the FHIR server.
#[derive(Clone, PartialEq, Eq)]
pub enum FhirAuth {
    /// No `Authorization` header (an open test server, or a gateway that adds its own).
    None,
    /// A fixed bearer token.
    Bearer {
        /// The token.
        token: String,
    },
    /// HTTP Basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// SMART Backend Services: a token from the authorization server, fetched and cached.
    Smart(SmartSettings),
}

impl std::fmt::Debug for FhirAuth {
    // Credentials never reach debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FhirAuth::None => f.write_str("None"),
            FhirAuth::Bearer { .. } => f.write_str("Bearer { token: MASKED }"),
            FhirAuth::Basic { username, .. } => {
                write!(f, "Basic {{ username: {username:?}, password: MASKED }}")
            }
            FhirAuth::Smart(settings) => f.debug_tuple("Smart").field(settings).finish(),
        }
    }
}

/// Settings a client cannot be made from.
#[derive(Debug, thiserror::Error)]
pub enum FhirSetupError {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid FHIR base URL \"{url}\": {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why.
        reason: String,
    },
    /// A zero timeout would fail every request.
    #[error("the FHIR timeout must be greater than zero")]
    ZeroTimeout,
    /// A credential holds characters HTTP headers cannot carry.
    #[error("the {0} credential contains characters not allowed in an HTTP header")]
    BadCredential(&'static str),
    /// The SMART settings are unusable.
    #[error(transparent)]
    Smart(#[from] SmartSetupError),
    /// The HTTP client could not be created.
    #[error("could not create the HTTP client: {0}")]
    Client(String),
}

/// Authentication, ready to use: SMART settings become a token cache.
#[derive(Debug)]
pub(super) enum Credentials {
    None,
    Header(HeaderValue),
    Smart(Box<SmartAuth>),
}

impl Credentials {
    /// Header values made once (marked sensitive, so they stay out of debug output), or the
    /// SMART token cache.
    pub(super) fn new(auth: FhirAuth) -> Result<Credentials, FhirSetupError> {
        let sensitive = |value: String, what: &'static str| {
            let mut header =
                HeaderValue::from_str(&value).map_err(|_| FhirSetupError::BadCredential(what))?;
            header.set_sensitive(true);
            Ok::<_, FhirSetupError>(header)
        };
        Ok(match auth {
            FhirAuth::None => Credentials::None,
            FhirAuth::Bearer { token } => {
                Credentials::Header(sensitive(format!("Bearer {token}"), "bearer")?)
            }
            FhirAuth::Basic { username, password } => {
                use base64::Engine as _;
                let pair = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Credentials::Header(sensitive(format!("Basic {pair}"), "basic")?)
            }
            FhirAuth::Smart(settings) => Credentials::Smart(Box::new(SmartAuth::new(settings)?)),
        })
    }

    /// Adds the `Authorization` header; returns the SMART token used, to forget it on a 401.
    pub(super) async fn authorize(
        &self,
        request: RequestBuilder,
        http: &Client,
        base: &Url,
        timeout: Duration,
    ) -> Result<(RequestBuilder, Option<String>), FhirError> {
        match self {
            Credentials::None => Ok((request, None)),
            Credentials::Header(value) => Ok((request.header(AUTHORIZATION, value.clone()), None)),
            Credentials::Smart(smart) => {
                let token = smart.access_token(http, base, timeout).await?;
                let mut value =
                    HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                        FhirError::Auth(crate::fhir::smart::SmartError::Response {
                            step: "token request",
                            reason: "the access token is not a valid header value".into(),
                        })
                    })?;
                value.set_sensitive(true);
                Ok((request.header(AUTHORIZATION, value), Some(token)))
            }
        }
    }
}
