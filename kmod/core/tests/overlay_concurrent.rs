// SPDX-License-Identifier: GPL-2.0
//! The label/VNI table as the kernel uses it: one writer (the RTNL holder) sets, replaces
//! and clears entries while lock-free readers (the packet path) look them up. A reader
//! sees nothing or one of the nexthops the entry has held, never anything else.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use vrouter_core::overlay::NhMap;

#[test]
fn readers_see_old_or_new_nexthop_never_garbage() {
    let map: Arc<NhMap<Box<[AtomicU32]>>> =
        Arc::new(NhMap::new((0..64).map(|_| AtomicU32::new(0)).collect()));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    // entry i only ever holds nexthop 1000 + i or 2000 + i
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (map, stop, start) = (map.clone(), stop.clone(), start.clone());
            std::thread::spawn(move || {
                let mut seen = 0u64;
                start.wait();
                loop {
                    let last = stop.load(Ordering::Relaxed);
                    for i in 0..64u32 {
                        match map.get(i) {
                            None => {}
                            Some(nh) if nh == 1000 + i || nh == 2000 + i => seen += 1,
                            Some(nh) => panic!("entry {i} held {nh}"),
                        }
                    }
                    if let Some((i, nh)) = map.next_used(0) {
                        assert!(nh == 1000 + i || nh == 2000 + i, "walk: {i} -> {nh}");
                    }
                    if last {
                        break;
                    }
                }
                seen
            })
        })
        .collect();
    start.wait();
    for round in 0..20_000u32 {
        let i = round % 64;
        match round % 3 {
            0 => assert!(map.set(i, 1000 + i).is_some()),
            1 => assert!(map.set(i, 2000 + i).is_some()),
            _ => {
                map.clear(i);
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let seen: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    // entries are left set at the end, and every reader made a pass after that
    assert!(map.used() > 0);
    assert!(seen > 0, "the readers never saw an entry");
}
