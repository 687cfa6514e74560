// SPDX-License-Identifier: GPL-2.0
//! Flow hashing for ECMP: Bob Jenkins' lookup3 over the 5-tuple, and member selection.

use super::{put, Headers};

/// An IPv4 or IPv6 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpAddr {
    /// IPv4.
    V4([u8; 4]),
    /// IPv6.
    V6([u8; 16]),
}

impl IpAddr {
    /// The address bytes (4 or 16).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => a,
        }
    }
}

/// A flow's 5-tuple (see [`Headers::five_tuple`] for what the ports hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol (IPv6: the upper-layer protocol after extension headers).
    pub proto: u8,
    /// Source port, or ICMP echo identifier.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// Bob Jenkins' lookup3 `hashlittle()` (2006, public domain), the hash behind Linux's
/// `jhash()`: bytes are read as little-endian words whatever the CPU, so the result is the
/// same everywhere and matches the published test vectors (e.g. "Four score and seven
/// years ago" with initval 0 is 0x17770551).
pub fn lookup3(data: &[u8], initval: u32) -> u32 {
    // Lengths beyond u32 wrap, as in the C original.
    let init = 0xdead_beef_u32
        .wrapping_add(data.len() as u32)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut rest = data;
    while rest.len() > 12 {
        let Some((block, tail)) = rest.split_first_chunk::<12>() else {
            break;
        };
        let (x, y, z) = words(block);
        a = a.wrapping_add(x);
        b = b.wrapping_add(y);
        c = c.wrapping_add(z);
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }
    if rest.is_empty() {
        return c;
    }
    // The last 1..=12 bytes, zero padded (adding zero bytes changes nothing).
    let mut last = [0u8; 12];
    let _ = put(&mut last, 0, rest);
    let (x, y, z) = words(&last);
    a = a.wrapping_add(x);
    b = b.wrapping_add(y);
    c = c.wrapping_add(z);
    final_mix(&mut a, &mut b, &mut c);
    c
}

fn words(block: &[u8; 12]) -> (u32, u32, u32) {
    let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11] = *block;
    (
        u32::from_le_bytes([k0, k1, k2, k3]),
        u32::from_le_bytes([k4, k5, k6, k7]),
        u32::from_le_bytes([k8, k9, k10, k11]),
    )
}

fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

fn final_mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// Hash of a 5-tuple: [`lookup3`] over `src | dst | sport | dport | proto` (network byte
/// order; 13 bytes for IPv4, 37 for IPv6, so the families never collide by construction).
/// `seed` lets routers in a chain hash differently (avoids ECMP polarization); 0 is fine.
pub fn hash_tuple(t: &FiveTuple, seed: u32) -> u32 {
    let mut buf = [0u8; 37];
    let mut n = 0usize;
    for part in [
        t.src.as_bytes(),
        t.dst.as_bytes(),
        &t.sport.to_be_bytes()[..],
        &t.dport.to_be_bytes()[..],
        &[t.proto][..],
    ] {
        if put(&mut buf, n, part).is_some() {
            n += part.len();
        }
    }
    lookup3(buf.get(..n).unwrap_or(&[]), seed)
}

/// The ECMP flow hash of a parsed frame: [`hash_tuple`] of [`Headers::five_tuple`] with
/// seed 0; for non-IP frames, lookup3 of the MAC addresses and ethertype. Deterministic:
/// equal tuples give equal hashes whatever else differs (TTL, MACs, payload).
pub fn flow_hash(h: &Headers) -> u32 {
    match h.five_tuple() {
        Some(t) => hash_tuple(&t, 0),
        None => {
            let mut buf = [0u8; 14];
            let _ = put(&mut buf, 0, &h.dst_mac);
            let _ = put(&mut buf, 6, &h.src_mac);
            let _ = put(&mut buf, 12, &h.ethertype.to_be_bytes());
            lookup3(&buf, 0)
        }
    }
}

/// Picks one of `n` ECMP members for a flow hash; `None` when `n == 0`.
///
/// Multiply-shift (`hash * n >> 32`, Lemire's "fast range") instead of `hash % n`: no
/// division on the fast path, and it takes the hash's *high* bits, which lookup3 mixes
/// best, where `%` by a small even `n` looks only at the lowest bits. Both are equally
/// (negligibly, < n / 2^32) biased for a uniform hash. `n` above `u32::MAX` is treated as
/// `u32::MAX`; the result is always `< n`.
pub fn pick_member(hash: u32, n: usize) -> Option<usize> {
    if n == 0 {
        return None;
    }
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    // hash < 2^32 and n32 < 2^32: the product fits in u64, the result is < n32.
    let idx = (u64::from(hash) * u64::from(n32)) >> 32;
    usize::try_from(idx).ok()
}
