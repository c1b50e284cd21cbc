//! The HTTP half of SMART Backend Services: discovery and the `client_credentials` request.

use std::time::Duration;

use reqwest::{Client, Url};
use serde::Deserialize;

use super::SmartError;

/// Assumed token lifetime when the token response leaves out `expires_in` (SMART requires it;
/// five minutes is what the spec recommends servers issue).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Most bytes of an error answer from the authorization server quoted in an error.
const MAX_ERROR_TEXT: usize = 300;

/// The `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The parts of a token response used here (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

/// One `client_credentials` request: the token and how long it lives.
pub(super) async fn request_token(
    http: &Client,
    endpoint: &Url,
    scope: &str,
    assertion: &str,
    timeout: Duration,
) -> Result<(String, Duration), SmartError> {
    const STEP: &str = "token request";
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    let body = form_encode(&form);
    let response = http
        .post(endpoint.clone())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|error| transport(STEP, error))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport(STEP, error))?;
    if !status.is_success() {
        let reason = match serde_json::from_slice::<OAuthError>(&bytes) {
            Ok(e) => match e.error_description {
                Some(d) if !d.is_empty() => format!("{}: {d}", e.error),
                _ => e.error,
            },
            Err(_) => text_start(&bytes),
        };
        return Err(SmartError::Status {
            step: STEP,
            status,
            reason,
        });
    }
    let token: TokenResponse =
        serde_json::from_slice(&bytes).map_err(|error| SmartError::Response {
            step: STEP,
            reason: format!("not a token response: {error}"),
        })?;
    if !token.token_type.eq_ignore_ascii_case("bearer") {
        return Err(SmartError::Response {
            step: STEP,
            reason: format!("token_type is \"{}\", not Bearer", token.token_type),
        });
    }
    let lifetime = token
        .expires_in
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
    Ok((token.access_token, lifetime))
}

/// Reads `token_endpoint` from `{fhir_base}/.well-known/smart-configuration`.
pub(super) async fn discover_token_endpoint(
    http: &Client,
    fhir_base: &Url,
    timeout: Duration,
) -> Result<Url, SmartError> {
    const STEP: &str = "discovery";
    let url = format!(
        "{}/.well-known/smart-configuration",
        fhir_base.as_str().trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .header("accept", "application/json")
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| transport(STEP, error))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport(STEP, error))?;
    if !status.is_success() {
        return Err(SmartError::Status {
            step: STEP,
            status,
            reason: text_start(&bytes),
        });
    }
    let document: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|error| SmartError::Response {
            step: STEP,
            reason: format!("smart-configuration is not JSON: {error}"),
        })?;
    let endpoint = document
        .get("token_endpoint")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| SmartError::Response {
            step: STEP,
            reason: "smart-configuration has no token_endpoint".into(),
        })?;
    parse_http_url(endpoint).map_err(|reason| SmartError::Response {
        step: STEP,
        reason: format!("token_endpoint \"{endpoint}\": {reason}"),
    })
}

/// An absolute `http` or `https` URL.
pub(super) fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| error.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme \"{}\" is not http or https", url.scheme()));
    }
    Ok(url)
}

/// A transport error as text, without the URL's query.
fn transport(step: &'static str, error: reqwest::Error) -> SmartError {
    let timed_out = error.is_timeout();
    let mut reason = crate::destination::error_chain(&error.without_url());
    if timed_out {
        reason = format!("no answer in time: {reason}");
    }
    SmartError::Transport { step, reason }
}

/// The first bytes of an answer, as text on one line.
fn text_start(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let mut end = text.len().min(MAX_ERROR_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace(['\r', '\n'], " ")
}

/// `application/x-www-form-urlencoded` for the token request: every byte but the unreserved
/// ones percent-encoded (the assertion and scopes hold only ASCII, but `+`, `/` and spaces
/// must not reach the server as-is).
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(name, &mut out);
        out.push('=');
        percent_encode(value, &mut out);
    }
    out
}

fn percent_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_are_percent_encoded() {
        assert_eq!(
            form_encode(&[("scope", "system/*.rs system/Patient.c"), ("a", "x+y=z&~")]),
            "scope=system%2F%2A.rs%20system%2FPatient.c&a=x%2By%3Dz%26~"
        );
    }

    #[test]
    fn error_text_is_short_and_on_one_line() {
        assert_eq!(text_start(b" bad\r\ngateway "), "bad  gateway");
        assert_eq!(text_start("ü".repeat(400).as_bytes()).len(), MAX_ERROR_TEXT);
    }
}
