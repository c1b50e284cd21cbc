//! The checks of a `type = "fhir"` destination: an http(s) base URL, an `auth` that can work
//! (a SMART key file that exists, a known algorithm), and secrets that come from environment
//! variables which are set, so that a missing token is found by `ihub validate` and at start,
//! not by the first message.

use std::time::Duration;

use toml::Spanned;

use super::config::{DEFAULT_FHIR_TIMEOUT_SECS, FhirAuthConfig, FhirDestinationConfig};
use super::load::FileCx;
use super::spec::{FhirAuthSpec, FhirConvert, FhirDestinationSpec};
use super::validate::existing_file;
use crate::fhir::smart::{SmartAlgorithm, SmartSettings};

/// Checks `f` and builds its spec; every problem is reported before `None` is returned.
pub(super) fn fhir_destination(
    cx: &mut FileCx<'_>,
    f: &FhirDestinationConfig,
) -> Option<FhirDestinationSpec> {
    let base_url = http_url(cx, &f.base_url, "base_url");
    let auth = match &f.auth {
        Some(auth) => auth_spec(cx, auth, &|name| std::env::var_os(name)),
        None => Some(FhirAuthSpec::None),
    };
    Some(FhirDestinationSpec {
        base_url: base_url?,
        convert: f.convert.unwrap_or(FhirConvert::Hl7v2ToFhir),
        conditional_create: f.conditional_create.unwrap_or(false),
        timeout: Duration::from_secs(
            f.timeout_secs
                .map_or(DEFAULT_FHIR_TIMEOUT_SECS, |n| n.get()),
        ),
        auth: auth?,
    })
}

/// An absolute `http://` or `https://` URL with a host and no query or fragment.
fn http_url(cx: &mut FileCx<'_>, url: &Spanned<String>, key: &str) -> Option<String> {
    let text = url.get_ref();
    let reason = match reqwest::Url::parse(text) {
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
            format!(
                "expected an http:// or https:// URL, not {}:",
                parsed.scheme()
            )
        }
        Ok(parsed) if !parsed.has_host() => "the URL has no host".to_owned(),
        Ok(parsed) if parsed.query().is_some() || parsed.fragment().is_some() => {
            "a FHIR URL has no query (`?`) or fragment (`#`)".to_owned()
        }
        Ok(_) => return Some(text.clone()),
        Err(error) => error.to_string(),
    };
    cx.error(url.span(), format!("invalid {key} \"{text}\": {reason}"));
    None
}

/// `auth`, with `env` looking up environment variables (a parameter, so tests need not set
/// the process environment).
fn auth_spec(
    cx: &mut FileCx<'_>,
    auth: &Spanned<FhirAuthConfig>,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<FhirAuthSpec> {
    match auth.get_ref() {
        FhirAuthConfig::Bearer(bearer) => Some(FhirAuthSpec::Bearer {
            token_env: env_var(cx, &bearer.token_env, "bearer token", env)?,
        }),
        FhirAuthConfig::Basic(basic) => {
            let username = not_empty(cx, &basic.username, "username");
            if username.as_ref().is_some_and(|u| u.contains(':')) {
                cx.error(
                    basic.username.span(),
                    "`username` must not contain `:` (HTTP Basic separates it from the password with one)",
                );
                return None;
            }
            let password_env = env_var(cx, &basic.password_env, "password", env);
            Some(FhirAuthSpec::Basic {
                username: username?,
                password_env: password_env?,
            })
        }
        FhirAuthConfig::Smart(smart) => {
            let client_id = not_empty(cx, &smart.client_id, "client_id");
            let key = existing_file(cx, &smart.private_key, "SMART private key");
            let algorithm = SmartAlgorithm::parse(smart.algorithm.get_ref());
            if algorithm.is_none() {
                cx.error_help(
                    smart.algorithm.span(),
                    format!("unknown SMART algorithm \"{}\"", smart.algorithm.get_ref()),
                    "use \"RS384\" (an RSA key) or \"ES384\" (a P-384 key): the two algorithms SMART \
                     Backend Services requires servers to accept",
                );
            }
            let key_id = not_empty(cx, &smart.key_id, "key_id");
            let scope = not_empty(cx, &smart.scope, "scope");
            let token_endpoint = match &smart.token_endpoint {
                Some(url) => Some(http_url(cx, url, "token_endpoint")?),
                None => None,
            };
            Some(FhirAuthSpec::Smart(SmartSettings {
                client_id: client_id?,
                private_key_file: key?,
                algorithm: algorithm?,
                key_id: key_id?,
                scope: scope?,
                token_endpoint,
            }))
        }
    }
}

fn not_empty(cx: &mut FileCx<'_>, value: &Spanned<String>, key: &str) -> Option<String> {
    if value.get_ref().trim().is_empty() {
        cx.error(value.span(), format!("`{key}` must not be empty"));
        return None;
    }
    Some(value.get_ref().clone())
}

/// The name of an environment variable that holds a secret: a plausible name, and set.
fn env_var(
    cx: &mut FileCx<'_>,
    name: &Spanned<String>,
    what: &str,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Option<String> {
    let text = name.get_ref();
    let plausible = !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !plausible {
        cx.error_help(
            name.span(),
            format!("invalid environment variable name \"{text}\""),
            format!(
                "name the variable that holds the {what} (letters, digits and `_`, e.g. \
                 \"FHIR_TOKEN\"); the secret itself never goes into a channel file"
            ),
        );
        return None;
    }
    match env(text) {
        Some(value) if !value.is_empty() => Some(text.clone()),
        found => {
            let state = if found.is_some() {
                "is empty"
            } else {
                "is not set"
            };
            cx.error_help(
                name.span(),
                format!("environment variable {text} {state}"),
                format!("set {text} to the {what} in the environment ihub runs in"),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;
    use crate::channel::config::{BasicAuthConfig, BearerAuthConfig};

    fn spanned(text: &str, at: usize) -> Spanned<String> {
        Spanned::new(at..at + text.len(), text.to_owned())
    }

    fn env(name: &str) -> Option<OsString> {
        match name {
            "SET" => Some("secret".into()),
            "EMPTY" => Some(OsString::new()),
            _ => None,
        }
    }

    fn check(auth: FhirAuthConfig) -> (Option<FhirAuthSpec>, Vec<String>) {
        let text = "x".repeat(64);
        let mut cx = FileCx::new(Path::new("c.toml"), &text);
        let spec = auth_spec(&mut cx, &Spanned::new(0..1, auth), &env);
        let messages = cx.diagnostics.iter().map(|d| d.message.clone()).collect();
        (spec, messages)
    }

    #[test]
    fn secrets_come_from_set_environment_variables() {
        let bearer = |name: &str| {
            FhirAuthConfig::Bearer(BearerAuthConfig {
                token_env: spanned(name, 3),
            })
        };
        assert_eq!(
            check(bearer("SET")),
            (
                Some(FhirAuthSpec::Bearer {
                    token_env: "SET".into()
                }),
                vec![]
            )
        );
        assert_eq!(
            check(bearer("UNSET")).1,
            ["environment variable UNSET is not set"]
        );
        assert_eq!(
            check(bearer("EMPTY")).1,
            ["environment variable EMPTY is empty"]
        );
        assert_eq!(
            check(bearer("Bearer abc")).1,
            ["invalid environment variable name \"Bearer abc\""]
        );
        let basic = FhirAuthConfig::Basic(BasicAuthConfig {
            username: spanned("a:b", 1),
            password_env: spanned("SET", 9),
        });
        assert_eq!(
            check(basic).1,
            [
                "`username` must not contain `:` (HTTP Basic separates it from the password with one)"
            ]
        );
        let basic = FhirAuthConfig::Basic(BasicAuthConfig {
            username: spanned("ihub", 1),
            password_env: spanned("SET", 9),
        });
        assert_eq!(
            check(basic).0,
            Some(FhirAuthSpec::Basic {
                username: "ihub".into(),
                password_env: "SET".into()
            })
        );
    }
}
