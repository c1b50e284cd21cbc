//! Network addresses: the address a source listens on and the `HOST:PORT` a destination
//! connects to, each with hints for the usual near-misses.

use std::net::SocketAddr;

use toml::Spanned;

use crate::channel::diagnostic::Severity;
use crate::channel::load::{FileCx, Site};

/// Parses a listen address (`IP:PORT`), with hints for the usual near-misses.
pub(super) fn listen_address(
    cx: &mut FileCx<'_>,
    listen: &Spanned<String>,
    site: &mut Option<Site<SocketAddr>>,
) -> Option<SocketAddr> {
    let text = listen.get_ref().trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        *site = Some(Site {
            value: addr,
            at: cx.at(listen.span(), Severity::Error, ""),
        });
        return Some(addr);
    }
    let help = if let Ok(port) = text.parse::<u16>() {
        format!(
            "did you mean \"0.0.0.0:{port}\" (all interfaces) or \"127.0.0.1:{port}\" \
             (this machine only)?"
        )
    } else {
        match text.rsplit_once(':') {
            Some((_, port)) if port.parse::<u16>().is_err() => {
                "the port must be a number from 0 to 65535".to_owned()
            }
            Some(("localhost", port)) => format!("did you mean \"127.0.0.1:{port}\"?"),
            Some((_, port)) => format!(
                "a listen address takes an IP address, not a host name: \"0.0.0.0:{port}\" \
                 listens on all interfaces"
            ),
            None => "write IP:PORT, e.g. \"127.0.0.1:2575\"".to_owned(),
        }
    };
    cx.error_help(
        listen.span(),
        format!("invalid listen address \"{text}\": expected IP:PORT"),
        help,
    );
    None
}

/// Checks an outbound `HOST:PORT`.
pub(in crate::channel) fn endpoint(
    cx: &mut FileCx<'_>,
    endpoint: &Spanned<String>,
) -> Option<String> {
    let text = endpoint.get_ref().trim();
    let problem: Option<(String, String)> = if let Some((scheme, rest)) = text.split_once("://") {
        Some((
            format!("`endpoint` takes HOST:PORT, not a URL (`{scheme}://`)"),
            format!("did you mean \"{}\"?", rest.trim_end_matches('/')),
        ))
    } else if let Ok(addr) = text.parse::<SocketAddr>() {
        (addr.port() == 0).then(|| {
            (
                format!("invalid endpoint \"{text}\": port 0"),
                "the port must be a number from 1 to 65535".to_owned(),
            )
        })
    } else {
        match text.rsplit_once(':') {
            None => Some((
                format!("invalid endpoint \"{text}\": expected HOST:PORT"),
                format!("did you mean \"{text}:6661\"? (6661 is only an example)"),
            )),
            Some((host, port)) => {
                let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
                let host_ok = !host.is_empty()
                    && !host.contains(|c: char| c.is_whitespace() || "/:[]@".contains(c));
                if !port_ok {
                    Some((
                        format!("invalid endpoint \"{text}\": bad port \"{port}\""),
                        "the port must be a number from 1 to 65535".to_owned(),
                    ))
                } else if !host_ok {
                    Some((
                        format!("invalid endpoint \"{text}\": bad host \"{host}\""),
                        "write a host name or IP, and IPv6 in brackets: \"[::1]:6661\"".to_owned(),
                    ))
                } else {
                    None
                }
            }
        }
    };
    match problem {
        Some((message, help)) => {
            cx.error_help(endpoint.span(), message, help);
            None
        }
        None => Some(text.to_owned()),
    }
}
