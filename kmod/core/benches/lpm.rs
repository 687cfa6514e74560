// SPDX-License-Identifier: GPL-2.0
//! Longest-prefix-match benchmark of `vrouter_core::route` (plain std timing).
//!
//! Builds one VRF with 1,000,000 random IPv4 prefixes and 200,000 random IPv6 prefixes
//! (deterministic splitmix64, length mixes printed with the results), then times
//! lookups over 4M precomputed addresses:
//! - `random`: uniformly random addresses (IPv6: under 2000::/3),
//! - `inside`: addresses inside randomly chosen installed prefixes,
//! - `chained`: `inside` again, but each address depends on the previous result
//!   (latency rather than throughput).
//!
//! A third part times a TF-typical tenant VRF (VM /32 and /128 host routes, addresses
//! handed out in order by IPAM, in a few subnets, plus a default route): a trie small enough to stay in the caches, which
//! shows the compute cost of a lookup without DRAM misses.
//!
//! Run with `cargo bench -p vrouter-core --bench lpm`.

use std::hint::black_box;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

#[path = "../tests/rng/mod.rs"]
mod rng;

use rng::Rng;
use vrouter_core::route::{nodes_len, Family, Prefix, RouteData, RouteSlot, RouteTable};

const V4_ROUTES: usize = 1_000_000;
const V6_ROUTES: usize = 200_000;
const ADDRS: usize = 1 << 22;
const PASSES: usize = 3;
/// Addresses of the chained (latency) runs.
const CHAINED: usize = 1 << 20;
const BUCKETS: usize = 640 * 1024;
const ROUTE_SLOTS: usize = V4_ROUTES + V6_ROUTES + 1024;
const HASH: usize = 1 << 21;

/// IPv4 length mix, per mille (lengths in a range are equally likely).
const V4_MIX: &[(u8, u8, u32)] = &[
    (8, 15, 20),
    (16, 19, 80),
    (20, 21, 90),
    (22, 22, 90),
    (23, 23, 80),
    (24, 24, 600),
    (25, 31, 20),
    (32, 32, 20),
];

/// IPv6 length mix, per mille.
const V6_MIX: &[(u8, u8, u32)] = &[
    (32, 32, 100),
    (33, 47, 100),
    (48, 48, 600),
    (49, 63, 60),
    (64, 64, 120),
    (128, 128, 20),
];

/// IPv6 prefixes sit under this many random /32 "allocations" in 2000::/3, and bits
/// 32..40 are below 64 (allocations are filled from the bottom).
const V6_ALLOCATIONS: u64 = 30_000;

/// Tenant VRF: host routes and the subnets they sit in.
const TENANT_HOSTS: usize = 4000;
const TENANT_SUBNETS: usize = 16;

impl Rng {
    /// A prefix length drawn from `mix`: (shortest, longest, weight per mille).
    fn len(&mut self, mix: &[(u8, u8, u32)]) -> u8 {
        let mut x = self.below(1000) as u32;
        for (lo, hi, w) in mix {
            if x < *w {
                return lo + self.below(u64::from(hi - lo) + 1) as u8;
            }
            x -= w;
        }
        mix[mix.len() - 1].1
    }
}

fn mix_text(mix: &[(u8, u8, u32)]) -> String {
    mix.iter()
        .map(|(lo, hi, w)| {
            let pct = format!("{}.{}%", w / 10, w % 10);
            if lo == hi {
                format!("/{lo} {pct}")
            } else {
                format!("/{lo}-{hi} {pct}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn mask(bytes: &mut [u8], len: u8) {
    for (i, b) in bytes.iter_mut().enumerate() {
        let bit = i * 8;
        let l = usize::from(len);
        *b &= if l >= bit + 8 {
            0xff
        } else if l <= bit {
            0
        } else {
            0xffu8 << (8 - (l - bit))
        };
    }
}

/// A random address inside `p` (host bits random).
fn inside(rng: &mut Rng, p: &Prefix) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&rng.next().to_be_bytes());
    r[8..].copy_from_slice(&rng.next().to_be_bytes());
    let mut m = [0xffu8; 16];
    mask(&mut m, p.len);
    let mut a = [0u8; 16];
    for i in 0..16 {
        a[i] = (p.addr[i] & m[i]) | (r[i] & !m[i]);
    }
    if p.family == Family::Inet {
        a[4..].fill(0);
    }
    a
}

fn v6_addr(rng: &mut Rng, allocs: &[u32]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&allocs[rng.below(allocs.len() as u64) as usize].to_be_bytes());
    a[4] = rng.below(64) as u8;
    a[5..13].copy_from_slice(&rng.next().to_be_bytes());
    a[13..].copy_from_slice(&rng.next().to_be_bytes()[..3]);
    a
}

fn words(n: usize) -> Vec<AtomicU32> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}

fn data(i: usize) -> RouteData {
    RouteData {
        nh: i as u32 & 0xffff,
        label: i as u32,
        flags: 0,
        mac: [0; 6],
    }
}

struct Timing {
    best: Duration,
    hits: usize,
}

/// Best of `PASSES` passes over `addrs` (independent lookups).
fn time_lookups<A, F: Fn(&A) -> Option<u32>>(addrs: &[A], f: F) -> Timing {
    let mut best = Duration::MAX;
    let mut hits = 0;
    for _ in 0..PASSES {
        let t0 = Instant::now();
        let mut h = 0usize;
        let mut acc = 0u32;
        for a in addrs {
            if let Some(nh) = black_box(f(black_box(a))) {
                h += 1;
                acc = acc.wrapping_add(nh);
            }
        }
        black_box(acc);
        best = best.min(t0.elapsed());
        hits = h;
    }
    Timing { best, hits }
}

/// Like `time_lookups`, but the next address depends on the previous result.
fn time_chained<A, F: Fn(&A) -> Option<u32>>(addrs: &[A], f: F) -> Timing {
    let mut best = Duration::MAX;
    let mut hits = 0;
    let n = addrs.len();
    for _ in 0..PASSES {
        let t0 = Instant::now();
        let mut h = 0usize;
        let mut prev = 0usize;
        for i in 0..n {
            let a = &addrs[(i ^ (prev & 1)) % n];
            match f(a) {
                Some(nh) => {
                    h += 1;
                    prev = nh as usize;
                }
                None => prev = 0,
            }
        }
        black_box(prev);
        best = best.min(t0.elapsed());
        hits = h;
    }
    Timing { best, hits }
}

fn report(label: &str, t: &Timing, n: usize) {
    let ns = t.best.as_nanos() as f64 / n as f64;
    println!(
        "  {label:<28} {ns:7.2} ns/lookup  {:7.1} M lookups/s  (hits {:5.1}%)",
        1e3 / ns,
        100.0 * t.hits as f64 / n as f64
    );
}

fn main() {
    let t_start = Instant::now();
    let (t, mut w) = RouteTable::new(
        words(4),
        words(nodes_len(BUCKETS)),
        (0..ROUTE_SLOTS)
            .map(|_| RouteSlot::new())
            .collect::<Vec<_>>(),
        words(HASH),
    )
    .expect("storage");
    let mut nog = || {};
    println!("vrouter-core route LPM benchmark (8-bit stride multibit trie, leaf-pushed)");
    println!(
        "storage: {} buckets ({} MiB), {} route entries x {} B, {} hash heads; setup {:.2?}",
        BUCKETS,
        BUCKETS >> 10,
        ROUTE_SLOTS,
        std::mem::size_of::<RouteSlot>(),
        HASH,
        t_start.elapsed()
    );

    // ---------------------------------------------------------------- IPv4
    let mut rng = Rng(0x5eed_0004);
    let mut v4: Vec<Prefix> = Vec::with_capacity(V4_ROUTES);
    for _ in 0..V4_ROUTES {
        let len = rng.len(V4_MIX);
        let mut a = (rng.next() as u32).to_be_bytes();
        mask(&mut a, len);
        v4.push(Prefix::new(Family::Inet, &a, len).unwrap());
    }
    let t0 = Instant::now();
    let mut replaced = 0;
    for (i, p) in v4.iter().enumerate() {
        if t.add(&mut w, 0, p, data(i), &mut nog)
            .expect("add v4")
            .is_some()
        {
            replaced += 1;
        }
    }
    let build4 = t0.elapsed();
    let u4 = t.usage(&w);
    println!();
    println!(
        "IPv4: {} random prefixes, length mix {}",
        V4_ROUTES,
        mix_text(V4_MIX)
    );
    println!(
        "  build {:.2?} ({:.2} M routes/s); {} distinct routes ({} duplicates replaced)",
        build4,
        V4_ROUTES as f64 / build4.as_secs_f64() / 1e6,
        u4.routes_v4,
        replaced
    );
    println!(
        "  memory: {} buckets = {:.1} MiB, routes {:.1} MiB, total {:.1} MiB ({:.1} B/route)",
        u4.buckets_used,
        u4.buckets_used as f64 / 1024.0,
        u4.routes_v4 as f64 * 64.0 / 1048576.0,
        (u4.buckets_used as f64 * 1028.0 + u4.routes_v4 as f64 * 64.0) / 1048576.0,
        (u4.buckets_used as f64 * 1028.0 + u4.routes_v4 as f64 * 64.0) / u4.routes_v4 as f64
    );

    let mut rnd4 = vec![[0u8; 4]; ADDRS];
    for a in rnd4.iter_mut() {
        *a = (rng.next() as u32).to_be_bytes();
    }
    let mut in4 = vec![[0u8; 4]; ADDRS];
    for a in in4.iter_mut() {
        let p = v4[rng.below(v4.len() as u64) as usize];
        a.copy_from_slice(&inside(&mut rng, &p)[..4]);
    }
    let f4 = |a: &[u8; 4]| t.lookup_v4(0, *a).map(|m| m.data.nh);
    println!(
        "  lookups (lookup_v4, {} addresses, best of {} passes):",
        ADDRS, PASSES
    );
    report("random addresses", &time_lookups(&rnd4, f4), ADDRS);
    report("inside installed prefixes", &time_lookups(&in4, f4), ADDRS);
    report(
        "inside, chained (latency)",
        &time_chained(&in4[..CHAINED], f4),
        CHAINED,
    );
    drop(rnd4);
    drop(in4);

    // ---------------------------------------------------------------- IPv6
    let mut rng = Rng(0x5eed_0006);
    let allocs: Vec<u32> = (0..V6_ALLOCATIONS)
        .map(|_| 0x2000_0000 | (rng.next() as u32 & 0x1fff_ffff))
        .collect();
    let mut v6: Vec<Prefix> = Vec::with_capacity(V6_ROUTES);
    for _ in 0..V6_ROUTES {
        let len = rng.len(V6_MIX);
        let mut a = v6_addr(&mut rng, &allocs);
        mask(&mut a, len);
        v6.push(Prefix::new(Family::Inet6, &a, len).unwrap());
    }
    let t0 = Instant::now();
    let mut replaced = 0;
    for (i, p) in v6.iter().enumerate() {
        if t.add(&mut w, 0, p, data(i), &mut nog)
            .expect("add v6")
            .is_some()
        {
            replaced += 1;
        }
    }
    let build6 = t0.elapsed();
    let u6 = t.usage(&w);
    let b6 = u6.buckets_used - u4.buckets_used;
    println!();
    println!(
        "IPv6: {} random prefixes under {} random /32s in 2000::/3, length mix {}",
        V6_ROUTES,
        V6_ALLOCATIONS,
        mix_text(V6_MIX)
    );
    println!(
        "  build {:.2?} ({:.2} M routes/s); {} distinct routes ({} duplicates replaced)",
        build6,
        V6_ROUTES as f64 / build6.as_secs_f64() / 1e6,
        u6.routes_v6,
        replaced
    );
    println!(
        "  memory: {} buckets = {:.1} MiB, routes {:.1} MiB, total {:.1} MiB ({:.1} B/route)",
        b6,
        b6 as f64 / 1024.0,
        u6.routes_v6 as f64 * 64.0 / 1048576.0,
        (b6 as f64 * 1028.0 + u6.routes_v6 as f64 * 64.0) / 1048576.0,
        (b6 as f64 * 1028.0 + u6.routes_v6 as f64 * 64.0) / u6.routes_v6 as f64
    );
    let mut rnd6 = vec![[0u8; 16]; ADDRS];
    for a in rnd6.iter_mut() {
        a[..8].copy_from_slice(&rng.next().to_be_bytes());
        a[8..].copy_from_slice(&rng.next().to_be_bytes());
        a[0] = 0x20 | (a[0] & 0x1f);
    }
    let mut in6 = vec![[0u8; 16]; ADDRS];
    for a in in6.iter_mut() {
        let p = v6[rng.below(v6.len() as u64) as usize];
        *a = inside(&mut rng, &p);
    }
    let f6 = |a: &[u8; 16]| t.lookup_v6(0, a).map(|m| m.data.nh);
    println!(
        "  lookups (lookup_v6, {} addresses, best of {} passes):",
        ADDRS, PASSES
    );
    report(
        "random addresses in 2000::/3",
        &time_lookups(&rnd6, f6),
        ADDRS,
    );
    report("inside installed prefixes", &time_lookups(&in6, f6), ADDRS);
    report(
        "inside, chained (latency)",
        &time_chained(&in6[..CHAINED], f6),
        CHAINED,
    );

    drop(rnd6);
    drop(in6);

    // ---------------------------------------------------------------- tenant VRF
    let mut rng = Rng(0x5eed_0001);
    let mut hosts4 = Vec::new();
    let mut hosts6 = Vec::new();
    let mut nog = || {};
    let any4 = Prefix::new(Family::Inet, &[0; 4], 0).unwrap();
    let any6 = Prefix::new(Family::Inet6, &[0; 16], 0).unwrap();
    t.add(&mut w, 1, &any4, data(1), &mut nog).unwrap();
    t.add(&mut w, 1, &any6, data(1), &mut nog).unwrap();
    let before = t.usage(&w);
    for s in 0..TENANT_SUBNETS {
        let net4 = [10, 1 + (s / 8) as u8, (s * 32) as u8, 0];
        t.add(
            &mut w,
            1,
            &Prefix::new(Family::Inet, &net4, 24).unwrap(),
            data(2),
            &mut nog,
        )
        .unwrap();
        let mut net6 = [0u8; 16];
        net6[..8].copy_from_slice(&[0xfd, 0, 0x12, 0x34, 0, 0, 0, s as u8]);
        t.add(
            &mut w,
            1,
            &Prefix::new(Family::Inet6, &net6, 64).unwrap(),
            data(2),
            &mut nog,
        )
        .unwrap();
        for h in 0..TENANT_HOSTS / TENANT_SUBNETS {
            let mut a = net4;
            a[3] = 1 + h as u8;
            let p = Prefix::new(Family::Inet, &a, 32).unwrap();
            t.add(&mut w, 1, &p, data(3 + h), &mut nog).unwrap();
            hosts4.push(p);
            // IPAM hands out addresses in order, as TF's does.
            let mut a = net6;
            a[14..].copy_from_slice(&(1 + h as u16).to_be_bytes());
            let p = Prefix::new(Family::Inet6, &a, 128).unwrap();
            t.add(&mut w, 1, &p, data(3 + h), &mut nog).unwrap();
            hosts6.push(p);
        }
    }
    let after = t.usage(&w);
    println!();
    println!(
        "tenant VRF: {} IPv4 /32 + {} IPv6 /128 host routes in {} subnets (/24, /64) + default routes: {} buckets",
        hosts4.len(),
        hosts6.len(),
        TENANT_SUBNETS,
        after.buckets_used - before.buckets_used
    );
    let mut vm4 = vec![[0u8; 4]; ADDRS];
    for a in vm4.iter_mut() {
        let p = hosts4[rng.below(hosts4.len() as u64) as usize];
        a.copy_from_slice(&p.addr[..4]);
    }
    let mut vm6 = vec![[0u8; 16]; ADDRS];
    for a in vm6.iter_mut() {
        *a = hosts6[rng.below(hosts6.len() as u64) as usize].addr;
    }
    let mut ext4 = vec![[0u8; 4]; ADDRS];
    for a in ext4.iter_mut() {
        *a = (rng.next() as u32).to_be_bytes();
    }
    let g4 = |a: &[u8; 4]| t.lookup_v4(1, *a).map(|m| m.data.nh);
    let g6 = |a: &[u8; 16]| t.lookup_v6(1, a).map(|m| m.data.nh);
    report("IPv4 VM addresses", &time_lookups(&vm4, g4), ADDRS);
    report(
        "IPv4 random (default route)",
        &time_lookups(&ext4, g4),
        ADDRS,
    );
    report(
        "IPv4 VM addresses, chained",
        &time_chained(&vm4[..CHAINED], g4),
        CHAINED,
    );
    report("IPv6 VM addresses", &time_lookups(&vm6, g6), ADDRS);
    report(
        "IPv6 VM addresses, chained",
        &time_chained(&vm6[..CHAINED], g6),
        CHAINED,
    );

    // ---------------------------------------------------------------- teardown
    let t0 = Instant::now();
    let mut deleted = 0;
    for p in v4.iter().chain(v6.iter()) {
        if t.delete(&mut w, 0, p, &mut nog).is_ok() {
            deleted += 1;
        }
    }
    let del = t0.elapsed();
    let u = t.usage(&w);
    println!();
    println!(
        "delete all {} routes of VRF 0: {:.2?} ({:.2} M routes/s); left in VRF 1: {} routes, {} buckets",
        deleted,
        del,
        deleted as f64 / del.as_secs_f64() / 1e6,
        u.routes_v4 + u.routes_v6,
        u.buckets_used
    );
    println!("total bench time {:.1?}", t_start.elapsed());
}
