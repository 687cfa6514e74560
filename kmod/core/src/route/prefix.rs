// SPDX-License-Identifier: GPL-2.0
//! Address families, prefixes and their text form (RFC 5952 for IPv6).

use core::fmt;

use super::RouteError;

/// Address family of a route table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (AF_INET = 2).
    Inet,
    /// IPv6 (AF_INET6 = 10).
    Inet6,
}

impl Family {
    /// Address length in bytes: 4 or 16.
    #[inline]
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Inet => 4,
            Family::Inet6 => 16,
        }
    }

    /// Longest prefix length: 32 or 128.
    #[inline]
    pub const fn max_len(self) -> u8 {
        match self {
            Family::Inet => 32,
            Family::Inet6 => 128,
        }
    }

    /// The family of a Linux address family number (AF_INET = 2, AF_INET6 = 10).
    #[inline]
    pub const fn from_af(af: u8) -> Option<Family> {
        match af {
            2 => Some(Family::Inet),
            10 => Some(Family::Inet6),
            _ => None,
        }
    }

    /// The Linux address family number (2 or 10).
    #[inline]
    pub const fn af(self) -> u8 {
        match self {
            Family::Inet => 2,
            Family::Inet6 => 10,
        }
    }

    /// 0 for IPv4, 1 for IPv6: the index of the family's table within a VRF.
    #[inline]
    pub(super) const fn index(self) -> usize {
        match self {
            Family::Inet => 0,
            Family::Inet6 => 1,
        }
    }
}

/// The bits of byte `i` of an address that belong to a prefix of length `len`.
#[inline]
pub(super) fn net_mask_byte(len: u8, i: usize) -> u8 {
    let bit = i.saturating_mul(8);
    let len = usize::from(len);
    if len >= bit.saturating_add(8) {
        0xff
    } else if len <= bit {
        0
    } else {
        // 1..=7 network bits in this byte.
        let n = len.saturating_sub(bit) as u32;
        0xffu8.checked_shl(8u32.saturating_sub(n)).unwrap_or(0)
    }
}

/// A route prefix: family, address (network byte order) and length.
///
/// `addr` always has 16 bytes; an IPv4 prefix uses the first 4, the rest are 0. Build it
/// with [`Prefix::new`] (checked) or [`Prefix::new_masked`] (host bits cleared). The fields
/// are public, so every table operation validates the prefix again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// Address family.
    pub family: Family,
    /// Network address, first `family.addr_len()` bytes used, the rest 0.
    pub addr: [u8; 16],
    /// Prefix length, at most `family.max_len()`.
    pub len: u8,
}

impl Prefix {
    /// A prefix from an address of exactly `family.addr_len()` bytes.
    ///
    /// Errors: [`RouteError::BadLength`] when `len` is beyond 32/128 or `addr` has the wrong
    /// length, [`RouteError::HostBitsSet`] when bits past `len` are set.
    pub fn new(family: Family, addr: &[u8], len: u8) -> Result<Prefix, RouteError> {
        let p = Self::new_masked(family, addr, len)?;
        if p.addr.get(..addr.len()) != Some(addr) {
            return Err(RouteError::HostBitsSet);
        }
        Ok(p)
    }

    /// Like [`Prefix::new`], but clears the host bits instead of refusing them.
    pub fn new_masked(family: Family, addr: &[u8], len: u8) -> Result<Prefix, RouteError> {
        if len > family.max_len() || addr.len() != family.addr_len() {
            return Err(RouteError::BadLength);
        }
        let mut a = [0u8; 16];
        for (i, (d, s)) in a.iter_mut().zip(addr.iter()).enumerate() {
            *d = *s & net_mask_byte(len, i);
        }
        Ok(Prefix {
            family,
            addr: a,
            len,
        })
    }

    /// The host route (/32 or /128) of an address.
    pub fn host(family: Family, addr: &[u8]) -> Result<Prefix, RouteError> {
        Self::new(family, addr, family.max_len())
    }

    /// Checks a prefix that may have been built field by field.
    pub fn validate(&self) -> Result<(), RouteError> {
        if self.len > self.family.max_len() {
            return Err(RouteError::BadLength);
        }
        for (i, b) in self.addr.iter().enumerate() {
            if *b & !net_mask_byte(self.len, i) != 0 {
                return Err(if i < self.family.addr_len() {
                    RouteError::HostBitsSet
                } else {
                    RouteError::BadLength
                });
            }
        }
        Ok(())
    }

    /// The used address bytes (4 or 16).
    #[inline]
    pub fn addr_bytes(&self) -> &[u8] {
        self.addr
            .get(..self.family.addr_len())
            .unwrap_or(&self.addr)
    }

    /// Whether `addr` (4 or 16 bytes, same family) lies inside this prefix.
    pub fn contains(&self, addr: &[u8]) -> bool {
        addr.len() == self.family.addr_len()
            && addr
                .iter()
                .zip(self.addr.iter())
                .enumerate()
                .all(|(i, (a, p))| *a & net_mask_byte(self.len, i) == *p)
    }

    /// Whether `other` is the same prefix or a more specific one inside this one.
    pub fn covers(&self, other: &Prefix) -> bool {
        self.family == other.family && self.len <= other.len && self.contains(other.addr_bytes())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::Inet => {
                let [a, b, c, d, ..] = self.addr;
                f.write_fmt(format_args!("{a}.{b}.{c}.{d}/{}", self.len))
            }
            Family::Inet6 => {
                write_v6(f, &self.addr)?;
                f.write_fmt(format_args!("/{}", self.len))
            }
        }
    }
}

/// An IPv6 address in RFC 5952 form: lower-case hex, no leading zeros, the longest run
/// (the first of equals) of two or more zero groups as `::`, and `::ffff:a.b.c.d` for
/// IPv4-mapped addresses (RFC 5952 §5).
pub(super) fn write_v6(f: &mut fmt::Formatter<'_>, a: &[u8; 16]) -> fmt::Result {
    let mut g = [0u16; 8];
    for (i, d) in g.iter_mut().enumerate() {
        if let (Some(&hi), Some(&lo)) = (a.get(2 * i), a.get(2 * i + 1)) {
            *d = u16::from_be_bytes([hi, lo]);
        }
    }
    if let [0, 0, 0, 0, 0, 0xffff, ..] = g {
        let [.., w, x, y, z] = *a;
        return f.write_fmt(format_args!("::ffff:{w}.{x}.{y}.{z}"));
    }
    // Longest run of zero groups.
    let (mut best_at, mut best_len) = (0usize, 0usize);
    let mut run_at = 0usize;
    let mut run_len = 0usize;
    for (i, x) in g.iter().enumerate() {
        if *x == 0 {
            if run_len == 0 {
                run_at = i;
            }
            run_len += 1;
            if run_len > best_len {
                best_at = run_at;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    if best_len < 2 {
        best_len = 0;
        best_at = 8;
    }
    let mut i = 0usize;
    let mut sep = false;
    while i < 8 {
        if i == best_at {
            f.write_str("::")?;
            i = i.saturating_add(best_len);
            sep = false;
            continue;
        }
        if sep {
            f.write_str(":")?;
        }
        f.write_fmt(format_args!("{:x}", g.get(i).copied().unwrap_or(0)))?;
        sep = true;
        i += 1;
    }
    Ok(())
}
