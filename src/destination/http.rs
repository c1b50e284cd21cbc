//! [`HttpDestination`]: delivers a message as the body of one HTTP request and judges it by the
//! status code.
//!
//! - 2xx: delivered; the response body is kept (up to [`MAX_RESPONSE_BYTES`]).
//! - 408, 429, 5xx, timeouts, connection failures: retry, honouring `Retry-After`. These are
//!   the statuses HTTP defines as "try again later" (RFC 9110 §15.5.9, §15.6; RFC 6585 §4).
//! - Any other status (4xx, and 3xx since redirects are not followed): reject. The request
//!   itself is wrong, so sending it again unchanged cannot help; the first
//!   [`MAX_ERROR_BODY_BYTES`] of the body (often a FHIR OperationOutcome) go into the error
//!   so an analyst can see why.
//!
//! All destinations share one `reqwest::Client` (see [`shared_client`]): one connection pool
//! and one TLS configuration (rustls, the OS trust store) for the process, instead of a pool
//! and a certificate store per destination.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Method, StatusCode, Url};

use super::{Outcome, error_chain};

/// Most bytes of a 2xx response body kept as the delivery's response. Bounds memory when an
/// endpoint echoes large documents; the status already says the message was accepted.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Most bytes of an error response body quoted in a retry or reject reason.
pub const MAX_ERROR_BODY_BYTES: usize = 512;

/// How long the shared client waits for TCP plus TLS, whatever the request timeout: a host
/// that drops SYNs should fail fast so the retry policy takes over.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of an HTTP destination, already validated by the channel loader.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Where to send, `http://` or `https://`.
    pub url: String,
    /// The request method, usually `POST` or `PUT`.
    pub method: String,
    /// Extra request headers, in order (e.g. an `Authorization` taken from the environment).
    pub headers: Vec<(String, String)>,
    /// Bound on the whole exchange: connect, send, and reading the response.
    pub timeout: Duration,
    /// The `Content-Type` of the body, e.g. `application/hl7-v2` or `application/fhir+json`.
    pub content_type: String,
}

/// Settings an HTTP destination cannot be built from. Header values are never quoted: they
/// may hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpSetupError {
    /// The URL does not parse.
    #[error("invalid HTTP destination URL: {reason}")]
    BadUrl {
        /// What the URL parser said.
        reason: String,
    },
    /// Only `http` and `https` can be sent to.
    #[error("unsupported URL scheme \"{scheme}\" (expected http or https)")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// The method is not a valid HTTP token.
    #[error("\"{method}\" is not a valid HTTP method")]
    BadMethod {
        /// The method given.
        method: String,
    },
    /// A header name is not a valid HTTP token.
    #[error("\"{name}\" is not a valid HTTP header name")]
    BadHeaderName {
        /// The name given.
        name: String,
    },
    /// A header value holds characters HTTP does not allow (such as a line break).
    #[error("the value of header \"{name}\" contains characters not allowed in HTTP headers")]
    BadHeaderValue {
        /// The header's name.
        name: String,
    },
    /// The content type is set by its own setting, so that there is only one place for it.
    #[error("set the content type with `content_type`, not in `headers`")]
    ContentTypeInHeaders,
    /// The content type is not a valid header value.
    #[error("\"{content_type}\" is not a valid Content-Type")]
    BadContentType {
        /// The content type given.
        content_type: String,
    },
    /// A zero timeout would fail every request.
    #[error("the HTTP timeout must be greater than zero")]
    ZeroTimeout,
    /// The HTTP client could not be created (TLS setup).
    #[error("could not create the HTTP client: {reason}")]
    Client {
        /// reqwest's reason.
        reason: String,
    },
}

/// An HTTP endpoint, with its request parts parsed once.
#[derive(Debug, Clone)]
pub struct HttpDestination {
    client: Client,
    url: Url,
    method: Method,
    headers: HeaderMap,
    timeout: Duration,
}

/// The process-wide HTTP client, built on first use: rustls with the OS trust store, redirects
/// not followed (a redirected POST may silently turn into a GET without a body, and a new URL
/// is a configuration change an analyst should make), connect timeout 10 s.
/// Clones share one connection pool.
pub fn shared_client() -> Result<Client, HttpSetupError> {
    static SHARED: OnceLock<Client> = OnceLock::new();
    if let Some(client) = SHARED.get() {
        return Ok(client.clone());
    }
    let client = Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| HttpSetupError::Client {
            reason: error_chain(&error),
        })?;
    // Two first callers may race to build; the loser's client is dropped unused.
    Ok(SHARED.get_or_init(|| client).clone())
}

impl HttpDestination {
    /// Checks the settings and builds the destination on the [`shared_client`].
    pub fn new(settings: HttpSettings) -> Result<HttpDestination, HttpSetupError> {
        HttpDestination::with_client(settings, shared_client()?)
    }

    /// Like [`HttpDestination::new`] on a client of the caller's (custom trust, client
    /// certificates).
    pub fn with_client(
        settings: HttpSettings,
        client: Client,
    ) -> Result<HttpDestination, HttpSetupError> {
        let url = Url::parse(&settings.url).map_err(|error| HttpSetupError::BadUrl {
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpSetupError::UnsupportedScheme {
                scheme: url.scheme().to_owned(),
            });
        }
        let method = Method::from_bytes(settings.method.trim().as_bytes()).map_err(|_| {
            HttpSetupError::BadMethod {
                method: settings.method.clone(),
            }
        })?;
        if settings.timeout.is_zero() {
            return Err(HttpSetupError::ZeroTimeout);
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            let header = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| HttpSetupError::BadHeaderName { name: name.clone() })?;
            if header == CONTENT_TYPE {
                return Err(HttpSetupError::ContentTypeInHeaders);
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| HttpSetupError::BadHeaderValue { name: name.clone() })?;
            // Headers from the channel file usually carry credentials: keep them out of any
            // debug output of the request.
            value.set_sensitive(true);
            // `append`, so a header given twice is sent twice, as written.
            headers.append(header, value);
        }
        let content_type = HeaderValue::from_str(&settings.content_type).map_err(|_| {
            HttpSetupError::BadContentType {
                content_type: settings.content_type.clone(),
            }
        })?;
        headers.insert(CONTENT_TYPE, content_type);
        Ok(HttpDestination {
            client,
            url,
            method,
            headers,
            timeout: settings.timeout,
        })
    }

    /// Sends `payload` as the request body and classifies the answer (see the module docs).
    pub async fn send(&self, payload: &[u8]) -> Outcome {
        let request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .body(payload.to_vec());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Outcome::retry(self.describe_error(error)),
        };
        let status = response.status();
        if status.is_success() {
            // The status is the receiver's verdict; a body that fails to arrive afterwards
            // does not undo it, so that only costs the stored response.
            let body = read_capped(&mut response, MAX_RESPONSE_BYTES).await;
            return Outcome::Delivered {
                response: body.ok().filter(|body| !body.is_empty()),
            };
        }
        let after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let body = read_capped(&mut response, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let error = status_text(status, &body);
        if is_retryable(status) {
            Outcome::Retry { error, after }
        } else {
            Outcome::reject(error)
        }
    }

    /// A transport failure as text. The URL is removed (it may carry a token in its query)
    /// and a timeout is named as such, since reqwest's wording hides it in the cause chain.
    fn describe_error(&self, error: reqwest::Error) -> String {
        let timed_out = error.is_timeout();
        let connect = error.is_connect();
        let chain = error_chain(&error.without_url());
        if timed_out {
            format!(
                "no response within {} s: {chain}",
                self.timeout.as_secs_f64()
            )
        } else if connect {
            format!("could not connect: {chain}")
        } else {
            chain
        }
    }
}

/// 408 Request Timeout, 429 Too Many Requests and every 5xx: the server's trouble, or a
/// request made too early; the same request may succeed later.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// `HTTP 400 Bad Request: <body>`, the body as lossy UTF-8 text.
fn status_text(status: StatusCode, body: &[u8]) -> String {
    let mut text = format!("HTTP {status}");
    if status.is_redirection() {
        text.push_str(" (redirects are not followed: point the destination at the final URL)");
    }
    let body = String::from_utf8_lossy(body);
    let body = body.trim();
    if !body.is_empty() {
        text.push_str(": ");
        text.push_str(body);
    }
    text
}

/// Reads the response body, keeping at most `cap` bytes and dropping the rest unread, so a
/// huge error page costs no memory.
async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while body.len() < cap {
        let Some(chunk) = response.chunk().await? else {
            break;
        };
        let room = cap - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(body)
}

/// `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date turned into the time left
/// until then (zero when it has passed). `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // A number too large for u64 seconds is still "much later": saturate.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = UNIX_EPOCH + Duration::from_secs(parse_http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// An HTTP-date in any of the three formats a recipient must accept (RFC 9110 §5.6.7), as
/// seconds since the Unix epoch:
/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate), `Sunday, 06-Nov-94 08:49:37 GMT` (RFC 850)
/// and `Sun Nov  6 08:49:37 1994` (asctime). The weekday is not checked.
fn parse_http_date(value: &str) -> Option<u64> {
    let tokens: Vec<&str> = value
        .split([' ', ',', '-'])
        .filter(|t| !t.is_empty())
        .collect();
    let (day, month, year, time) = match tokens.as_slice() {
        [_, day, month, year, time, "GMT"] => (*day, *month, *year, *time),
        [_, month, day, time, year] => (*day, *month, *year, *time),
        _ => return None,
    };
    let month = month_number(month)?;
    let day: u32 = parse_digits(day, 1..=2)?;
    let year: i64 = match year.len() {
        4 => parse_digits(year, 4..=4)?,
        // RFC 850's two-digit year: RFC 9110 says to read a year more than 50 years in the
        // future as the past; with the current century that is this split.
        2 => {
            let yy: i64 = parse_digits(year, 2..=2)?;
            if yy < 70 { 2000 + yy } else { 1900 + yy }
        }
        _ => return None,
    };
    let mut hms = time.split(':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() {
        return None;
    }
    let (h, m, s): (u64, u64, u64) = (
        parse_digits(h, 2..=2)?,
        parse_digits(m, 2..=2)?,
        parse_digits(s, 2..=2)?,
    );
    // 60 seconds allows a leap second.
    if year < 1970 || day == 0 || day > days_in_month(year, month) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// A decimal number of `len` ASCII digits (no sign, no spaces).
fn parse_digits<T: std::str::FromStr>(
    text: &str,
    len: std::ops::RangeInclusive<usize>,
) -> Option<T> {
    if !len.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `Jan` → 1 … `Dec` → 12 (HTTP month names are case-sensitive).
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    MONTHS
        .iter()
        .position(|m| *m == name)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> HttpSettings {
        HttpSettings {
            url: "https://fhir.example.org/R4/Bundle".into(),
            method: "POST".into(),
            headers: vec![("Authorization".into(), "Bearer secret".into())],
            timeout: Duration::from_secs(30),
            content_type: "application/fhir+json".into(),
        }
    }

    #[test]
    fn http_dates_in_all_three_formats() {
        // 1994-11-06 08:49:37 UTC, the RFC's own example.
        const T: u64 = 784_111_777;
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(T));
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(T));
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(T));
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(0),
            "the epoch"
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        assert_eq!(
            parse_http_date("Monday, 01-Jan-29 00:00:00 GMT"),
            Some(1_861_920_000),
            "two-digit years below 70 are this century"
        );
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1994 08:49:37:00 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn statuses_are_classified() {
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [300, 301, 400, 401, 403, 404, 409, 410, 413, 422] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        assert_eq!(
            status_text(StatusCode::BAD_REQUEST, b"  {\"x\":1}\n"),
            "HTTP 400 Bad Request: {\"x\":1}"
        );
        assert_eq!(
            status_text(StatusCode::MOVED_PERMANENTLY, b""),
            "HTTP 301 Moved Permanently (redirects are not followed: point the destination at the final URL)"
        );
        assert_eq!(
            status_text(StatusCode::NOT_FOUND, b"\xff"),
            "HTTP 404 Not Found: \u{fffd}"
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(HttpDestination::new(settings()).is_ok());
        let err = |s: HttpSettings| HttpDestination::new(s).unwrap_err();
        assert!(matches!(
            err(HttpSettings {
                url: "not a url".into(),
                ..settings()
            }),
            HttpSetupError::BadUrl { .. }
        ));
        assert_eq!(
            err(HttpSettings {
                url: "ftp://example.org/".into(),
                ..settings()
            })
            .to_string(),
            "unsupported URL scheme \"ftp\" (expected http or https)"
        );
        assert_eq!(
            err(HttpSettings {
                method: "PO ST".into(),
                ..settings()
            }),
            HttpSetupError::BadMethod {
                method: "PO ST".into()
            }
        );
        assert_eq!(
            err(HttpSettings {
                headers: vec![("Bad Name".into(), "x".into())],
                ..settings()
            }),
            HttpSetupError::BadHeaderName {
                name: "Bad Name".into()
            }
        );
        let bad_value = err(HttpSettings {
            headers: vec![("Authorization".into(), "Bearer s3cret\r\nX: y".into())],
            ..settings()
        });
        assert_eq!(
            bad_value.to_string(),
            "the value of header \"Authorization\" contains characters not allowed in HTTP headers"
        );
        assert!(!bad_value.to_string().contains("s3cret"));
        assert_eq!(
            err(HttpSettings {
                headers: vec![("content-type".into(), "text/plain".into())],
                ..settings()
            }),
            HttpSetupError::ContentTypeInHeaders
        );
        assert!(matches!(
            err(HttpSettings {
                content_type: "a\nb".into(),
                ..settings()
            }),
            HttpSetupError::BadContentType { .. }
        ));
        assert_eq!(
            err(HttpSettings {
                timeout: Duration::ZERO,
                ..settings()
            }),
            HttpSetupError::ZeroTimeout
        );
    }

    #[test]
    fn headers_are_kept_in_order_and_marked_sensitive() {
        let dest = HttpDestination::new(HttpSettings {
            headers: vec![
                ("X-Tag".into(), "a".into()),
                ("X-Tag".into(), "b".into()),
                ("Authorization".into(), "Bearer secret".into()),
            ],
            ..settings()
        })
        .unwrap();
        let tags: Vec<_> = dest.headers.get_all("x-tag").iter().collect();
        assert_eq!(tags, ["a", "b"]);
        assert!(dest.headers["authorization"].is_sensitive());
        assert_eq!(dest.headers[CONTENT_TYPE], "application/fhir+json");
        assert!(!format!("{dest:?}").contains("secret"));
    }
}
