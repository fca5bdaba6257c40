//! Who is calling: the TCP peer's address, or, when the peer is one of
//! `TRUSTED_PROXIES`, the address those proxies recorded in `X-Forwarded-For`:
//! read from the right, past every trusted proxy, never from its left end (which
//! whoever calls the outermost proxy writes).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use actix_web::{http::header::HeaderMap, HttpRequest};
use ipnet::IpNet;

#[derive(Clone, Debug, Default)]
pub struct ClientIp {
    trusted: Vec<IpNet>,
}

impl ClientIp {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip.to_canonical()))
    }

    pub fn of(&self, req: &HttpRequest) -> IpAddr {
        let peer = req.peer_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        self.behind(peer, req.headers())
    }

    fn behind(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded_for(headers).iter().rev() {
            let Some(ip) = parse(entry) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect()
}

fn parse(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(actix_web::http::header::HeaderName::from_static("x-forwarded-for"), xff.parse().unwrap());
        map
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = ClientIp::default();
        assert_eq!(none.behind(ip("10.0.0.2"), &headers("203.0.113.9")), ip("10.0.0.2"));
        let trusted = ClientIp::new(crate::config::parse_cidrs("10.0.0.0/8, 192.168.1.1").unwrap());
        assert_eq!(trusted.behind(ip("198.51.100.1"), &headers("203.0.113.9")), ip("198.51.100.1"), "untrusted peer");
        assert_eq!(trusted.behind(ip("10.0.0.2"), &headers("203.0.113.9")), ip("203.0.113.9"));
        // What the client wrote on the left is skipped: the first untrusted from the right is it.
        assert_eq!(trusted.behind(ip("10.0.0.2"), &headers("6.6.6.6, 203.0.113.9, 192.168.1.1")), ip("203.0.113.9"));
        assert_eq!(trusted.behind(ip("10.0.0.2"), &headers("garbage, 203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(trusted.behind(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
        assert_eq!(trusted.behind(ip("::ffff:10.0.0.2"), &headers("203.0.113.9:4711")), ip("203.0.113.9"));
    }
}
