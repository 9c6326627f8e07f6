//! The client address of a request: the peer, or — when the peer is a trusted proxy —
//! the address that proxy (and any trusted proxies before it) put in `X-Forwarded-For`.
//!
//! Rate limits per address key on this, so an untrusted client cannot pick its own
//! address by sending the header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::error::ApiError;
use crate::state::AppState;

/// The networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) or single addresses (`127.0.0.1`); blanks are skipped.
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        let mut nets = Vec::new();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let net = match e.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => e.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    anyhow::anyhow!("trusted proxy `{e}` is not an address or CIDR")
                })?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    /// True when `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address for a request from `peer` with these headers: walking
    /// `X-Forwarded-For` from the right, the first address that is not a trusted proxy
    /// (the leftmost one when all are); the peer itself when it is not trusted.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // A malformed entry: nothing to its left can be believed.
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// `1.2.3.4`, `1.2.3.4:567`, `::1` or `[::1]:567`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses as IPv4, so one client has one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request (see [`TrustedProxies::client`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| ApiError::Internal("no peer address on the connection".into()))?;
        Ok(ClientAddr(
            state.limits.trusted_proxies.client(peer, &parts.headers),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(v).expect("header"));
        h
    }

    #[test]
    fn header_believed_only_from_trusted_peers() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into(), " ".into()])
            .expect("parse");
        let untrusted: IpAddr = [192, 0, 2, 9].into();
        assert_eq!(t.client(untrusted, &xff("203.0.113.5")), untrusted);
        let proxy: IpAddr = [10, 1, 2, 3].into();
        assert_eq!(
            t.client(proxy, &xff("198.51.100.7, 203.0.113.5, 10.9.9.9")),
            IpAddr::from([203, 0, 113, 5]),
            "the rightmost address that is not a proxy"
        );
        assert_eq!(t.client(proxy, &HeaderMap::new()), proxy);
        assert_eq!(
            t.client(proxy, &xff("garbage, 203.0.113.5:4000")),
            IpAddr::from([203, 0, 113, 5])
        );
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }
}
