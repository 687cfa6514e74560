//! Address management for the node's pod CIDRs (IPv4 and IPv6).
//!
//! The pool itself is not persisted: the persisted ports are the allocations, and the pool
//! is rebuilt from them at start. Since a port is written to disk before its address is
//! handed out, an address can never be handed out twice, even across kill -9.
//! Allocation is next-fit (a cursor that moves on), so a freed address is reused last:
//! stale neighbour entries of a deleted pod rarely meet the next one.

use ipnet::{Ipv4Net, Ipv6Net};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("address pool {0} is exhausted")]
    Exhausted(String),
    #[error("{addr} is outside {net}")]
    Outside { addr: String, net: String },
    #[error("{0} is reserved")]
    Reserved(String),
    #[error("{0} is already in use")]
    InUse(String),
}

/// One subnet as host numbers `first..=last` (offsets in u128 so v4 and v6 share the code).
#[derive(Debug, Clone)]
struct Range {
    base: u128,
    first: u128,
    last: u128,
    reserved: BTreeSet<u128>,
    used: BTreeSet<u128>,
    cursor: u128,
}

impl Range {
    fn new(base: u128, first: u128, last: u128, reserved: impl IntoIterator<Item = u128>) -> Range {
        Range {
            base,
            first,
            last,
            reserved: reserved.into_iter().collect(),
            used: BTreeSet::new(),
            cursor: first,
        }
    }

    fn capacity(&self) -> u128 {
        let reserved_inside = self
            .reserved
            .iter()
            .filter(|r| (self.first..=self.last).contains(*r))
            .count() as u128;
        (self.last - self.first + 1).saturating_sub(reserved_inside)
    }

    fn free(&self, h: u128) -> bool {
        !self.used.contains(&h) && !self.reserved.contains(&h)
    }

    fn allocate(&mut self) -> Option<u128> {
        if self.used.len() as u128 >= self.capacity() {
            return None;
        }
        // The pool is not full, so this walk ends; it skips at most used+reserved entries.
        let mut h = self.cursor;
        loop {
            if h > self.last {
                h = self.first;
            }
            if self.free(h) {
                self.used.insert(h);
                self.cursor = h + 1;
                return Some(h);
            }
            h += 1;
        }
    }

    fn mark(&mut self, h: u128) -> Result<(), &'static str> {
        if !(self.first..=self.last).contains(&h) {
            return Err("outside");
        }
        if self.reserved.contains(&h) {
            return Err("reserved");
        }
        if !self.used.insert(h) {
            return Err("in use");
        }
        Ok(())
    }
}

/// The node's pools.
#[derive(Debug, Clone)]
pub struct Ipam {
    v4_net: Ipv4Net,
    v4: Range,
    v6_net: Option<Ipv6Net>,
    v6: Option<Range>,
}

impl Ipam {
    /// Hosts of `v4` except the network and broadcast addresses and `reserved_v4`; all of
    /// `v6` except its subnet-router anycast address (::0) and `reserved_v6`.
    pub fn new(
        v4: Ipv4Net,
        reserved_v4: &[Ipv4Addr],
        v6: Option<Ipv6Net>,
        reserved_v6: &[Ipv6Addr],
    ) -> Ipam {
        let base = u128::from(u32::from(v4.network()));
        let size = u128::from(u32::from(v4.broadcast())) - base;
        let res4 = reserved_v4
            .iter()
            .map(|a| u128::from(u32::from(*a)).wrapping_sub(base));
        let v6r = v6.map(|n| {
            let base = u128::from(n.network());
            let last = u128::from(n.broadcast()) - base;
            Range::new(
                base,
                1,
                last,
                reserved_v6
                    .iter()
                    .map(|a| u128::from(*a).wrapping_sub(base)),
            )
        });
        Ipam {
            v4_net: v4,
            v4: Range::new(base, 1, size - 1, res4),
            v6_net: v6,
            v6: v6r,
        }
    }

    pub fn allocate_v4(&mut self) -> Result<Ipv4Addr, IpamError> {
        let h = self
            .v4
            .allocate()
            .ok_or_else(|| IpamError::Exhausted(self.v4_net.to_string()))?;
        Ok(Ipv4Addr::from((self.v4.base + h) as u32))
    }

    /// None when the node has no IPv6 pod CIDR.
    pub fn allocate_v6(&mut self) -> Result<Option<Ipv6Addr>, IpamError> {
        let (Some(r), Some(net)) = (self.v6.as_mut(), self.v6_net) else {
            return Ok(None);
        };
        let h = r
            .allocate()
            .ok_or_else(|| IpamError::Exhausted(net.to_string()))?;
        Ok(Some(Ipv6Addr::from(r.base + h)))
    }

    /// Marks an address taken (a port loaded from disk).
    pub fn mark_v4(&mut self, a: Ipv4Addr) -> Result<(), IpamError> {
        let h = u128::from(u32::from(a)).wrapping_sub(self.v4.base);
        self.v4
            .mark(h)
            .map_err(|why| self.error(why, a.to_string(), self.v4_net.to_string()))
    }

    pub fn mark_v6(&mut self, a: Ipv6Addr) -> Result<(), IpamError> {
        let (Some(r), Some(net)) = (self.v6.as_mut(), self.v6_net) else {
            return Err(IpamError::Outside {
                addr: a.to_string(),
                net: "no pod-cidr-v6".into(),
            });
        };
        let h = u128::from(a).wrapping_sub(r.base);
        r.mark(h).map_err(|why| match why {
            "outside" => IpamError::Outside {
                addr: a.to_string(),
                net: net.to_string(),
            },
            "reserved" => IpamError::Reserved(a.to_string()),
            _ => IpamError::InUse(a.to_string()),
        })
    }

    fn error(&self, why: &str, addr: String, net: String) -> IpamError {
        match why {
            "outside" => IpamError::Outside { addr, net },
            "reserved" => IpamError::Reserved(addr),
            _ => IpamError::InUse(addr),
        }
    }

    pub fn release_v4(&mut self, a: Ipv4Addr) {
        self.v4
            .used
            .remove(&u128::from(u32::from(a)).wrapping_sub(self.v4.base));
    }

    pub fn release_v6(&mut self, a: Ipv6Addr) {
        if let Some(r) = self.v6.as_mut() {
            r.used.remove(&u128::from(a).wrapping_sub(r.base));
        }
    }

    pub fn in_use_v4(&self) -> usize {
        self.v4.used.len()
    }

    pub fn in_use_v6(&self) -> usize {
        self.v6.as_ref().map_or(0, |r| r.used.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn pool(cidr: &str) -> Ipam {
        let n: Ipv4Net = cidr.parse().unwrap();
        let gw = Ipv4Addr::from(u32::from(n.network()) + 1);
        Ipam::new(
            n,
            &[gw],
            Some("fd00:32::/120".parse().unwrap()),
            &["fd00:32::1".parse().unwrap()],
        )
    }

    #[test]
    fn hands_out_every_host_once_then_reports_exhaustion() {
        let mut p = pool("10.0.0.0/29"); // hosts .1-.6, .1 is the gateway
        let got: Vec<_> = (0..5).map(|_| p.allocate_v4().unwrap()).collect();
        assert_eq!(
            got.iter().map(|a| a.octets()[3]).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6]
        );
        assert_eq!(
            p.allocate_v4(),
            Err(IpamError::Exhausted("10.0.0.0/29".into()))
        );
        p.release_v4(Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(p.allocate_v4().unwrap(), Ipv4Addr::new(10, 0, 0, 4));
        assert_eq!(p.in_use_v4(), 5);
    }

    #[test]
    fn next_fit_reuses_freed_addresses_last() {
        let mut p = pool("10.0.0.0/24");
        let a = p.allocate_v4().unwrap();
        let _b = p.allocate_v4().unwrap();
        p.release_v4(a);
        assert_ne!(p.allocate_v4().unwrap(), a);
    }

    #[test]
    fn marking_rebuilds_the_pool_and_refuses_conflicts() {
        let mut p = pool("10.0.0.0/24");
        p.mark_v4(Ipv4Addr::new(10, 0, 0, 2)).unwrap();
        assert_eq!(
            p.mark_v4(Ipv4Addr::new(10, 0, 0, 2)),
            Err(IpamError::InUse("10.0.0.2".into()))
        );
        assert_eq!(
            p.mark_v4(Ipv4Addr::new(10, 0, 0, 1)),
            Err(IpamError::Reserved("10.0.0.1".into()))
        );
        assert!(matches!(
            p.mark_v4(Ipv4Addr::new(10, 0, 1, 2)),
            Err(IpamError::Outside { .. })
        ));
        assert!(matches!(
            p.mark_v4(Ipv4Addr::new(10, 0, 0, 255)),
            Err(IpamError::Outside { .. })
        ));
        assert_ne!(p.allocate_v4().unwrap(), Ipv4Addr::new(10, 0, 0, 2));
    }

    #[test]
    fn v6_pool_skips_anycast_and_gateway() {
        let mut p = pool("10.0.0.0/24");
        let a = p.allocate_v6().unwrap().unwrap();
        assert_eq!(a, "fd00:32::2".parse::<Ipv6Addr>().unwrap());
        let mut seen = HashSet::from([a]);
        while let Ok(Some(x)) = p.allocate_v6() {
            assert!(seen.insert(x), "{x} twice");
        }
        assert_eq!(seen.len(), 254); // ::1 .. ::ff minus the gateway
        assert!(p.mark_v6("fd00:33::2".parse().unwrap()).is_err());
    }

    #[test]
    fn no_v6_pool_means_no_v6_addresses() {
        let mut p = Ipam::new("10.0.0.0/24".parse().unwrap(), &[], None, &[]);
        assert_eq!(p.allocate_v6(), Ok(None));
    }
}
