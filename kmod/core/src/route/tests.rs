// SPDX-License-Identifier: GPL-2.0
//! Unit and property tests of the route tables, white-box: they also check the trie's
//! invariants and that retired storage stays intact until `grace` runs.

use super::trie::{Target, BUCKET};
use super::*;

use proptest::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::string::ToString;
use std::vec;
use std::vec::Vec;

type Table = RouteTable<Vec<AtomicU32>, Vec<RouteSlot>>;

fn words(n: usize) -> Vec<AtomicU32> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}

fn table(vrfs: usize, buckets: usize, routes: usize, hash: usize) -> (Table, Writer) {
    RouteTable::new(
        words(vrfs * 2),
        words(nodes_len(buckets)),
        (0..routes).map(|_| RouteSlot::new()).collect(),
        words(hash),
    )
    .unwrap()
}

fn a4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

fn a6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

fn v4(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix::new(Family::Inet, &a4(a), l.parse().unwrap()).unwrap()
}

fn v6(s: &str) -> Prefix {
    let (a, l) = s.split_once('/').unwrap();
    Prefix::new(Family::Inet6, &a6(a), l.parse().unwrap()).unwrap()
}

fn d(nh: u32) -> RouteData {
    RouteData {
        nh,
        label: nh.wrapping_mul(7),
        flags: nh ^ 0x55,
        mac: [nh as u8, 1, 2, 3, 4, (nh >> 8) as u8],
    }
}

fn nog() -> impl FnMut() {
    || {}
}

fn nh_of(t: &Table, vrf: u32, family: Family, addr: &[u8]) -> Option<u32> {
    t.lookup(vrf, family, addr).map(|m| m.data.nh)
}

// ------------------------------------------------------------------ white-box views

/// Everything a reader could reach: buckets (contents) and route entries (the fields
/// readers look at), from the roots and from the hash heads.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Snap {
    buckets: BTreeMap<u32, Vec<u32>>,
    routes: BTreeMap<u32, [u32; 12]>,
}

fn route_fields(e: &RouteSlot) -> [u32; 12] {
    [
        e.meta.load(Relaxed),
        e.vrf.load(Relaxed),
        e.addr[0].load(Relaxed),
        e.addr[1].load(Relaxed),
        e.addr[2].load(Relaxed),
        e.addr[3].load(Relaxed),
        e.nh.load(Relaxed),
        e.label.load(Relaxed),
        e.flags.load(Relaxed),
        e.mac_hi.load(Relaxed),
        e.mac_lo.load(Relaxed),
        e.next.load(Relaxed),
    ]
}

fn bucket_words(t: &Table, b: u32) -> Vec<u32> {
    t.bucket(b)
        .unwrap()
        .iter()
        .map(|s| s.load(Relaxed))
        .collect()
}

fn snapshot(t: &Table) -> Snap {
    let mut s = Snap::default();
    let mut todo: Vec<u32> = t
        .roots
        .iter()
        .filter_map(|r| r.load(Relaxed).checked_sub(1))
        .collect();
    while let Some(b) = todo.pop() {
        let ws = bucket_words(t, b);
        for v in &ws {
            if v & BUCKET != 0 {
                todo.push(v & !BUCKET);
            } else if *v != 0 {
                s.routes
                    .insert(v - 1, route_fields(&t.routes[(v - 1) as usize]));
            }
        }
        assert!(
            s.buckets.insert(b, ws).is_none(),
            "bucket {b} reachable twice"
        );
    }
    for h in t.hash.iter() {
        let mut v = h.load(Relaxed);
        while v != 0 {
            let e = &t.routes[(v - 1) as usize];
            s.routes.insert(v - 1, route_fields(e));
            v = e.next.load(Relaxed);
        }
    }
    s
}

/// Whether everything in `s` still holds what it held.
fn intact(t: &Table, s: &Snap) -> bool {
    s.buckets.iter().all(|(b, ws)| bucket_words(t, *b) == *ws)
        && s.routes
            .iter()
            .all(|(i, f)| route_fields(&t.routes[*i as usize]) == *f)
}

/// The whole reader-visible state, to compare before and after a failed operation.
fn state(t: &Table) -> (Vec<u32>, Vec<u32>, Snap) {
    (
        t.roots.iter().map(|r| r.load(Relaxed)).collect(),
        t.hash.iter().map(|r| r.load(Relaxed)).collect(),
        snapshot(t),
    )
}

// ------------------------------------------------------------------ model

fn width(f: Family) -> u32 {
    u32::from(f.max_len())
}

fn wmask(f: Family) -> u128 {
    if width(f) == 128 {
        u128::MAX
    } else {
        (1u128 << width(f)) - 1
    }
}

fn netmask(f: Family, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        (u128::MAX << (width(f) - u32::from(len))) & wmask(f)
    }
}

fn bytes_of(f: Family, x: u128) -> Vec<u8> {
    match f {
        Family::Inet => (x as u32).to_be_bytes().to_vec(),
        Family::Inet6 => x.to_be_bytes().to_vec(),
    }
}

fn value_of(p: &Prefix) -> u128 {
    p.addr_bytes()
        .iter()
        .fold(0u128, |a, b| (a << 8) | u128::from(*b))
}

fn prefix_of(f: Family, x: u128, len: u8) -> Prefix {
    Prefix::new_masked(f, &bytes_of(f, x & wmask(f)), len).unwrap()
}

#[derive(Default, Debug)]
struct Model {
    routes: BTreeMap<(u32, Prefix), RouteData>,
}

impl Model {
    fn lpm(&self, vrf: u32, f: Family, addr: &[u8]) -> Option<Match> {
        self.routes
            .iter()
            .filter(|((v, p), _)| *v == vrf && p.family == f && p.contains(addr))
            .max_by_key(|((_, p), _)| p.len)
            .map(|((_, p), d)| Match {
                prefix: *p,
                data: *d,
            })
    }

    fn lpm_prefix(&self, vrf: u32, q: &Prefix) -> Option<Match> {
        self.routes
            .iter()
            .filter(|((v, p), _)| *v == vrf && p.covers(q))
            .max_by_key(|((_, p), _)| p.len)
            .map(|((_, p), d)| Match {
                prefix: *p,
                data: *d,
            })
    }

    fn parent_len(&self, vrf: u32, q: &Prefix) -> Option<u8> {
        self.routes
            .keys()
            .filter(|(v, p)| *v == vrf && p.covers(q) && p.len < q.len)
            .map(|(_, p)| p.len)
            .max()
    }

    fn count(&self, f: Family) -> u32 {
        self.routes.keys().filter(|(_, p)| p.family == f).count() as u32
    }

    /// Addresses worth looking up: the edges of every route, just outside them, and
    /// one inside picked by `salt`.
    fn probes(&self, salt: u128) -> Vec<(u32, Family, Vec<u8>)> {
        let mut out = Vec::new();
        for (vrf, p) in self.routes.keys() {
            let f = p.family;
            let lo = value_of(p);
            let hi = lo | (!netmask(f, p.len) & wmask(f));
            let inside = lo | (salt & !netmask(f, p.len) & wmask(f));
            for x in [lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1), inside] {
                out.push((*vrf, f, bytes_of(f, x & wmask(f))));
            }
        }
        out
    }
}

/// The leaf-pushed invariants, checked against the model slot by slot:
/// - every slot holds the best route of length <= the slot's length covering the slot;
/// - no non-root bucket is uniform (collapsed on delete), no empty root;
/// - the counters agree with what is reachable.
fn check_full(t: &Table, w: &Writer, m: &Model) {
    let mut reachable = 0u32;
    for vrf in 0..t.vrfs() {
        for f in [Family::Inet, Family::Inet6] {
            let r = t.roots[vrf as usize * 2 + f.index()].load(Relaxed);
            let mut todo = Vec::new();
            if r != 0 {
                todo.push((r - 1, 0usize, [0u8; 16]));
            }
            while let Some((b, level, path)) = todo.pop() {
                reachable += 1;
                let ws = bucket_words(t, b);
                if level > 0 {
                    assert!(
                        ws.iter().any(|v| *v != ws[0]) || ws[0] & BUCKET != 0,
                        "uniform bucket {b} at level {level}"
                    );
                } else {
                    assert!(ws.iter().any(|v| *v != 0), "empty root bucket");
                }
                for (i, v) in ws.iter().enumerate() {
                    let mut p = path;
                    p[level] = i as u8;
                    if v & BUCKET != 0 {
                        assert!(level + 1 < f.addr_len(), "bucket below the last level");
                        todo.push((v & !BUCKET, level + 1, p));
                        continue;
                    }
                    let slot_len = (8 * (level + 1)) as u8;
                    let slot = Prefix::new_masked(f, &p[..f.addr_len()], slot_len).unwrap();
                    let best = m
                        .routes
                        .iter()
                        .filter(|((rv, rp), _)| {
                            *rv == vrf && rp.len <= slot_len && rp.covers(&slot)
                        })
                        .max_by_key(|((_, rp), _)| rp.len);
                    match best {
                        None => assert_eq!(*v, 0, "slot {slot} should be empty"),
                        Some(((_, rp), rd)) => {
                            assert_ne!(*v, 0, "slot {slot} should hold {rp}");
                            let got = t.read_match(*v, f).unwrap();
                            assert_eq!(got.prefix, *rp, "slot {slot}");
                            assert_eq!(got.data, *rd, "slot {slot}");
                            let e = &t.routes[(*v - 1) as usize];
                            assert_eq!(e.state.load(Relaxed), LIVE);
                            assert_eq!(e.vrf.load(Relaxed), vrf);
                        }
                    }
                }
            }
        }
    }
    let u = t.usage(w);
    assert_eq!(u.buckets_used, reachable);
    assert_eq!(u.routes_v4, m.count(Family::Inet));
    assert_eq!(u.routes_v6, m.count(Family::Inet6));
    assert_eq!(
        w.routes.used,
        u.routes_v4 + u.routes_v6,
        "route entries in use vs routes"
    );
    // The exact-match store holds exactly the model.
    for ((vrf, p), rd) in &m.routes {
        assert_eq!(t.get(w, *vrf, p), Some(*rd), "get {vrf} {p}");
    }
    let live = (0..w.routes.fresh)
        .filter(|i| t.routes[*i as usize].state.load(Relaxed) == LIVE)
        .count();
    assert_eq!(live, m.routes.len());
}

/// Compares every reader API with the model.
fn check_lookups(t: &Table, w: &Writer, m: &Model, extra: &[(u32, Family, Vec<u8>)], salt: u128) {
    let mut probes = m.probes(salt);
    probes.extend_from_slice(extra);
    for (vrf, f, a) in &probes {
        assert_eq!(
            t.lookup(*vrf, *f, a),
            m.lpm(*vrf, *f, a),
            "lookup {vrf} {a:?}"
        );
        let q = Prefix::new_masked(*f, a, (salt % (u128::from(f.max_len()) + 1)) as u8).unwrap();
        assert_eq!(
            t.lookup_prefix(*vrf, &q),
            m.lpm_prefix(*vrf, &q),
            "lookup_prefix {vrf} {q}"
        );
        assert_eq!(
            t.parent_len(w, *vrf, &q),
            m.parent_len(*vrf, &q),
            "parent_len {vrf} {q}"
        );
    }
    for (vrf, p) in m.routes.keys() {
        assert_eq!(t.lookup_prefix(*vrf, p), m.lpm_prefix(*vrf, p));
        assert_eq!(
            t.parent_len(w, *vrf, p),
            m.parent_len(*vrf, p),
            "parent_len {vrf} {p}"
        );
    }
}

fn check_dump(t: &Table, w: &Writer, m: &Model) {
    for vrf in 0..t.vrfs() {
        for f in [Family::Inet, Family::Inet6] {
            let mut got = Vec::new();
            let mut c = 0;
            while let Some((next, mt)) = t.next_route(w, vrf, f, c) {
                assert!(next > c);
                c = next;
                got.push((mt.prefix, mt.data));
            }
            let mut want: Vec<_> = m
                .routes
                .iter()
                .filter(|((v, p), _)| *v == vrf && p.family == f)
                .map(|((_, p), d)| (*p, *d))
                .collect();
            got.sort_by_key(|x| x.0);
            want.sort_by_key(|x| x.0);
            assert_eq!(got, want, "dump of vrf {vrf} {f:?}");
        }
    }
}

// ------------------------------------------------------------------ unit tests

#[test]
fn storage_validation() {
    let r = |n| (0..n).map(|_| RouteSlot::new()).collect::<Vec<_>>();
    assert_eq!(core::mem::size_of::<RouteSlot>(), 64);
    assert_eq!(core::mem::align_of::<RouteSlot>(), 64);
    let bad = [
        RouteTable::new(words(0), words(nodes_len(4)), r(4), words(4)),
        RouteTable::new(words(3), words(nodes_len(4)), r(4), words(4)),
        RouteTable::new(words(2), words(nodes_len(4) + 1), r(4), words(4)),
        RouteTable::new(words(2), words(256), r(4), words(4)),
        RouteTable::new(words(2), words(nodes_len(4)), r(0), words(4)),
        RouteTable::new(words(2), words(nodes_len(4)), r(4), words(3)),
        RouteTable::new(words(2), words(nodes_len(4)), r(4), words(0)),
    ];
    for b in bad {
        assert_eq!(b.err(), Some(RouteError::BadStorage));
    }
    for n in [
        1usize, 2, 255, 256, 257, 511, 512, 513, 65535, 65536, 100_000,
    ] {
        let (t, w) = table(1, n, 1, 1);
        assert_eq!(t.usage(&w).buckets_max as usize, n, "nodes_len({n})");
        // And nothing smaller gives as many.
        let total = nodes_len(n) / SLOTS;
        let fewer = total - 1 - (total - 1).div_ceil(SLOTS + 1);
        assert!(fewer < n);
    }
    let (t, w) = table(5, 3, 7, 8);
    assert_eq!(t.vrfs(), 5);
    let u = t.usage(&w);
    assert_eq!(
        (u.routes_max, u.buckets_max, u.routes_v4, u.buckets_used),
        (7, 3, 0, 0)
    );
}

#[test]
fn family_helpers() {
    assert_eq!(Family::from_af(2), Some(Family::Inet));
    assert_eq!(Family::from_af(10), Some(Family::Inet6));
    assert_eq!(Family::from_af(7), None);
    assert_eq!((Family::Inet.af(), Family::Inet6.af()), (2, 10));
    assert_eq!((Family::Inet.addr_len(), Family::Inet6.addr_len()), (4, 16));
    assert_eq!((Family::Inet.max_len(), Family::Inet6.max_len()), (32, 128));
}

#[test]
fn prefix_checks() {
    assert_eq!(
        Prefix::new(Family::Inet, &[10, 0, 0, 0], 33),
        Err(RouteError::BadLength)
    );
    assert_eq!(
        Prefix::new(Family::Inet6, &[0; 16], 129),
        Err(RouteError::BadLength)
    );
    assert_eq!(
        Prefix::new(Family::Inet, &[10, 0, 0], 8),
        Err(RouteError::BadLength)
    );
    assert_eq!(
        Prefix::new(Family::Inet6, &[0; 4], 8),
        Err(RouteError::BadLength)
    );
    assert_eq!(
        Prefix::new(Family::Inet, &[10, 1, 0, 0], 8),
        Err(RouteError::HostBitsSet)
    );
    assert_eq!(
        Prefix::new(Family::Inet, &[10, 128, 0, 0], 8),
        Err(RouteError::HostBitsSet)
    );
    assert_eq!(
        Prefix::new(Family::Inet, &[10, 128, 0, 0], 9).unwrap().len,
        9
    );
    assert_eq!(
        Prefix::new(Family::Inet, &[0, 0, 0, 1], 0),
        Err(RouteError::HostBitsSet)
    );
    let p = Prefix::new_masked(Family::Inet, &[10, 1, 2, 3], 12).unwrap();
    assert_eq!(p, v4("10.0.0.0/12"));
    assert_eq!(
        Prefix::host(Family::Inet, &[1, 2, 3, 4]).unwrap(),
        v4("1.2.3.4/32")
    );
    assert!(p.contains(&[10, 15, 255, 255]));
    assert!(!p.contains(&[10, 16, 0, 0]));
    assert!(!p.contains(&[10, 1, 0]));
    assert!(v4("10.0.0.0/8").covers(&p));
    assert!(!p.covers(&v4("10.0.0.0/8")));
    assert!(!v6("::/0").covers(&p));
    // Field-built prefixes are validated by the table.
    let mut bad = v4("10.0.0.0/8");
    bad.addr[5] = 1;
    assert_eq!(bad.validate(), Err(RouteError::BadLength));
    bad = v4("10.0.0.0/8");
    bad.addr[2] = 1;
    assert_eq!(bad.validate(), Err(RouteError::HostBitsSet));
    bad = v4("10.0.0.0/8");
    bad.len = 40;
    assert_eq!(bad.validate(), Err(RouteError::BadLength));
    let (t, mut w) = table(1, 8, 8, 8);
    assert_eq!(
        t.add(&mut w, 0, &bad, d(1), &mut nog()),
        Err(RouteError::BadLength)
    );
    bad.len = 8;
    bad.addr[3] = 1;
    assert_eq!(
        t.add(&mut w, 0, &bad, d(1), &mut nog()),
        Err(RouteError::HostBitsSet)
    );
    assert_eq!(
        t.delete(&mut w, 0, &bad, &mut nog()),
        Err(RouteError::HostBitsSet)
    );
}

#[test]
fn display() {
    let cases = [
        (v4("10.1.0.0/16"), "10.1.0.0/16"),
        (v4("0.0.0.0/0"), "0.0.0.0/0"),
        (v4("255.255.255.255/32"), "255.255.255.255/32"),
        (v6("::/0"), "::/0"),
        (v6("::1/128"), "::1/128"),
        (v6("2001:db8::/32"), "2001:db8::/32"),
        (v6("2001:db8:0:0:1:0:0:1/128"), "2001:db8::1:0:0:1/128"),
        (v6("2001:db8:0:1:1:1:1:1/128"), "2001:db8:0:1:1:1:1:1/128"),
        (v6("2001:0:0:1::/64"), "2001:0:0:1::/64"),
        (v6("fe80::/10"), "fe80::/10"),
        (v6("1::/16"), "1::/16"),
        (v6("::ffff:10.1.2.3/128"), "::ffff:10.1.2.3/128"),
        (v6("1:2:3:4:5:6:7:8/128"), "1:2:3:4:5:6:7:8/128"),
        (v6("0:0:1::1/128"), "0:0:1::1/128"),
    ];
    for (p, s) in cases {
        assert_eq!(p.to_string(), s);
    }
    assert_eq!(RouteError::NotFound.to_string(), "no such route");
}

proptest! {
    /// RFC 5952 text agrees with std's (which follows RFC 5952 too).
    #[test]
    fn display_v6_like_std(groups in prop::array::uniform8(prop_oneof![Just(0u16), Just(1u16), any::<u16>()])) {
        let mut a = [0u8; 16];
        for (i, g) in groups.iter().enumerate() {
            a[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        let p = Prefix::new(Family::Inet6, &a, 128).unwrap();
        let want = std::format!("{}/128", std::net::Ipv6Addr::from(a));
        prop_assert_eq!(p.to_string(), want);
    }
}

#[test]
fn vrf_out_of_range() {
    let (t, mut w) = table(2, 8, 8, 8);
    let p = v4("10.0.0.0/8");
    assert_eq!(
        t.add(&mut w, 2, &p, d(1), &mut nog()),
        Err(RouteError::VrfOutOfRange)
    );
    assert_eq!(
        t.delete(&mut w, 2, &p, &mut nog()),
        Err(RouteError::VrfOutOfRange)
    );
    assert_eq!(
        t.add(&mut w, u32::MAX, &p, d(1), &mut nog()),
        Err(RouteError::VrfOutOfRange)
    );
    assert_eq!(t.add(&mut w, 1, &p, d(1), &mut nog()), Ok(None));
    assert_eq!(t.lookup(2, Family::Inet, &[10, 0, 0, 1]), None);
    assert_eq!(t.lookup(u32::MAX, Family::Inet, &[10, 0, 0, 1]), None);
    assert_eq!(t.lookup_prefix(2, &p), None);
    assert_eq!(t.get(&w, 2, &p), None);
    assert_eq!(t.parent_len(&w, 2, &p), None);
    assert_eq!(t.next_route(&w, 2, Family::Inet, 0), None);
    // The route is only in VRF 1.
    assert_eq!(nh_of(&t, 1, Family::Inet, &[10, 0, 0, 1]), Some(1));
    assert_eq!(nh_of(&t, 0, Family::Inet, &[10, 0, 0, 1]), None);
}

#[test]
fn longest_match_v4() {
    let (t, mut w) = table(1, 64, 64, 16);
    let g = &mut nog();
    assert_eq!(t.lookup(0, Family::Inet, &[1, 2, 3, 4]), None);
    for (p, nh) in [
        ("0.0.0.0/0", 1),
        ("10.0.0.0/8", 2),
        ("10.1.0.0/16", 3),
        ("10.1.2.0/24", 4),
        ("10.1.2.128/25", 5),
        ("10.1.2.3/32", 6),
        ("10.1.2.0/23", 7),
        ("10.128.0.0/9", 8),
    ] {
        assert_eq!(t.add(&mut w, 0, &v4(p), d(nh), g), Ok(None), "{p}");
    }
    let l = |a: &str| nh_of(&t, 0, Family::Inet, &a4(a));
    assert_eq!(l("1.2.3.4"), Some(1));
    assert_eq!(l("10.0.0.1"), Some(2));
    assert_eq!(l("10.127.255.255"), Some(2));
    assert_eq!(l("10.128.0.0"), Some(8));
    assert_eq!(l("10.1.0.0"), Some(3));
    assert_eq!(l("10.1.3.0"), Some(7));
    assert_eq!(l("10.1.3.255"), Some(7));
    assert_eq!(l("10.1.4.0"), Some(3));
    assert_eq!(l("10.1.2.1"), Some(4));
    assert_eq!(l("10.1.2.3"), Some(6));
    assert_eq!(l("10.1.2.200"), Some(5));
    let m = t.lookup(0, Family::Inet, &a4("10.1.2.200")).unwrap();
    assert_eq!(m.prefix, v4("10.1.2.128/25"));
    assert_eq!(m.data, d(5));
    assert_eq!(
        t.lookup_v4(0, a4("10.1.2.3")).unwrap().prefix,
        v4("10.1.2.3/32")
    );
    // Wrong address length.
    assert_eq!(t.lookup(0, Family::Inet, &[10, 1, 2]), None);
    assert_eq!(t.lookup(0, Family::Inet6, &[10, 1, 2, 3]), None);
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.routes_v6), (8, 0));
}

#[test]
fn longest_match_v6() {
    let (t, mut w) = table(1, 128, 64, 16);
    let g = &mut nog();
    for (p, nh) in [
        ("::/0", 1),
        ("2001:db8::/32", 2),
        ("2001:db8:1::/48", 3),
        ("2001:db8:1:2::/64", 4),
        ("2001:db8:1:2::1/128", 5),
        ("2001:db8:1:2::/127", 6),
        ("2001:db8:8000::/33", 7),
    ] {
        assert_eq!(t.add(&mut w, 0, &v6(p), d(nh), g), Ok(None), "{p}");
    }
    let l = |a: &str| nh_of(&t, 0, Family::Inet6, &a6(a));
    assert_eq!(l("fe80::1"), Some(1));
    assert_eq!(l("2001:db8::5"), Some(2));
    assert_eq!(l("2001:db8:8000::5"), Some(7));
    assert_eq!(l("2001:db8:1::5"), Some(3));
    assert_eq!(l("2001:db8:1:2:ffff::"), Some(4));
    assert_eq!(l("2001:db8:1:2::"), Some(6));
    assert_eq!(l("2001:db8:1:2::1"), Some(5));
    assert_eq!(l("2001:db8:1:2::2"), Some(4));
    assert_eq!(
        t.lookup_v6(0, &a6("2001:db8:1:2::1")).unwrap().prefix,
        v6("2001:db8:1:2::1/128")
    );
    assert_eq!(t.lookup(0, Family::Inet, &[32, 1, 13, 184]), None);
    assert_eq!(t.usage(&w).routes_v6, 7);
}

#[test]
fn replace_returns_old_data() {
    let (t, mut w) = table(1, 16, 8, 8);
    let g = &mut nog();
    let p = v4("192.168.0.0/16");
    assert_eq!(t.add(&mut w, 0, &p, d(1), g), Ok(None));
    assert_eq!(t.add(&mut w, 0, &p, d(2), g), Ok(Some(d(1))));
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("192.168.3.4")), Some(2));
    assert_eq!(t.get(&w, 0, &p), Some(d(2)));
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.routes_pending), (1, 1), "old entry retired");
    // Same data again: nothing to do.
    assert_eq!(t.add(&mut w, 0, &p, d(2), g), Ok(Some(d(2))));
    assert_eq!(t.usage(&w).routes_pending, 1);
    // The replacement is seen below longer routes too.
    assert_eq!(t.add(&mut w, 0, &v4("192.168.1.0/24"), d(9), g), Ok(None));
    assert_eq!(t.add(&mut w, 0, &p, d(3), g), Ok(Some(d(2))));
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("192.168.2.1")), Some(3));
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("192.168.1.1")), Some(9));
    assert_eq!(t.delete(&mut w, 0, &v4("192.168.1.0/24"), g), Ok(d(9)));
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("192.168.1.1")), Some(3));
}

#[test]
fn delete_falls_back_to_parent() {
    let (t, mut w) = table(1, 64, 16, 8);
    let g = &mut nog();
    assert_eq!(
        t.delete(&mut w, 0, &v4("10.0.0.0/8"), g),
        Err(RouteError::NotFound)
    );
    for (p, nh) in [
        ("10.0.0.0/8", 1),
        ("10.1.0.0/16", 2),
        ("10.1.1.0/24", 3),
        ("10.1.1.1/32", 4),
    ] {
        t.add(&mut w, 0, &v4(p), d(nh), g).unwrap();
    }
    assert_eq!(
        t.delete(&mut w, 0, &v4("10.1.0.0/24"), g),
        Err(RouteError::NotFound)
    );
    assert_eq!(t.delete(&mut w, 0, &v4("10.1.0.0/16"), g), Ok(d(2)));
    assert_eq!(
        t.delete(&mut w, 0, &v4("10.1.0.0/16"), g),
        Err(RouteError::NotFound)
    );
    let l = |a: &str| nh_of(&t, 0, Family::Inet, &a4(a));
    assert_eq!(l("10.1.2.3"), Some(1));
    assert_eq!(l("10.1.1.3"), Some(3));
    assert_eq!(l("10.1.1.1"), Some(4));
    assert_eq!(t.delete(&mut w, 0, &v4("10.1.1.0/24"), g), Ok(d(3)));
    assert_eq!(l("10.1.1.3"), Some(1));
    assert_eq!(l("10.1.1.1"), Some(4));
    assert_eq!(t.delete(&mut w, 0, &v4("10.0.0.0/8"), g), Ok(d(1)));
    assert_eq!(l("10.1.1.3"), None);
    assert_eq!(l("10.1.1.1"), Some(4));
    // Buckets: root, 10/8 level 1, 10.1/16 level 2, 10.1.1/24 level 3.
    assert_eq!(t.usage(&w).buckets_used, 4);
    assert_eq!(t.delete(&mut w, 0, &v4("10.1.1.1/32"), g), Ok(d(4)));
    assert_eq!(l("10.1.1.1"), None);
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.buckets_used, u.buckets_pending), (0, 0, 4));
    assert_eq!(t.roots[0].load(Relaxed), 0, "empty root retired");
}

/// Every word of the buckets (with the pool links) and of the hash heads.
fn raw_words(t: &Table) -> Vec<u32> {
    t.nodes
        .iter()
        .chain(t.hash.iter())
        .map(|a| a.load(Relaxed))
        .collect()
}

#[test]
fn impossible_states_are_counted_errors() {
    let (t, mut w) = table(1, 8, 8, 8);
    let g = &mut nog();
    assert_eq!(t.add(&mut w, 0, &v4("10.0.0.0/8"), d(1), g), Ok(None));
    assert_eq!(t.usage(&w).corrupt, 0);

    // A reservation that does not fit its target is refused before anything changes.
    let k = t.key(0, &v4("10.1.0.0/16")).unwrap();
    let before = (raw_words(&t), t.usage(&w));
    let new = t.reserve(&mut w, 1, g).unwrap();
    let target = Target::Chain {
        attach: &t.roots[0],
        at_root: true,
        fill: 0,
        level: 0,
        need: 2,
    };
    assert_eq!(t.insert_leaf(&k, &target, &new), None);
    t.release(&mut w, &new);
    assert_eq!((raw_words(&t), t.usage(&w)), before);

    // The slot of 10/8 in the root links to a bucket beyond the storage: `add` below it
    // fails, counted, and changes nothing.
    let root = t.roots[0].load(Relaxed) - 1;
    t.nodes[root as usize * SLOTS + 10].store(BUCKET | 1000, Relaxed);
    let before = (raw_words(&t), t.usage(&w));
    assert_eq!(
        t.add(&mut w, 0, &v4("10.1.0.0/16"), d(2), g),
        Err(RouteError::BadStorage)
    );
    let u = t.usage(&w);
    assert_eq!(u.corrupt, 1);
    assert_eq!((raw_words(&t), Usage { corrupt: 0, ..u }), before);
    assert_eq!(t.get(&w, 0, &v4("10.1.0.0/16")), None);
    assert_eq!(t.lookup_v4(0, a4("10.1.0.1")), None);
}

#[test]
fn parent_len_and_lookup_prefix() {
    let (t, mut w) = table(2, 64, 16, 8);
    let g = &mut nog();
    for (p, nh) in [
        ("0.0.0.0/0", 1),
        ("10.0.0.0/8", 2),
        ("10.1.0.0/16", 3),
        ("10.1.1.0/24", 4),
    ] {
        t.add(&mut w, 0, &v4(p), d(nh), g).unwrap();
    }
    t.add(&mut w, 1, &v4("10.1.0.0/20"), d(9), g).unwrap();
    assert_eq!(t.parent_len(&w, 0, &v4("10.1.1.0/24")), Some(16));
    assert_eq!(t.parent_len(&w, 0, &v4("10.1.0.0/16")), Some(8));
    assert_eq!(t.parent_len(&w, 0, &v4("10.1.1.128/25")), Some(24));
    assert_eq!(t.parent_len(&w, 0, &v4("11.0.0.0/8")), Some(0));
    assert_eq!(t.parent_len(&w, 0, &v4("0.0.0.0/0")), None);
    assert_eq!(t.parent_len(&w, 1, &v4("10.1.1.0/24")), Some(20));
    assert_eq!(t.parent_len(&w, 1, &v4("10.1.0.0/20")), None);
    let lp = |vrf, p: &str| t.lookup_prefix(vrf, &v4(p)).map(|m| m.prefix);
    assert_eq!(lp(0, "10.1.1.0/24"), Some(v4("10.1.1.0/24")));
    assert_eq!(lp(0, "10.1.1.7/32"), Some(v4("10.1.1.0/24")));
    // Shorter than a route that exists below it: the covering one.
    assert_eq!(lp(0, "10.1.0.0/23"), Some(v4("10.1.0.0/16")));
    assert_eq!(lp(0, "10.0.0.0/15"), Some(v4("10.0.0.0/8")));
    assert_eq!(lp(0, "10.0.0.0/7"), Some(v4("0.0.0.0/0")));
    assert_eq!(lp(1, "10.1.0.0/16"), None);
    assert_eq!(lp(1, "10.1.0.0/21"), Some(v4("10.1.0.0/20")));
    assert_eq!(t.lookup_prefix(0, &v6("::/0")), None);
    assert_eq!(t.lookup_prefix(0, &v4("10.1.1.0/24")).unwrap().data, d(4));
}

#[test]
fn next_route_covers_vrf_and_family() {
    let (t, mut w) = table(3, 256, 64, 16);
    let g = &mut nog();
    let mut m = Model::default();
    for i in 0..30u32 {
        let vrf = i % 3;
        let p = if i % 2 == 0 {
            prefix_of(Family::Inet, u128::from(i) << 20, 12 + (i % 12) as u8)
        } else {
            prefix_of(Family::Inet6, u128::from(i) << 100, 20 + i as u8)
        };
        t.add(&mut w, vrf, &p, d(i), g).unwrap();
        m.routes.insert((vrf, p), d(i));
    }
    // Deleting makes holes in storage order.
    let victims: Vec<_> = m.routes.keys().copied().step_by(4).collect();
    for (vrf, p) in victims {
        t.delete(&mut w, vrf, &p, g).unwrap();
        m.routes.remove(&(vrf, p));
    }
    check_dump(&t, &w, &m);
    assert_eq!(t.next_route(&w, 0, Family::Inet, u32::MAX), None);
}

/// Fills the table until it is full; a failed add changes nothing.
#[test]
fn full_table_is_unchanged_by_failed_add() {
    // Route space.
    let (t, mut w) = table(1, 64, 3, 8);
    let g = &mut nog();
    for (p, nh) in [("10.0.0.0/8", 1), ("10.1.0.0/16", 2), ("10.1.1.0/24", 3)] {
        t.add(&mut w, 0, &v4(p), d(nh), g).unwrap();
    }
    let before = state(&t);
    assert_eq!(
        t.add(&mut w, 0, &v4("10.1.1.1/32"), d(4), g),
        Err(RouteError::NoRouteSpace)
    );
    assert_eq!(state(&t), before);
    // A replace needs a new entry too (the old one is only reusable after a grace period).
    assert_eq!(
        t.add(&mut w, 0, &v4("10.1.0.0/16"), d(5), g),
        Err(RouteError::NoRouteSpace)
    );
    assert_eq!(state(&t), before);
    assert_eq!(t.get(&w, 0, &v4("10.1.0.0/16")), Some(d(2)));

    // Bucket space: 3 buckets = root + level 1 + level 2; a /32 in a new /24 needs one more.
    let (t, mut w) = table(1, 3, 16, 8);
    t.add(&mut w, 0, &v4("10.1.0.0/24"), d(1), g).unwrap();
    assert_eq!(t.usage(&w).buckets_used, 3);
    let before = state(&t);
    assert_eq!(
        t.add(&mut w, 0, &v4("10.1.0.1/32"), d(2), g),
        Err(RouteError::NoNodeSpace)
    );
    assert_eq!(
        t.add(&mut w, 0, &v4("10.2.0.0/24"), d(2), g),
        Err(RouteError::NoNodeSpace)
    );
    assert_eq!(
        t.add(&mut w, 0, &v4("11.0.0.0/16"), d(2), g),
        Err(RouteError::NoNodeSpace)
    );
    assert_eq!(state(&t), before);
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.buckets_used, u.routes_pending), (1, 3, 0));
    // Routes that fit in existing buckets still go in.
    t.add(&mut w, 0, &v4("10.1.1.0/24"), d(3), g).unwrap();
    t.add(&mut w, 0, &v4("10.0.0.0/8"), d(4), g).unwrap();
    t.add(&mut w, 0, &v4("12.0.0.0/8"), d(5), g).unwrap();
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("10.1.1.200")), Some(3));
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("10.1.2.200")), Some(4));
}

/// Pending storage is reused only after `grace`, and `reclaim` frees it on demand.
#[test]
fn grace_before_reuse() {
    let (t, mut w) = table(1, 3, 2, 8);
    let calls = Cell::new(0u32);
    let mut g = || calls.set(calls.get() + 1);
    t.add(&mut w, 0, &v4("10.1.1.0/24"), d(1), &mut g).unwrap();
    t.add(&mut w, 0, &v4("10.1.1.0/24"), d(2), &mut g).unwrap();
    assert_eq!(calls.get(), 0);
    // Both entries used (one live, one pending): the next add must wait for readers.
    t.add(&mut w, 0, &v4("10.1.1.0/24"), d(3), &mut g).unwrap();
    assert_eq!(calls.get(), 1);
    assert_eq!(t.usage(&w).graces, 1);
    t.delete(&mut w, 0, &v4("10.1.1.0/24"), &mut g).unwrap();
    let u = t.usage(&w);
    assert_eq!(
        (u.routes_pending, u.buckets_pending, u.buckets_used),
        (2, 3, 0)
    );
    t.reclaim(&mut w, &mut g);
    assert_eq!(calls.get(), 2);
    let u = t.usage(&w);
    assert_eq!((u.routes_pending, u.buckets_pending), (0, 0));
    t.reclaim(&mut w, &mut g);
    assert_eq!(calls.get(), 2, "nothing pending, no grace");
    // Everything is reusable.
    t.add(&mut w, 0, &v4("10.1.1.0/24"), d(4), &mut g).unwrap();
    t.add(&mut w, 0, &v4("10.1.2.0/24"), d(5), &mut g).unwrap();
    assert_eq!(calls.get(), 2);
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("10.1.2.130")), Some(5));
}

#[test]
fn clear_removes_everything() {
    let (t, mut w) = table(2, 256, 64, 16);
    let g = &mut nog();
    for i in 0..20u32 {
        t.add(
            &mut w,
            i % 2,
            &prefix_of(Family::Inet, u128::from(i) << 16, 24),
            d(i),
            g,
        )
        .unwrap();
        t.add(
            &mut w,
            i % 2,
            &prefix_of(Family::Inet6, u128::from(i) << 64, 64),
            d(i),
            g,
        )
        .unwrap();
    }
    let used = t.usage(&w).buckets_used;
    t.clear(&mut w);
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.routes_v6, u.buckets_used), (0, 0, 0));
    assert_eq!((u.routes_pending, u.buckets_pending), (40, used));
    check_full(&t, &w, &Model::default());
    assert_eq!(t.lookup(0, Family::Inet, &[0, 0, 0, 1]), None);
    t.reclaim(&mut w, g);
    t.add(&mut w, 0, &v4("10.0.0.0/8"), d(1), g).unwrap();
    assert_eq!(nh_of(&t, 0, Family::Inet, &a4("10.2.3.4")), Some(1));
}

// ------------------------------------------------------------------ properties

#[derive(Clone, Debug)]
enum Op {
    /// Add (vrf, base index, noise, shift, len, nh).
    Add(u32, usize, u128, u32, u8, u32),
    /// Delete the n-th installed route.
    DelNth(usize),
    /// Delete a (probably absent) prefix.
    Del(u32, usize, u128, u32, u8),
}

fn ops(max_len: u8, vrfs: u32, n: usize) -> impl Strategy<Value = Vec<Op>> {
    let bits = u32::from(max_len);
    let op = prop_oneof![
        5 => (0..vrfs, 0..4usize, any::<u128>(), 0..=bits, 0..=max_len, any::<u32>())
            .prop_map(|(v, b, n, s, l, nh)| Op::Add(v, b, n, s, l, nh)),
        3 => any::<usize>().prop_map(Op::DelNth),
        1 => (0..vrfs, 0..4usize, any::<u128>(), 0..=bits, 0..=max_len)
            .prop_map(|(v, b, n, s, l)| Op::Del(v, b, n, s, l)),
    ];
    prop::collection::vec(op, 1..n)
}

fn addr_from(f: Family, bases: &[u128; 4], b: usize, noise: u128, shift: u32) -> u128 {
    let noise = noise.checked_shr(shift + (128 - width(f))).unwrap_or(0);
    (bases[b] ^ noise) & wmask(f)
}

/// Applies one op to table and model; `Err` only for a space error (model untouched).
fn apply(
    t: &Table,
    w: &mut Writer,
    m: &mut Model,
    f: &dyn Fn(u32) -> Family,
    bases: &[u128; 4],
    op: &Op,
    grace: &mut dyn FnMut(),
) -> Result<(), RouteError> {
    match *op {
        Op::Add(vrf, b, noise, shift, len, nh) => {
            let fam = f(nh);
            let len = len.min(fam.max_len());
            let p = prefix_of(fam, addr_from(fam, bases, b, noise, shift), len);
            let data = d(nh);
            match t.add(w, vrf, &p, data, grace) {
                Ok(old) => {
                    assert_eq!(old, m.routes.insert((vrf, p), data), "add {p}");
                    Ok(())
                }
                Err(e @ (RouteError::NoRouteSpace | RouteError::NoNodeSpace)) => Err(e),
                Err(e) => panic!("add {p}: {e:?}"),
            }
        }
        Op::DelNth(i) => {
            if m.routes.is_empty() {
                return Ok(());
            }
            let (vrf, p) = *m.routes.keys().nth(i % m.routes.len()).unwrap();
            let want = m.routes.remove(&(vrf, p));
            assert_eq!(t.delete(w, vrf, &p, grace).ok(), want, "delete {p}");
            Ok(())
        }
        Op::Del(vrf, b, noise, shift, len) => {
            let fam = f(noise as u32);
            let len = len.min(fam.max_len());
            let p = prefix_of(fam, addr_from(fam, bases, b, noise, shift), len);
            let want = m.routes.remove(&(vrf, p)).ok_or(RouteError::NotFound);
            assert_eq!(t.delete(w, vrf, &p, grace), want, "delete {p}");
            Ok(())
        }
    }
}

fn random_probes(f: Family, vrfs: u32, seeds: &[u128]) -> Vec<(u32, Family, Vec<u8>)> {
    seeds
        .iter()
        .map(|s| ((*s as u32) % vrfs, f, bytes_of(f, *s & wmask(f))))
        .collect()
}

fn model_run(fam: Family, bases: [u128; 4], ops: Vec<Op>, seeds: Vec<u128>, salt: u128) {
    let vrfs = 3;
    let (t, mut w) = table(vrfs as usize, 4096, 512, 64);
    let mut m = Model::default();
    let g = &mut nog();
    let f = move |_| fam;
    for op in &ops {
        apply(&t, &mut w, &mut m, &f, &bases, op, g).unwrap();
    }
    let extra = random_probes(fam, vrfs, &seeds);
    check_lookups(&t, &w, &m, &extra, salt);
    check_full(&t, &w, &m);
    check_dump(&t, &w, &m);
    // Delete everything: back to empty, every bucket retired.
    let keys: Vec<_> = m.routes.keys().copied().collect();
    for (vrf, p) in keys {
        assert_eq!(
            t.delete(&mut w, vrf, &p, g).ok(),
            m.routes.remove(&(vrf, p))
        );
    }
    let u = t.usage(&w);
    assert_eq!((u.routes_v4, u.routes_v6, u.buckets_used), (0, 0, 0));
    assert!(t.roots.iter().all(|r| r.load(Relaxed) == 0));
    assert!(t.hash.iter().all(|r| r.load(Relaxed) == 0));
    t.reclaim(&mut w, g);
    let u = t.usage(&w);
    assert_eq!((u.routes_pending, u.buckets_pending), (0, 0));
    assert_eq!(
        w.buckets.free_n, w.buckets.fresh,
        "all buckets back on the free list"
    );
    assert_eq!(
        w.routes.free_n, w.routes.fresh,
        "all entries back on the free list"
    );
    for (vrf, f, a) in &extra {
        assert_eq!(t.lookup(*vrf, *f, a), None);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Random IPv4 tables in 3 VRFs agree with a naive longest match.
    #[test]
    fn v4_agrees_with_model(
        bases in prop::array::uniform4(any::<u128>()),
        ops in ops(32, 3, 120),
        seeds in prop::collection::vec(any::<u128>(), 32),
        salt in any::<u128>(),
    ) {
        model_run(Family::Inet, bases, ops, seeds, salt);
    }

    /// Random IPv6 tables in 3 VRFs agree with a naive longest match.
    #[test]
    fn v6_agrees_with_model(
        bases in prop::array::uniform4(any::<u128>()),
        ops in ops(128, 3, 80),
        seeds in prop::collection::vec(any::<u128>(), 32),
        salt in any::<u128>(),
    ) {
        model_run(Family::Inet6, bases, ops, seeds, salt);
    }

    /// Tiny storage: allocation runs dry and goes through `grace`. Every item a reader
    /// could have reached since the last `grace` stays intact until the next one, failed
    /// adds leave the table exactly as it was, and lookups agree with the model throughout.
    #[test]
    fn tiny_storage_grace(
        bases in prop::array::uniform4(any::<u128>()),
        ops in ops(128, 2, 150),
        nroutes in 2usize..10,
        nbuckets in 1usize..24,
        seeds in prop::collection::vec(any::<u128>(), 8),
        salt in any::<u128>(),
    ) {
        let (t, mut w) = table(2, nbuckets, nroutes, 4);
        let mut m = Model::default();
        // Items some reader may have reached since the last grace (readers start at any
        // op boundary, or right after a grace inside an op), and the contents of those of
        // them that have been unlinked since: those must not change until the next grace.
        let seen: RefCell<Snap> = RefCell::new(snapshot(&t));
        let retired: RefCell<Snap> = RefCell::new(Snap::default());
        let graces = Cell::new(0u32);
        let check_retired = || {
            assert!(intact(&t, &retired.borrow()), "retired storage reused before grace");
        };
        let mut grace = || {
            check_retired();
            retired.borrow_mut().buckets.clear();
            retired.borrow_mut().routes.clear();
            *seen.borrow_mut() = snapshot(&t);
            graces.set(graces.get() + 1);
        };
        let fam = |x: u32| if x & 1 == 0 { Family::Inet } else { Family::Inet6 };
        let mut failures = 0;
        for op in &ops {
            {
                let now = snapshot(&t);
                let mut s = seen.borrow_mut();
                s.buckets.extend(now.buckets);
                s.routes.extend(now.routes);
            }
            let before = state(&t);
            let u0 = t.usage(&w);
            let g0 = graces.get();
            match apply(&t, &mut w, &mut m, &fam, &bases, op, &mut grace) {
                Ok(()) => {}
                Err(_) => {
                    failures += 1;
                    assert_eq!(state(&t), before, "failed add changed the table");
                }
            }
            if graces.get() != g0 {
                prop_assert!(u0.routes_pending + u0.buckets_pending > 0, "grace with nothing pending");
            }
            check_retired();
            // Newly unlinked items: remember what they hold now.
            let now = snapshot(&t);
            {
                let s = seen.borrow();
                let mut r = retired.borrow_mut();
                for (b, _) in s.buckets.iter() {
                    if !now.buckets.contains_key(b) && !r.buckets.contains_key(b) {
                        r.buckets.insert(*b, bucket_words(&t, *b));
                    }
                }
                for (i, _) in s.routes.iter() {
                    if !now.routes.contains_key(i) && !r.routes.contains_key(i) {
                        r.routes.insert(*i, route_fields(&t.routes[*i as usize]));
                    }
                }
            }
            let mut probes = random_probes(Family::Inet, 2, &seeds);
            probes.extend(random_probes(Family::Inet6, 2, &seeds));
            for (vrf, f, a) in probes.iter().chain(m.probes(salt).iter()) {
                prop_assert_eq!(t.lookup(*vrf, *f, a), m.lpm(*vrf, *f, a));
            }
            let u = t.usage(&w);
            prop_assert!(u.routes_v4 + u.routes_v6 + u.routes_pending <= u.routes_max);
            prop_assert!(u.buckets_used + u.buckets_pending <= u.buckets_max);
        }
        check_full(&t, &w, &m);
        check_dump(&t, &w, &m);
        let _ = failures;
    }
}

/// Tiny storage with deterministic churn: makes sure the grace path and failures are
/// actually taken (the property test above does not count them).
#[test]
fn churn_reuses_after_grace() {
    let (t, mut w) = table(1, 8, 4, 4);
    let graces = Cell::new(0u32);
    let mut g = || graces.set(graces.get() + 1);
    let mut fails = 0;
    for i in 0..200u32 {
        let p = prefix_of(
            Family::Inet,
            u128::from(i.wrapping_mul(0x9e37_79b9)),
            (i % 33) as u8,
        );
        match t.add(&mut w, 0, &p, d(i), &mut g) {
            Ok(_) => {}
            Err(RouteError::NoRouteSpace | RouteError::NoNodeSpace) => fails += 1,
            Err(e) => panic!("{e:?}"),
        }
        if i % 3 == 0 {
            let mut c = 0;
            let mut victims = vec![];
            while let Some((n, m)) = t.next_route(&w, 0, Family::Inet, c) {
                victims.push(m.prefix);
                c = n;
            }
            for p in victims.iter().take(2) {
                t.delete(&mut w, 0, p, &mut g).unwrap();
            }
        }
    }
    assert!(graces.get() > 10, "graces {}", graces.get());
    assert!(fails > 0);
}
