// SPDX-License-Identifier: GPL-2.0
//! The Internet checksum (RFC 1071): ones' complement sum of 16-bit big-endian words.

/// A running ones' complement sum over a byte stream that may arrive in pieces of any
/// length (an odd piece leaves its last byte pending, as the high byte of the next word).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    /// 32-bit sum with end-around carry (congruent to the 16-bit sum modulo 0xffff).
    sum: u32,
    /// The high byte of a word whose low byte has not arrived yet.
    odd: Option<u8>,
}

impl Checksum {
    /// An empty sum.
    pub const fn new() -> Self {
        Checksum { sum: 0, odd: None }
    }

    /// A sum starting from a partial sum (e.g. [`ipv6_pseudo_header_sum`]).
    pub fn with_initial(initial: u32) -> Self {
        let mut c = Checksum::new();
        c.add_u32(initial);
        c
    }

    fn add_u32(&mut self, w: u32) {
        let (s, carry) = self.sum.overflowing_add(w);
        self.sum = s.wrapping_add(u32::from(carry));
    }

    /// Adds the next bytes of the stream.
    pub fn add(&mut self, data: &[u8]) -> &mut Self {
        let mut data = data;
        if let Some(hi) = self.odd.take() {
            match data.split_first() {
                Some((lo, rest)) => {
                    self.add_u32(u32::from(u16::from_be_bytes([hi, *lo])));
                    data = rest;
                }
                None => {
                    self.odd = Some(hi);
                    return self;
                }
            }
        }
        let mut chunks = data.chunks_exact(4);
        for c in &mut chunks {
            if let Ok(w) = <[u8; 4]>::try_from(c) {
                // 2^16 == 1 (mod 0xffff): a 32-bit word adds its two halves.
                self.add_u32(u32::from_be_bytes(w));
            }
        }
        let rem = chunks.remainder();
        let (pair, last) = match rem.split_first_chunk::<2>() {
            Some((pair, last)) => (Some(*pair), last),
            None => (None, rem),
        };
        if let Some(p) = pair {
            self.add_u32(u32::from(u16::from_be_bytes(p)));
        }
        if let Some(b) = last.first() {
            self.odd = Some(*b);
        }
        self
    }

    /// The folded 16-bit sum so far (not complemented), a pending odd byte padded with
    /// zero. Usable as the `initial` of another sum.
    pub fn partial(&self) -> u16 {
        let mut c = *self;
        if let Some(hi) = c.odd {
            c.add_u32(u32::from(hi) << 8);
        }
        let s = (c.sum & 0xffff) + (c.sum >> 16);
        let s = (s & 0xffff) + (s >> 16);
        // s <= 0xffff after two folds.
        s as u16
    }

    /// The checksum field value: the complement of the folded sum. Over data that
    /// includes a correct checksum field this is 0.
    pub fn finish(&self) -> u16 {
        !self.partial()
    }
}

/// Internet checksum of the concatenation of `parts`, starting from the partial sum
/// `initial` (0, or a pseudo-header sum). Returns the value to store in a checksum field
/// (which must be zero in `parts` while computing); over data that already holds a
/// correct checksum the result is 0.
pub fn checksum(parts: &[&[u8]], initial: u32) -> u16 {
    let mut c = Checksum::with_initial(initial);
    for p in parts {
        c.add(p);
    }
    c.finish()
}

/// IPv4 header checksum of `header` (IHL * 4 bytes), its checksum field (bytes 10..12)
/// counted as zero whatever it holds.
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let (head, tail) = match header.split_at_checked(10) {
        Some((head, rest)) => (head, rest.get(2..).unwrap_or(&[])),
        None => (header, &[][..]),
    };
    checksum(&[head, tail], 0)
}

/// Whether the IPv4 header (IHL * 4 bytes) carries a correct checksum.
pub fn ipv4_header_checksum_ok(header: &[u8]) -> bool {
    checksum(&[header], 0) == 0
}

/// Partial sum of the IPv4 pseudo-header (RFC 768/793) for an upper-layer packet of
/// `len` bytes; pass it as `initial` to [`checksum`].
pub fn ipv4_pseudo_header_sum(src: [u8; 4], dst: [u8; 4], proto: u8, len: u16) -> u32 {
    let mut c = Checksum::new();
    c.add(&src)
        .add(&dst)
        .add(&[0, proto])
        .add(&len.to_be_bytes());
    u32::from(c.partial())
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer packet of
/// `upper_len` bytes; pass it as `initial` to [`checksum`].
pub fn ipv6_pseudo_header_sum(
    src: [u8; 16],
    dst: [u8; 16],
    upper_len: u32,
    next_header: u8,
) -> u32 {
    let mut c = Checksum::new();
    c.add(&src)
        .add(&dst)
        .add(&upper_len.to_be_bytes())
        .add(&[0, 0, 0, next_header]);
    u32::from(c.partial())
}

/// Checksum of an IPv6 upper-layer packet (ICMPv6, TCP, UDP) including the pseudo-header.
/// `data` is the whole upper-layer packet with its checksum field zeroed (result: the field
/// value) or as received (result: 0 when it verifies).
pub fn ipv6_upper_layer_checksum(
    src: [u8; 16],
    dst: [u8; 16],
    next_header: u8,
    data: &[u8],
) -> u16 {
    // Lengths beyond u32 cannot occur in an IPv6 packet; truncating is harmless.
    let len = data.len() as u32;
    checksum(&[data], ipv6_pseudo_header_sum(src, dst, len, next_header))
}

/// Incremental checksum update (RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`) for one 16-bit
/// word of the covered data changing from `old` to `new`. When `check` came from a full
/// computation over non-zero data (so it is never 0xffff), the result equals a full
/// recomputation over the new data.
pub fn csum_replace16(check: u16, old: u16, new: u16) -> u16 {
    let mut c = Checksum::new();
    c.add_u32(u32::from(!check));
    c.add_u32(u32::from(!old));
    c.add_u32(u32::from(new));
    c.finish()
}
