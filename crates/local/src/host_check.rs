//! Only loopback names reach the local server. A web page on another site
//! can point its own DNS name at 127.0.0.1 (DNS rebinding) and then read
//! this server's answers from the developer's browser — `/ledger` and
//! `/outbox` hold buyers' names, addresses and votekeys. Such a request
//! carries the page's name as its `Host`, so it is refused here.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// The answer to any other `Host`: 421, "not this server's name".
pub async fn only_loopback_hosts(request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    if host.is_some_and(is_loopback_host) {
        return next.run(request).await;
    }
    let message = "tdf-local answers only to 127.0.0.1, localhost and [::1]\n";
    (StatusCode::MISDIRECTED_REQUEST, message).into_response()
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let Some((name, port)) = split_port(host) else { return false };
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && (name == "127.0.0.1" || name == "[::1]" || name.eq_ignore_ascii_case("localhost"))
}

/// The name and the port after it: a bracketed IPv6 address ends at its
/// `]`, any other name at its last `:`. `None` when something else follows.
fn split_port(host: &str) -> Option<(&str, Option<&str>)> {
    let name_end = if host.starts_with('[') {
        host.find(']').map_or(host.len(), |i| i + 1)
    } else {
        host.rfind(':').unwrap_or(host.len())
    };
    let (name, rest) = host.split_at(name_end);
    if rest.is_empty() { Some((name, None)) } else { rest.strip_prefix(':').map(|port| (name, Some(port))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_any_port_are_accepted() {
        for host in ["127.0.0.1", "127.0.0.1:3000", "localhost", "LocalHost:8080", "[::1]", "[::1]:3000", "localhost:1"]
        {
            assert!(is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn other_names_and_malformed_hosts_are_refused() {
        let refused = [
            "",
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "localhost.",
            "127.0.0.1.nip.io:3000",
            "127.0.0.2",
            "0.0.0.0:3000",
            "::1",
            "[::1]x",
            "[::2]:3000",
            "localhost:",
            "localhost:abc",
            "localhost:123456",
            "localhost:3000:3000",
            "evil.example@localhost",
        ];
        for host in refused {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
