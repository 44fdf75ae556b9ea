//! SSRF guard: which addresses a source may make us connect to.
//!
//! Source URLs are configuration that a shared deployment may accept from many people, and a
//! fetcher that follows them into 169.254.169.254 or the office network is a classic server-side
//! request forgery. The guard runs where the connection is made: a DNS resolver that drops
//! forbidden addresses (so DNS rebinding between check and connect is impossible: what we check is
//! what we connect to), a check of IP-literal hosts (which skip the resolver), and the same check on
//! every redirect hop.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address is refused. Shown in errors and stored as the fetch error text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    Reserved,
}

impl std::fmt::Display for Forbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Forbidden::Loopback => "loopback",
            Forbidden::Private => "private network",
            Forbidden::LinkLocal => "link-local",
            Forbidden::Metadata => "cloud metadata",
            Forbidden::Unspecified => "unspecified",
            Forbidden::Multicast => "multicast or broadcast",
            Forbidden::Reserved => "reserved",
        })
    }
}

impl Forbidden {
    /// `--allow-private-networks` opens these, never link-local or metadata addresses.
    fn opened_by_allow_private(self) -> bool {
        matches!(self, Forbidden::Loopback | Forbidden::Private)
    }
}

/// The error the guard raises; found again in reqwest's error chain to classify it `blocked`.
#[derive(Debug, thiserror::Error)]
#[error("refused to connect to {addr} ({reason} address)")]
pub struct Blocked {
    pub addr: IpAddr,
    pub reason: Forbidden,
}

/// A name that did not resolve; classified `dns`.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {name}: {reason}")]
pub struct DnsFailure {
    pub name: String,
    pub reason: String,
}

fn classify(ip: IpAddr) -> Option<Forbidden> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) forms would otherwise
            // smuggle 127.0.0.1 or 169.254.169.254 through. `::` and `::1` are IPv6's own.
            if v6.is_unspecified() || v6.is_loopback() {
                return classify_v6(v6);
            }
            match v6.to_ipv4() {
                Some(v4) => classify_v4(v4),
                None => classify_v6(v6),
            }
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Forbidden> {
    let o = ip.octets();
    if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
        return Some(Forbidden::Metadata);
    }
    if ip.is_unspecified() || o[0] == 0 {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Forbidden::Loopback);
    }
    if ip.is_link_local() {
        return Some(Forbidden::LinkLocal);
    }
    // 10/8, 172.16/12, 192.168/16, and carrier-grade NAT 100.64/10.
    if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        return Some(Forbidden::Private);
    }
    if ip.is_multicast() || ip.is_broadcast() {
        return Some(Forbidden::Multicast);
    }
    // 192.0.0/24, documentation ranges, benchmarking 198.18/15, 240/4.
    if (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || ip.is_documentation()
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || o[0] >= 240
    {
        return Some(Forbidden::Reserved);
    }
    None
}

fn classify_v6(ip: Ipv6Addr) -> Option<Forbidden> {
    let s = ip.segments();
    // AWS's IPv6 instance metadata service, inside the unique-local range.
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(Forbidden::Metadata);
    }
    if ip.is_unspecified() {
        return Some(Forbidden::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Forbidden::Loopback);
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Some(Forbidden::LinkLocal);
    }
    if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        return Some(Forbidden::Private);
    }
    if ip.is_multicast() {
        return Some(Forbidden::Multicast);
    }
    // Documentation 2001:db8::/32, NAT64 well-known prefix could reach v4 private space, 6to4 likewise.
    if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x64 && s[1] == 0xff9b) || s[0] == 0x2002 {
        return Some(Forbidden::Reserved);
    }
    None
}

/// Whether we may connect to `ip`.
pub fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), Blocked> {
    match classify(ip) {
        Some(reason) if !(allow_private && reason.opened_by_allow_private()) => Err(Blocked { addr: ip, reason }),
        _ => Ok(()),
    }
}

/// Checks a URL whose host is an IP literal (those never reach the resolver).
pub fn check_url_host(url: &url::Url, allow_private: bool) -> Result<(), Blocked> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), allow_private),
        Some(url::Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), allow_private),
        _ => Ok(()),
    }
}

/// A resolver that returns only addresses the guard allows.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| DnsFailure {
                    name: host.clone(),
                    reason: e.to_string(),
                })?
                .collect();
            if addrs.is_empty() {
                return Err(DnsFailure {
                    name: host,
                    reason: "no addresses".into(),
                }
                .into());
            }
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match check_ip(a.ip(), allow_private) {
                    Ok(()) => true,
                    Err(b) => {
                        first_refusal.get_or_insert(b);
                        false
                    }
                })
                .collect();
            match first_refusal {
                Some(b) if allowed.is_empty() => Err(b.into()),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_addresses_pass() {
        for a in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(check_ip(ip(a), false).is_ok(), "{a}");
        }
    }

    #[test]
    fn private_and_loopback_are_refused_unless_allowed() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
        ] {
            assert!(check_ip(ip(a), false).is_err(), "{a}");
            assert!(check_ip(ip(a), true).is_ok(), "{a} with allow_private");
        }
    }

    #[test]
    fn metadata_and_link_local_are_always_refused() {
        for a in [
            "169.254.169.254",
            "169.254.1.1",
            "fd00:ec2::254",
            "fe80::1",
            "0.0.0.0",
            "::",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "224.0.0.1",
        ] {
            assert!(check_ip(ip(a), true).is_err(), "{a}");
        }
        assert_eq!(
            check_ip(ip("169.254.169.254"), true).unwrap_err().reason,
            Forbidden::Metadata
        );
    }

    #[test]
    fn ip_literal_urls_are_checked() {
        let u = url::Url::parse("http://[::1]:8080/x").unwrap();
        assert!(check_url_host(&u, false).is_err());
        let u = url::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        assert!(check_url_host(&u, true).is_err());
        let u = url::Url::parse("https://example.com/").unwrap();
        assert!(check_url_host(&u, false).is_ok());
    }
}
