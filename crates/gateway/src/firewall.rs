//! The IP firewall: when an allow-list is set, requests from other addresses
//! are refused with a 403 that names the address, so a blocked developer
//! knows at once that the firewall (not their credentials) is at fault.

use std::net::IpAddr;

use axum::http::StatusCode;

use crate::error::ApiError;

/// One allowed address or CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `10.1.2.3`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{text}' is not an IP address or CIDR range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{text}': the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client may arrive as an IPv4-mapped IPv6 address.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if net[..full] != ip[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    net[full] & mask == ip[full] & mask
}

/// The addresses allowed to connect.
#[derive(Debug, Clone, Default)]
pub struct Firewall {
    allowed: Vec<IpRange>,
}

impl Firewall {
    pub fn new(allowed: Vec<IpRange>) -> Self {
        Self { allowed }
    }

    /// Refuses `client` unless the list is empty or holds it.
    pub fn admit(&self, client: IpAddr) -> Result<(), ApiError> {
        if self.allowed.is_empty() || self.allowed.iter().any(|r| r.contains(client)) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Request originated from IP {client} through public internet. This is blocked by \
                 your Cosmos DB account firewall settings. Add {client} (or its range) with \
                 --allow-ip to let it in."
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_admit_what_they_cover() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let net = IpRange::parse("10.0.0.0/8").expect("range");
        assert!(net.contains(ip("10.200.1.1")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(net.contains(ip("::ffff:10.1.1.1")));
        let odd = IpRange::parse("192.168.1.128/25").expect("range");
        assert!(odd.contains(ip("192.168.1.200")));
        assert!(!odd.contains(ip("192.168.1.100")));
        assert!(IpRange::parse("::1").expect("v6").contains(ip("::1")));
        assert!(IpRange::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
        let firewall = Firewall::new(vec![IpRange::parse("127.0.0.1").expect("one")]);
        assert!(firewall.admit(ip("127.0.0.1")).is_ok());
        let refused = firewall.admit(ip("10.9.8.7")).expect_err("blocked");
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.message.contains("10.9.8.7") && refused.message.contains("firewall"));
        assert!(Firewall::default().admit(ip("1.1.1.1")).is_ok());
    }
}
