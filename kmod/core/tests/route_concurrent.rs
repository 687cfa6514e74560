// SPDX-License-Identifier: GPL-2.0
//! One writer adds, replaces and deletes routes while reader threads look up addresses
//! without locks. Every route's data encodes its prefix and generation, so a reader can
//! tell that what it got is a complete route that really covers the address; permanent
//! routes (never touched) give a lower bound on the match length, so a reader also
//! notices a slot that was briefly empty or too short.
//!
//! Two runs: with small storage and a real grace period (readers hold a `RwLock` read
//! guard per batch, `grace` takes the write lock: exactly `synchronize_rcu()` semantics),
//! so retired storage is reused all the time; and with storage large enough that nothing
//! is ever reused, where readers take no lock at all.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::RwLock;
use std::thread;

mod rng;

use rng::Rng;
use vrouter_core::route::{
    nodes_len, Family, Prefix, RouteData, RouteError, RouteSlot, RouteTable,
};

const VRFS: u32 = 2;
const CHECK: u32 = 0xa5a5_5a5a;
const PERM: u32 = 0x8000_0000;

impl Rng {
    /// A random address of family `f` (IPv4 in the first 4 bytes).
    fn addr(&mut self, f: Family) -> [u8; 16] {
        let mut a: [u8; 16] = self.bytes();
        if f == Family::Inet {
            a[4..].fill(0);
        }
        a
    }
}

fn data(nh: u32, gen: u32) -> RouteData {
    let m = nh ^ gen.rotate_left(16);
    RouteData {
        nh,
        label: gen,
        flags: nh ^ gen ^ CHECK,
        mac: [
            m as u8,
            (m >> 8) as u8,
            (m >> 16) as u8,
            (m >> 24) as u8,
            0x02,
            gen as u8,
        ],
    }
}

fn data_ok(d: &RouteData) -> bool {
    *d == data(d.nh, d.label)
}

/// A random address inside `p`.
fn inside(rng: &mut Rng, p: &Prefix) -> [u8; 16] {
    let r = rng.addr(p.family);
    let mut a = p.addr;
    for i in 0..p.family.addr_len() {
        let bit = i * 8;
        let keep: u8 = if usize::from(p.len) >= bit + 8 {
            0xff
        } else if usize::from(p.len) <= bit {
            0
        } else {
            0xffu8 << (8 - (usize::from(p.len) - bit))
        };
        a[i] = (p.addr[i] & keep) | (r[i] & !keep);
    }
    a
}

struct Setup {
    /// Candidate routes (vrf, prefix): nh = index + 1.
    pool: Vec<(u32, Prefix)>,
    /// Routes that are never touched: nh = PERM | index.
    perm: Vec<(u32, Prefix)>,
}

fn setup() -> Setup {
    let mut rng = Rng(42);
    let mut pool = Vec::new();
    let mut perm = Vec::new();
    for vrf in 0..VRFS {
        for f in [Family::Inet, Family::Inet6] {
            let max = f.max_len();
            perm.push((
                vrf,
                Prefix::new_masked(f, &[0u8; 16][..f.addr_len()], 0).unwrap(),
            ));
            // A few clusters so that routes nest and share buckets.
            for _ in 0..3 {
                let base = rng.addr(f);
                let plen = if f == Family::Inet { 12 } else { 32 };
                perm.push((
                    vrf,
                    Prefix::new_masked(f, &base[..f.addr_len()], plen).unwrap(),
                ));
                for _ in 0..12 {
                    let mut a = base;
                    let noise = rng.addr(f);
                    // Keep the first bytes of the base, vary the rest.
                    let keep = 1 + rng.below(f.addr_len() as u64 - 1) as usize;
                    a[keep..f.addr_len()].copy_from_slice(&noise[keep..f.addr_len()]);
                    let len = rng.below(u64::from(max) + 1) as u8;
                    let p = Prefix::new_masked(f, &a[..f.addr_len()], len).unwrap();
                    if !pool.contains(&(vrf, p)) && !perm.contains(&(vrf, p)) {
                        pool.push((vrf, p));
                    }
                }
            }
        }
    }
    Setup { pool, perm }
}

fn run(routes: usize, buckets: usize, ops: u32, use_lock: bool) {
    let s = setup();
    let w32 = |n: usize| -> Vec<AtomicU32> { (0..n).map(|_| AtomicU32::new(0)).collect() };
    let (t, mut w) = RouteTable::new(
        w32(VRFS as usize * 2),
        w32(nodes_len(buckets)),
        (0..routes).map(|_| RouteSlot::new()).collect::<Vec<_>>(),
        w32(64),
    )
    .unwrap();
    let mut nog = || {};
    for (i, (vrf, p)) in s.perm.iter().enumerate() {
        t.add(&mut w, *vrf, p, data(PERM | i as u32, 0), &mut nog)
            .unwrap();
    }
    let lock = RwLock::new(());
    let stop = AtomicBool::new(false);
    let lookups = AtomicU64::new(0);
    let graces = AtomicU64::new(0);
    let mut installed = vec![false; s.pool.len()];

    thread::scope(|sc| {
        for r in 0..3u64 {
            let (t, s, lock, stop, lookups) = (&t, &s, &lock, &stop, &lookups);
            sc.spawn(move || {
                let mut rng = Rng(1000 + r);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let _g = if use_lock {
                        Some(lock.read().unwrap())
                    } else {
                        None
                    };
                    for _ in 0..32 {
                        let (vrf, f, addr) = if rng.below(4) == 0 {
                            let vrf = rng.below(u64::from(VRFS)) as u32;
                            let f = if rng.below(2) == 0 {
                                Family::Inet
                            } else {
                                Family::Inet6
                            };
                            (vrf, f, rng.addr(f))
                        } else {
                            let (vrf, p) = s.pool[rng.below(s.pool.len() as u64) as usize];
                            (vrf, p.family, inside(&mut rng, &p))
                        };
                        let a = &addr[..f.addr_len()];
                        let m = t
                            .lookup(vrf, f, a)
                            .expect("hole: the default route is permanent");
                        assert!(m.prefix.contains(a), "{} does not cover {a:?}", m.prefix);
                        assert!(data_ok(&m.data), "torn or garbage data {:?}", m.data);
                        if m.data.nh & PERM != 0 {
                            assert_eq!(s.perm[(m.data.nh & !PERM) as usize], (vrf, m.prefix));
                        } else {
                            assert_eq!(s.pool[m.data.nh as usize - 1], (vrf, m.prefix));
                        }
                        let floor = s
                            .perm
                            .iter()
                            .filter(|(v, p)| *v == vrf && p.contains(a))
                            .map(|(_, p)| p.len)
                            .max()
                            .unwrap();
                        assert!(
                            m.prefix.len >= floor,
                            "{} shorter than a permanent route",
                            m.prefix
                        );
                        n += 1;
                    }
                    // rt --get style queries.
                    let (vrf, p) = s.pool[rng.below(s.pool.len() as u64) as usize];
                    let m = t
                        .lookup_prefix(vrf, &p)
                        .expect("default route is permanent");
                    assert!(
                        m.prefix.covers(&p) && data_ok(&m.data),
                        "lookup_prefix {p}: {m:?}"
                    );
                }
                lookups.fetch_add(n, Ordering::Relaxed);
            });
        }

        let mut rng = Rng(7);
        let mut grace = || {
            if use_lock {
                drop(lock.write().unwrap());
            }
            graces.fetch_add(1, Ordering::Relaxed);
        };
        let mut fails = 0u32;
        for gen in 1..=ops {
            let i = rng.below(s.pool.len() as u64) as usize;
            let (vrf, p) = s.pool[i];
            if installed[i] && rng.below(3) == 0 {
                let d = t.delete(&mut w, vrf, &p, &mut grace).unwrap();
                assert_eq!(d.nh, i as u32 + 1);
                installed[i] = false;
                continue;
            }
            match t.add(&mut w, vrf, &p, data(i as u32 + 1, gen), &mut grace) {
                Ok(old) => {
                    assert_eq!(old.is_some(), installed[i]);
                    installed[i] = true;
                }
                Err(RouteError::NoRouteSpace | RouteError::NoNodeSpace) => {
                    fails += 1;
                    // Make room.
                    let j = (0..s.pool.len()).find(|j| installed[*j]).unwrap();
                    let (vrf, p) = s.pool[j];
                    t.delete(&mut w, vrf, &p, &mut grace).unwrap();
                    installed[j] = false;
                }
                Err(e) => panic!("{e:?}"),
            }
            if gen % 64 == 0 {
                thread::yield_now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let u = t.usage(&w);
        std::eprintln!(
            "writer: {ops} ops, {fails} adds refused for space, {} graces; routes v4 {} v6 {}, buckets {}",
            graces.load(Ordering::Relaxed),
            u.routes_v4,
            u.routes_v6,
            u.buckets_used
        );
        if use_lock {
            assert!(
                graces.load(Ordering::Relaxed) > 10,
                "storage was not reused"
            );
        } else {
            assert_eq!(
                graces.load(Ordering::Relaxed),
                0,
                "storage too small for a no-reuse run"
            );
        }
    });
    let n = lookups.load(Ordering::Relaxed);
    std::eprintln!("readers: {n} lookups checked");
    assert!(n > 1000);
    // Final state agrees with what the writer believes.
    for (i, (vrf, p)) in s.pool.iter().enumerate() {
        assert_eq!(t.get(&w, *vrf, p).is_some(), installed[i]);
    }
    let live = installed.iter().filter(|x| **x).count() + s.perm.len();
    let u = t.usage(&w);
    assert_eq!((u.routes_v4 + u.routes_v6) as usize, live);
}

#[test]
fn readers_during_writes_with_grace() {
    // Enough for the permanent routes and a good part of the pool, not for all of it.
    run(100, 260, 20_000, true);
}

#[test]
fn readers_during_writes_lock_free() {
    run(8_000, 40_000, 4_000, false);
}
