// SPDX-License-Identifier: GPL-2.0
//! The deterministic random numbers of the tests and benches: splitmix64, no dependency,
//! the same sequence for a seed everywhere. Tests include it with `mod rng;`, benches
//! with `#[path = "../tests/rng/mod.rs"] mod rng;`; a file may add its own helpers in an
//! `impl Rng` of its own.
#![allow(dead_code)]

/// splitmix64 with its state.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; 0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for c in a.chunks_mut(8) {
            let n = c.len();
            c.copy_from_slice(&self.next().to_be_bytes()[..n]);
        }
        a
    }
}
