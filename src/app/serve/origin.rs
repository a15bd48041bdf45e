//! Which web pages may open a WebSocket to `serve`. A browser lets any page connect a
//! WebSocket to any address, loopback included, and says which page asked in the `Origin`
//! header; so the upgrade is accepted only from the origin of the pages `serve` itself serves
//! (the scheme and the `Host` the browser reached it by), or from an origin the user allowed
//! with `--allow-origin`. Clients that are not browsers send no `Origin` and are not affected.
//!
//! A page can also reach a loopback server under its own name by DNS rebinding (its name
//! resolving to 127.0.0.1 after it loaded), which makes it same-origin. Against that, a server
//! without a password accepts the same-origin rule only for IP literals and `localhost`;
//! with a password, the page would still have to know it.

use std::net::IpAddr;

/// An origin: scheme, host (lower case, IPv6 without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Splits "host", "host:port", "[v6]" or "[v6]:port" into host and port.
fn split_authority(s: &str, default: u16) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return None,
            None => (s, None),
        }
    };
    if host.is_empty() || host.contains(['/', '@', ' ']) || host.chars().any(char::is_control) {
        return None;
    }
    let port = match port {
        None => default,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

impl Origin {
    /// Parses "scheme://host[:port]" (a trailing slash is allowed); `None` for anything else,
    /// "null" included.
    pub fn parse(s: &str) -> Option<Origin> {
        let (scheme, rest) = s.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default = default_port(&scheme)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = split_authority(rest, default)?;
        Some(Origin { scheme, host, port })
    }

    /// The origin of a page served as `scheme` to a browser that sent `host_header`.
    fn of_request(scheme: &str, host_header: &str) -> Option<Origin> {
        let (host, port) = split_authority(host_header.trim(), default_port(scheme)?)?;
        Some(Origin {
            scheme: scheme.to_string(),
            host,
            port,
        })
    }

    /// Whether the host is an IP address or `localhost`: a name DNS rebinding cannot take.
    fn host_is_literal(&self) -> bool {
        self.host == "localhost" || self.host.parse::<IpAddr>().is_ok()
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match default_port(&self.scheme) {
            Some(p) if p == self.port => write!(f, "{}://{host}", self.scheme),
            _ => write!(f, "{}://{host}:{}", self.scheme, self.port),
        }
    }
}

/// The rule for WebSocket upgrades.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Origins let in besides the server's own (`--allow-origin`).
    pub allowed: Vec<Origin>,
    /// Clients must give a password.
    pub password: bool,
}

impl OriginPolicy {
    /// Whether a WebSocket upgrade that came as `scheme` (http or https) with these headers
    /// may proceed; `Err` says why not, for the 403 answer and the log.
    pub fn check(
        &self,
        scheme: &str,
        origin: Option<&str>,
        host: Option<&str>,
    ) -> Result<(), String> {
        // Browsers always send Origin with a WebSocket; other clients need no protection
        // from a page.
        let Some(origin) = origin else {
            return Ok(());
        };
        let Some(theirs) = Origin::parse(origin) else {
            return Err(format!(
                "the WebSocket's origin {origin:?} is not one serve accepts"
            ));
        };
        if self.allowed.contains(&theirs) {
            return Ok(());
        }
        let ours = host.and_then(|h| Origin::of_request(scheme, h));
        if ours.as_ref() != Some(&theirs) {
            return Err(format!(
                "a page from {theirs} may not connect (serve accepts its own pages; \
                 --allow-origin {theirs} lets that one in)"
            ));
        }
        if !self.password && !theirs.host_is_literal() {
            return Err(format!(
                "a page from {theirs} may not connect to a server without a password by a host \
                 name (--allow-origin {theirs} lets it in)"
            ));
        }
        Ok(())
    }
}

impl OriginPolicy {
    /// Whether the pages the server makes itself (the index of `serve --all` and its
    /// thumbnails, which show screens) may be answered to a request for `host`: an IP literal
    /// or `localhost`, or the host of an `--allow-origin`. A page of another site that rebinds
    /// its own name to this address would otherwise read them as its own.
    pub fn check_host(&self, scheme: &str, host: Option<&str>) -> Result<(), String> {
        let Some(ours) = host.and_then(|h| Origin::of_request(scheme, h)) else {
            return Err("the request names no valid Host".into());
        };
        if ours.host_is_literal() || self.allowed.iter().any(|a| a.host == ours.host) {
            return Ok(());
        }
        Err(format!(
            "this page is served to an IP address or localhost, not to the name {} \
             (--allow-origin {ours} lets it be)",
            ours.host
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_served_to_literal_hosts_and_allowed_names_only() {
        let p = policy(true, &["https://console.example.org"]);
        for ok in [
            "127.0.0.1:5900",
            "localhost",
            "[::1]:80",
            "console.example.org:5900",
        ] {
            assert_eq!(p.check_host("http", Some(ok)), Ok(()), "{ok}");
        }
        for bad in [Some("rebind.example"), Some("a\nb"), Some(""), None] {
            assert!(p.check_host("http", bad).is_err(), "{bad:?}");
        }
    }

    fn policy(password: bool, allowed: &[&str]) -> OriginPolicy {
        OriginPolicy {
            allowed: allowed.iter().map(|o| Origin::parse(o).unwrap()).collect(),
            password,
        }
    }

    #[test]
    fn origins_parse_with_default_ports() {
        let o = Origin::parse("HTTP://Example.org").unwrap();
        assert_eq!(o, Origin::parse("http://example.org:80/").unwrap());
        assert_eq!(o.to_string(), "http://example.org");
        let v6 = Origin::parse("https://[::1]:5900").unwrap();
        assert_eq!(v6.to_string(), "https://[::1]:5900");
        for bad in [
            "null",
            "file://",
            "http://",
            "http://a:b",
            "ftp://x",
            "http://a/b",
            "x",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_the_servers_own_pages_may_connect() {
        let p = policy(false, &[]);
        assert_eq!(
            p.check(
                "http",
                Some("http://127.0.0.1:5900"),
                Some("127.0.0.1:5900")
            ),
            Ok(())
        );
        assert_eq!(
            p.check("https", Some("https://[::1]:5900"), Some("[::1]:5900")),
            Ok(())
        );
        assert_eq!(
            p.check(
                "http",
                Some("http://localhost:5900"),
                Some("localhost:5900")
            ),
            Ok(())
        );
        // Another site's page, another port, another scheme.
        assert!(
            p.check("http", Some("http://evil.example"), Some("127.0.0.1:5900"))
                .is_err()
        );
        assert!(
            p.check(
                "http",
                Some("http://127.0.0.1:8000"),
                Some("127.0.0.1:5900")
            )
            .is_err()
        );
        assert!(
            p.check(
                "https",
                Some("http://127.0.0.1:5900"),
                Some("127.0.0.1:5900")
            )
            .is_err()
        );
        assert!(
            p.check("http", Some("null"), Some("127.0.0.1:5900"))
                .is_err()
        );
        assert!(
            p.check("http", Some("http://127.0.0.1:5900"), None)
                .is_err()
        );
        // Not a browser.
        assert_eq!(p.check("http", None, Some("127.0.0.1:5900")), Ok(()));
    }

    #[test]
    fn host_names_need_a_password_or_the_users_word() {
        let rebound = (
            Some("http://rebind.example:5900"),
            Some("rebind.example:5900"),
        );
        assert!(
            policy(false, &[])
                .check("http", rebound.0, rebound.1)
                .is_err()
        );
        assert_eq!(
            policy(true, &[]).check("http", rebound.0, rebound.1),
            Ok(())
        );
        let allowed = policy(false, &["http://rebind.example:5900"]);
        assert_eq!(allowed.check("http", rebound.0, rebound.1), Ok(()));
        // An allowed origin may come from anywhere.
        let p = policy(false, &["https://console.example"]);
        assert_eq!(
            p.check(
                "http",
                Some("https://console.example"),
                Some("10.0.0.1:5900")
            ),
            Ok(())
        );
    }
}
