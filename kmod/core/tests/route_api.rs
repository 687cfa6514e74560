// SPDX-License-Identifier: GPL-2.0
//! The public API as an owner uses it: storage in whatever container derefs to a slice
//! (`Box<[_]>`, a borrowed slice), a writer lock, RCU-style grace callbacks.

use std::sync::atomic::AtomicU32;
use std::sync::Mutex;

use vrouter_core::route::{
    nodes_len, Family, Match, Prefix, RouteData, RouteError, RouteSlot, RouteTable, Usage, Writer,
};

fn boxed(n: usize) -> Box<[AtomicU32]> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}

fn p4(a: [u8; 4], len: u8) -> Prefix {
    Prefix::new(Family::Inet, &a, len).unwrap()
}

#[test]
fn boxed_storage_behind_a_writer_lock() {
    let routes: Box<[RouteSlot]> = (0..16).map(|_| RouteSlot::new()).collect();
    let (t, w) = RouteTable::new(boxed(4), boxed(nodes_len(16)), routes, boxed(16)).unwrap();
    let w = Mutex::new(w);
    let mut grace = || {};
    let nh = |n| RouteData {
        nh: n,
        ..RouteData::default()
    };
    {
        let mut w = w.lock().unwrap();
        assert_eq!(
            t.add(&mut w, 1, &p4([10, 0, 0, 0], 8), nh(1), &mut grace),
            Ok(None)
        );
        assert_eq!(
            t.add(&mut w, 1, &p4([10, 9, 0, 0], 16), nh(2), &mut grace),
            Ok(None)
        );
        let p6 = Prefix::new(
            Family::Inet6,
            &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            32,
        )
        .unwrap();
        assert_eq!(t.add(&mut w, 0, &p6, nh(3), &mut grace), Ok(None));
    }
    assert_eq!(t.vrfs(), 2);
    let m: Match = t.lookup(1, Family::Inet, &[10, 9, 1, 1]).unwrap();
    assert_eq!(
        (m.prefix.to_string(), m.data.nh),
        ("10.9.0.0/16".to_string(), 2)
    );
    let mut a6 = [0u8; 16];
    a6[..4].copy_from_slice(&[0x20, 1, 0x0d, 0xb8]);
    a6[15] = 1;
    assert_eq!(
        t.lookup_v6(0, &a6).unwrap().prefix.to_string(),
        "2001:db8::/32"
    );
    assert_eq!(t.lookup_v4(0, [10, 9, 1, 1]), None);

    let w = w.lock().unwrap();
    let u: Usage = t.usage(&w);
    assert_eq!(
        (u.routes_v4, u.routes_v6, u.routes_max, u.buckets_max),
        (2, 1, 16, 16)
    );
    assert_eq!(t.parent_len(&w, 1, &p4([10, 9, 0, 0], 16)), Some(8));
    assert_eq!(t.get(&w, 1, &p4([10, 0, 0, 0], 8)), Some(nh(1)));
}

#[test]
fn borrowed_storage_and_errors() {
    let roots: Vec<AtomicU32> = (0..2).map(|_| AtomicU32::new(0)).collect();
    let nodes: Vec<AtomicU32> = (0..nodes_len(2)).map(|_| AtomicU32::new(0)).collect();
    let routes: Vec<RouteSlot> = (0..2).map(|_| RouteSlot::new()).collect();
    let hash: Vec<AtomicU32> = (0..2).map(|_| AtomicU32::new(0)).collect();
    let (t, mut w): (RouteTable<&[AtomicU32], &[RouteSlot]>, Writer) =
        RouteTable::new(&roots[..], &nodes[..], &routes[..], &hash[..]).unwrap();
    let graces = std::cell::Cell::new(0);
    let mut g = || graces.set(graces.get() + 1);
    let d = RouteData {
        nh: 1,
        label: 2,
        flags: 3,
        mac: [1, 2, 3, 4, 5, 6],
    };
    assert_eq!(
        t.add(&mut w, 1, &p4([1, 0, 0, 0], 8), d, &mut g),
        Err(RouteError::VrfOutOfRange)
    );
    assert_eq!(t.add(&mut w, 0, &p4([1, 0, 0, 0], 8), d, &mut g), Ok(None));
    assert_eq!(t.add(&mut w, 0, &p4([1, 2, 0, 0], 16), d, &mut g), Ok(None));
    // Two buckets in use, both route entries too.
    assert_eq!(
        t.add(&mut w, 0, &p4([1, 2, 3, 0], 24), d, &mut g),
        Err(RouteError::NoRouteSpace)
    );
    assert_eq!(t.delete(&mut w, 0, &p4([1, 0, 0, 0], 8), &mut g), Ok(d));
    assert_eq!(
        t.add(&mut w, 0, &p4([1, 2, 3, 0], 24), d, &mut g),
        Err(RouteError::NoNodeSpace)
    );
    assert_eq!(
        t.lookup(0, Family::Inet, &[1, 2, 3, 4]).unwrap().prefix,
        p4([1, 2, 0, 0], 16)
    );
    assert_eq!(t.lookup(0, Family::Inet, &[1, 3, 3, 4]), None);
    assert_eq!(graces.get(), 0);
    assert_eq!(t.add(&mut w, 0, &p4([2, 0, 0, 0], 8), d, &mut g), Ok(None));
    assert_eq!(
        graces.get(),
        1,
        "the deleted entry was reused after a grace period"
    );
    assert_eq!(
        t.delete(&mut w, 0, &p4([9, 0, 0, 0], 8), &mut g),
        Err(RouteError::NotFound)
    );
    let mut c = 0;
    let mut n = 0;
    while let Some((next, m)) = t.next_route(&w, 0, Family::Inet, c) {
        assert_eq!(m.data, d);
        c = next;
        n += 1;
    }
    assert_eq!(n, 2);
    t.clear(&mut w);
    assert_eq!(t.lookup(0, Family::Inet, &[1, 2, 3, 4]), None);
    assert_eq!(t.next_route(&w, 0, Family::Inet, 0), None);
}
