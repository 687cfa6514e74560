//! The flow table: insert/lookup/update/remove, generations, overflow chains, eviction of
//! dead TCP entries, lock-free readers racing writers; keys from packets; NAT rewrites
//! checked against full checksum recomputation; TCP state.

mod packet_common;

use packet_common::*;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use vrouter_core::flow::*;
use vrouter_core::packet::{parse, L4};
use vrouter_core::uapi::{addr_family, flow_action, flow_flag, flow_tcp, FLOW_INDEX_NONE};

type Table = FlowTable<Vec<FlowEntry>, Vec<AtomicU32>, Vec<AtomicU64>>;

fn table(main: u32, oflow: u32) -> Table {
    let entries = (0..main + oflow).map(|_| FlowEntry::new()).collect();
    let buckets = (0..main / 4 * 2).map(|_| AtomicU32::new(0)).collect();
    let map = (0..SlotBitmap::<Vec<AtomicU64>>::words_for(oflow))
        .map(|_| AtomicU64::new(0))
        .collect();
    FlowTable::new(entries, buckets, map, main, 0x1234_5678).expect("storage fits")
}

fn key4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> FlowKey {
    let mut k = FlowKey {
        vrf: 2,
        family: addr_family::INET as u8,
        proto,
        sport,
        dport,
        ..FlowKey::default()
    };
    k.src[..4].copy_from_slice(&src);
    k.dst[..4].copy_from_slice(&dst);
    k
}

fn fwd() -> Setting {
    Setting {
        action: flow_action::FORWARD,
        drop_reason: 0,
        flags: 0,
        rindex: FLOW_INDEX_NONE,
    }
}

fn new_index(r: Inserted) -> (u32, u8) {
    match r {
        Inserted::New { index, gen, .. } => (index, gen),
        other => panic!("expected a new entry, got {other:?}"),
    }
}

#[test]
fn storage_is_checked() {
    let mk = |n: u32| (0..n).map(|_| FlowEntry::new()).collect::<Vec<_>>();
    let w = |n: u32| (0..n).map(|_| AtomicU32::new(0)).collect::<Vec<_>>();
    let m = |n: u32| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
    assert!(
        FlowTable::new(mk(8), w(4), m(0), 6, 0).is_err(),
        "main not a multiple of 4"
    );
    assert!(
        FlowTable::new(mk(8), w(2), m(0), 8, 0).is_err(),
        "two words per bucket"
    );
    assert!(
        FlowTable::new(mk(72), w(4), m(0), 8, 0).is_err(),
        "bitmap too short for 64 overflow entries"
    );
    assert!(FlowTable::new(mk(72), w(4), m(1), 8, 0).is_ok());
}

#[test]
fn insert_lookup_update_remove() {
    let t = table(64, 16);
    let k = key4([10, 0, 0, 1], [10, 0, 0, 2], 6, 1000, 80);
    assert!(t.lookup(&k).is_none());
    let told = std::cell::Cell::new(None);
    let (i, g) = new_index(
        t.insert(&k, Setting::hold(), 7, 3, 100, |i, g| {
            told.set(Some((i, g)))
        })
        .unwrap(),
    );
    assert_eq!(
        told.get(),
        Some((i, g)),
        "the owner hears of the entry before anyone can see it"
    );
    assert_eq!(t.used(), 1);
    let (hit, _, v) = t.lookup(&k).expect("found");
    assert_eq!((hit, v.action, v.gen), (i, flow_action::HOLD, g));
    let again = t.insert(&k, fwd(), 0, FLOW_INDEX_NONE, 100, |_, _| {
        panic!("no new entry, no call")
    });
    assert_eq!(again.unwrap(), Inserted::Exists { index: i });
    // The reverse key is another flow.
    assert!(t.lookup(&k.reverse()).is_none());
    let view = t.view(i).unwrap();
    assert_eq!(
        (view.key, view.vif, view.hold_slot, view.last_used),
        (k, 7, 3, 100)
    );

    // A verdict for another generation is refused and changes nothing.
    let stale = t.update(i, Some(g.wrapping_add(1)), fwd());
    assert_eq!(stale, Err(FlowError::Stale { current: g }));
    assert_eq!(t.lookup(&k).unwrap().2.action, flow_action::HOLD);

    let nat = Setting {
        action: flow_action::NAT,
        drop_reason: 0,
        flags: flow_flag::DNAT,
        rindex: 9,
    };
    let before = t.update(i, Some(g), nat).unwrap();
    assert_eq!(
        (before.verdict.action, before.hold_slot),
        (flow_action::HOLD, 3)
    );
    let v = t.lookup(&k).unwrap().2;
    assert_eq!((v.action, v.rindex, v.gen), (flow_action::NAT, 9, g));
    assert_ne!(v.flags & flow_flag::DNAT, 0);
    assert_ne!(v.flags & flow_flag::RFLOW_VALID, 0);
    assert_eq!(t.view(i).unwrap().hold_slot, FLOW_INDEX_NONE);

    assert_eq!(
        t.remove(i, Some(g.wrapping_add(1))),
        Err(FlowError::Stale { current: g })
    );
    t.remove(i, Some(g)).unwrap();
    assert!(t.lookup(&k).is_none());
    assert_eq!(t.used(), 0);
    assert_eq!(t.remove(i, None), Err(FlowError::NotFound));
    assert_eq!(t.update(1_000, None, fwd()), Err(FlowError::OutOfRange));
    // The slot's next user gets a new generation.
    let (i2, g2) = new_index(
        t.insert(&k, fwd(), 0, FLOW_INDEX_NONE, 5, |_, _| {})
            .unwrap(),
    );
    assert_eq!(i2, i);
    assert_ne!(g2, g);
}

#[test]
fn overflow_chains_and_full_table() {
    // One bucket: four main entries, then the overflow area, then Full.
    let t = table(4, 8);
    let keys: Vec<FlowKey> = (0..12)
        .map(|p| key4([10, 0, 0, 1], [10, 0, 0, 2], 17, 5000 + p, 53))
        .collect();
    let mut idx = Vec::new();
    for k in &keys {
        idx.push(
            new_index(
                t.insert(k, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {})
                    .unwrap(),
            )
            .0,
        );
    }
    assert_eq!((t.used(), t.oflow_used()), (12, 8));
    assert!(idx[4..].iter().all(|&i| i >= 4));
    let extra = key4([10, 0, 0, 1], [10, 0, 0, 2], 17, 9999, 53);
    assert_eq!(
        t.insert(&extra, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {}),
        Err(FlowError::Full)
    );
    for (k, &i) in keys.iter().zip(&idx) {
        assert_eq!(t.lookup(k).map(|h| h.0), Some(i));
    }
    // Unlink from the middle, the head and the tail of the chain; the rest stays found.
    for pos in [7, 11, 4] {
        t.remove(idx[pos], None).unwrap();
    }
    for (n, (k, &i)) in keys.iter().zip(&idx).enumerate() {
        let want = if [7, 11, 4].contains(&n) {
            None
        } else {
            Some(i)
        };
        assert_eq!(t.lookup(k).map(|h| h.0), want, "key {n}");
    }
    assert_eq!(t.oflow_used(), 5);
    new_index(
        t.insert(&extra, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {})
            .unwrap(),
    );
    // Dumps walk every entry in use.
    let mut seen = 0;
    let mut at = 0;
    while let Some(v) = t.next_used(at) {
        seen += 1;
        at = v.index + 1;
    }
    assert_eq!(seen, t.used());
}

#[test]
fn dead_tcp_entries_are_reused_before_the_overflow_area() {
    let t = table(4, 0);
    let keys: Vec<FlowKey> = (0..4)
        .map(|p| key4([10, 0, 0, 1], [10, 0, 0, 2], 6, 40000 + p, 80))
        .collect();
    let idx: Vec<u32> = keys
        .iter()
        .map(|k| {
            new_index(
                t.insert(k, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {})
                    .unwrap(),
            )
            .0
        })
        .collect();
    let newcomer = key4([10, 0, 0, 3], [10, 0, 0, 2], 6, 1, 80);
    assert_eq!(
        t.insert(&newcomer, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {}),
        Err(FlowError::Full)
    );
    let victim = t.entry(idx[2]).unwrap();
    victim.add_tcp_flags(flow_tcp::FIN | flow_tcp::DEAD);
    assert_ne!(
        t.view(idx[2]).unwrap().verdict.flags & flow_flag::EVICT_CANDIDATE,
        0
    );
    match t
        .insert(&newcomer, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {})
        .unwrap()
    {
        Inserted::New { index, evicted, .. } => assert_eq!((index, evicted), (idx[2], true)),
        other => panic!("{other:?}"),
    }
    assert!(t.lookup(&keys[2]).is_none());
    assert_eq!(
        t.view(idx[2]).unwrap().tcp,
        0,
        "the new flow starts with fresh TCP state"
    );
    assert_eq!(t.used(), 4);
    // A Hold entry is never evicted: its queued packets belong to the owner.
    let t = table(4, 0);
    for k in &keys {
        let i = new_index(t.insert(k, Setting::hold(), 0, 0, 0, |_, _| {}).unwrap()).0;
        t.entry(i).unwrap().add_tcp_flags(flow_tcp::DEAD);
    }
    assert_eq!(
        t.insert(&newcomer, fwd(), 0, FLOW_INDEX_NONE, 0, |_, _| {}),
        Err(FlowError::Full)
    );
}

#[test]
fn counters_and_age() {
    let t = table(8, 0);
    let k = key4([1, 1, 1, 1], [2, 2, 2, 2], 17, 1, 2);
    let (i, _) = new_index(
        t.insert(&k, fwd(), 0, FLOW_INDEX_NONE, 10, |_, _| {})
            .unwrap(),
    );
    let e = t.entry(i).unwrap();
    e.hit(100, 11);
    e.hit(50, 12);
    let v = t.view(i).unwrap();
    assert_eq!((v.packets, v.bytes, v.last_used), (2, 150, 12));
}

#[test]
fn readers_never_see_a_torn_entry_while_writers_churn() {
    let t = Arc::new(table(64, 64));
    let stop = Arc::new(AtomicBool::new(false));
    let keys: Arc<Vec<FlowKey>> = Arc::new(
        (0..200)
            .map(|p| key4([10, 1, 0, (p % 250) as u8], [10, 2, 0, 1], 17, p, 53))
            .collect(),
    );
    // The verdict encodes the key: rindex = sport, so a reader can check consistency.
    let mut writers = Vec::new();
    for w in 0..2u16 {
        let (t, stop, keys) = (t.clone(), stop.clone(), keys.clone());
        writers.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for k in keys.iter().filter(|k| k.sport % 2 == w) {
                    let set = Setting {
                        action: flow_action::FORWARD,
                        drop_reason: 0,
                        flags: 0,
                        rindex: u32::from(k.sport),
                    };
                    match t.insert(k, set, 0, FLOW_INDEX_NONE, 0, |_, _| {}) {
                        Ok(Inserted::New { index, .. }) => {
                            let _ = t.remove(index, None);
                        }
                        Ok(Inserted::Exists { index }) => {
                            let _ = t.remove(index, None);
                        }
                        Err(_) => {}
                    }
                    n += 1;
                }
            }
            n
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (t, stop, keys) = (t.clone(), stop.clone(), keys.clone());
        readers.push(std::thread::spawn(move || {
            let mut hits = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for k in keys.iter() {
                    if let Some((_, _, v)) = t.lookup(k) {
                        assert_eq!(v.rindex, u32::from(k.sport), "a verdict of another key");
                        hits += 1;
                    }
                }
            }
            hits
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let written: u64 = writers.into_iter().map(|h| h.join().unwrap()).sum();
    let hits: u64 = readers.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(written > 1000, "writers made progress ({written})");
    assert!(hits > 0, "readers saw entries");
    assert_eq!(t.used(), 0);
    assert_eq!(t.oflow_used(), 0);
}

#[test]
fn concurrent_inserts_of_one_key_make_one_entry() {
    let t = Arc::new(table(16, 16));
    let k = key4([10, 0, 0, 9], [10, 0, 0, 2], 6, 7, 7);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .filter(|_| {
                        matches!(
                            t.insert(&k, Setting::hold(), 0, 0, 0, |_, _| {}),
                            Ok(Inserted::New { .. })
                        )
                    })
                    .count()
            })
        })
        .collect();
    let made: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!((made, t.used()), (1, 1));
}

#[test]
fn bitmap_allocates_each_slot_once() {
    let words: Vec<AtomicU64> = (0..SlotBitmap::<Vec<AtomicU64>>::words_for(70))
        .map(|_| AtomicU64::new(0))
        .collect();
    let b = SlotBitmap::new(words, 70).unwrap();
    let mut got: Vec<u32> = (0..70).map(|_| b.alloc().expect("free slot")).collect();
    assert!(b.alloc().is_none());
    got.sort();
    assert_eq!(got, (0..70).collect::<Vec<_>>());
    assert!(b.free(33));
    assert!(!b.free(33), "double free is refused");
    assert!(!b.free(500));
    assert_eq!(b.alloc(), Some(33));
}

#[test]
fn keys_from_packets_pair_with_their_replies() {
    let a = [10, 32, 0, 2];
    let b = [10, 32, 0, 3];
    let req = frame(
        0x0800,
        &ipv4(a, b, 1, &icmp4(8, 0, [0x12, 0x34, 0, 1], b"ping")),
    );
    let rep = frame(
        0x0800,
        &ipv4(b, a, 1, &icmp4(0, 0, [0x12, 0x34, 0, 1], b"ping")),
    );
    let kreq = FlowKey::from_headers(5, &parse(&req).unwrap()).unwrap();
    let krep = FlowKey::from_headers(5, &parse(&rep).unwrap()).unwrap();
    assert_eq!((kreq.sport, kreq.dport, kreq.vrf), (0x1234, 0, 5));
    assert_eq!(kreq.reverse(), krep);

    let syn = frame(0x0800, &ipv4(a, b, 6, &tcp(40000, 80, 0x02)));
    let synack = frame(0x0800, &ipv4(b, a, 6, &tcp(80, 40000, 0x12)));
    let k1 = FlowKey::from_headers(0, &parse(&syn).unwrap()).unwrap();
    let k2 = FlowKey::from_headers(0, &parse(&synack).unwrap()).unwrap();
    assert_eq!(k1.reverse(), k2);
    assert_eq!(FlowKey::from_words(&k1.words()), k1);
    assert_ne!(k1.hash(1), k2.hash(1));

    let a6 = [0xfd, 0, 0, 0x32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let b6 = [0xfd, 0, 0, 0x32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3];
    let u6 = frame(0x86dd, &ipv6(a6, b6, 17, &udp(5353, 53, b"q")));
    let k6 = FlowKey::from_headers(1, &parse(&u6).unwrap()).unwrap();
    assert_eq!(
        (k6.family, k6.src, k6.dst, k6.sport, k6.dport),
        (addr_family::INET6 as u8, a6, b6, 5353, 53)
    );
    assert_eq!(FlowKey::from_words(&k6.words()), k6);
    assert_eq!(k6.addr_len(), 16);
}

/// Full recomputation of a frame's IPv4 header and L4 checksums: true when both verify.
fn checksums_ok(f: &[u8]) -> bool {
    let h = parse(f).expect("still parses");
    let l4 = h.l4_offset().unwrap();
    let (src, dst, proto, v4): (Vec<u8>, Vec<u8>, u8, bool) = match f[12..14] {
        [0x08, 0x00] => (f[26..30].to_vec(), f[30..34].to_vec(), f[23], true),
        _ => (f[22..38].to_vec(), f[38..54].to_vec(), f[20], false),
    };
    if v4 && naive_csum(&[&f[14..14 + 20]]) != 0 {
        return false;
    }
    let seg = &f[l4..];
    let len = seg.len() as u16;
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    if v4 {
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&len.to_be_bytes());
    } else {
        pseudo.extend_from_slice(&(len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, proto]);
    }
    naive_csum(&[&pseudo, seg]) == 0
}

/// Fills in a correct L4 checksum (the builders leave it 0).
fn with_l4_checksum(mut f: Vec<u8>, at: usize) -> Vec<u8> {
    let h = parse(&f).unwrap();
    let l4 = h.l4_offset().unwrap();
    f[l4 + at..l4 + at + 2].copy_from_slice(&[0, 0]);
    for c in 0..=0xffffu16 {
        f[l4 + at..l4 + at + 2].copy_from_slice(&c.to_be_bytes());
        if checksums_ok(&f) {
            return f;
        }
    }
    panic!("no checksum verifies");
}

#[test]
fn dnat_and_reverse_snat_keep_checksums_valid() {
    let pod = [10, 32, 0, 2];
    let vip = [10, 96, 0, 10];
    let backend = [10, 32, 0, 7];
    // Forward: pod -> vip:80 becomes pod -> backend:8080 (DNAT+DPAT from the reverse key).
    let f = with_l4_checksum(frame(0x0800, &ipv4(pod, vip, 6, &tcp(40000, 80, 0x02))), 16);
    assert!(checksums_ok(&f));
    let rkey = key4(backend, pod, 6, 8080, 40000);
    let mut out = f.clone();
    let h = parse(&out).unwrap();
    nat_rewrite(
        &mut out,
        &h,
        flow_flag::DNAT | flow_flag::DPAT,
        &rkey,
        false,
    )
    .unwrap();
    let h2 = parse(&out).unwrap();
    assert!(checksums_ok(&out), "checksums after DNAT");
    let k = FlowKey::from_headers(2, &h2).unwrap();
    assert_eq!(
        (k.dst[..4].to_vec(), k.dport, k.src[..4].to_vec(), k.sport),
        (backend.to_vec(), 8080, pod.to_vec(), 40000)
    );
    assert!(matches!(h2.l4, L4::Tcp { flags: 0x02, .. }));

    // Reverse: backend:8080 -> pod becomes vip:80 -> pod (SNAT+SPAT from the forward key).
    let r = with_l4_checksum(
        frame(0x0800, &ipv4(backend, pod, 17, &udp(8080, 40000, b"hello"))),
        6,
    );
    let fkey = key4(pod, vip, 17, 40000, 80);
    let mut out = r.clone();
    let h = parse(&out).unwrap();
    nat_rewrite(
        &mut out,
        &h,
        flow_flag::SNAT | flow_flag::SPAT,
        &fkey,
        false,
    )
    .unwrap();
    assert!(checksums_ok(&out), "checksums after SNAT");
    let k = FlowKey::from_headers(2, &parse(&out).unwrap()).unwrap();
    assert_eq!((k.src[..4].to_vec(), k.sport), (vip.to_vec(), 80));

    // IPv4 UDP without a checksum keeps none.
    let mut nocsum = frame(0x0800, &ipv4(backend, pod, 17, &udp(8080, 40000, b"x")));
    let h = parse(&nocsum).unwrap();
    nat_rewrite(&mut nocsum, &h, flow_flag::SNAT, &fkey, false).unwrap();
    assert_eq!(&nocsum[40..42], &[0, 0]);
    assert_eq!(naive_csum(&[&nocsum[14..34]]), 0);
}

#[test]
fn nat_of_ipv6_and_of_offloaded_checksums() {
    let a: [u8; 16] = [0xfd, 0, 0, 0x32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let vip: [u8; 16] = [0xfd, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
    let be: [u8; 16] = [0xfd, 0, 0, 0x32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    let f = with_l4_checksum(frame(0x86dd, &ipv6(a, vip, 6, &tcp(40000, 80, 0x10))), 16);
    let mut rkey = FlowKey {
        vrf: 2,
        family: addr_family::INET6 as u8,
        proto: 6,
        sport: 8080,
        dport: 40000,
        ..FlowKey::default()
    };
    rkey.src = be;
    rkey.dst = a;
    let mut out = f.clone();
    let h = parse(&out).unwrap();
    nat_rewrite(
        &mut out,
        &h,
        flow_flag::DNAT | flow_flag::DPAT,
        &rkey,
        false,
    )
    .unwrap();
    assert!(checksums_ok(&out));
    assert_eq!(&out[38..54], &be);
    // A v4 reverse key for a v6 packet is refused, the packet untouched.
    let mut again = f.clone();
    let h = parse(&again).unwrap();
    assert_eq!(
        nat_rewrite(
            &mut again,
            &h,
            flow_flag::DNAT,
            &key4([1; 4], [2; 4], 6, 1, 2),
            false
        ),
        Err(NatError::Family)
    );
    assert_eq!(again, f);

    // CHECKSUM_PARTIAL: the field holds the pseudo-header sum, uncomplemented. After
    // NAT it must equal the pseudo-header sum of the new addresses.
    let pod = [10, 32, 0, 2];
    let vipv4 = [10, 96, 0, 10];
    let backend = [10, 32, 0, 7];
    let seg = tcp(40000, 80, 0x10);
    let mut f = frame(0x0800, &ipv4(pod, vipv4, 6, &seg));
    let pseudo =
        |s: [u8; 4], d: [u8; 4]| !naive_csum(&[&s, &d, &[0, 6], &(seg.len() as u16).to_be_bytes()]);
    f[14 + 20 + 16..14 + 20 + 18].copy_from_slice(&pseudo(pod, vipv4).to_be_bytes());
    let h = parse(&f).unwrap();
    nat_rewrite(
        &mut f,
        &h,
        flow_flag::DNAT | flow_flag::DPAT,
        &key4(backend, pod, 6, 8080, 40000),
        true,
    )
    .unwrap();
    assert_eq!(u16::from_be_bytes([f[50], f[51]]), pseudo(pod, backend));
    assert_eq!(
        naive_csum(&[&f[14..34]]),
        0,
        "the IPv4 header checksum is always updated"
    );
}

#[test]
fn tcp_state_follows_handshake_and_close() {
    let (syn, synack, ack, fin, rst) = (0x02u8, 0x12u8, 0x10u8, 0x11u8, 0x04u8);
    let mut c = 0u32; // client -> server entry
    let mut s = 0u32; // server -> client entry
    let apply = |own: &mut u32, rev: &mut u32, th: u8| {
        let u = tcp_update(*own, *rev, th);
        *own |= u.own;
        *rev |= u.reverse;
    };
    apply(&mut c, &mut s, syn);
    apply(&mut s, &mut c, synack);
    apply(&mut c, &mut s, ack);
    apply(&mut s, &mut c, ack);
    assert_eq!(c, flow_tcp::SYN | flow_tcp::ESTABLISHED);
    assert_eq!(s, flow_tcp::SYN | flow_tcp::ESTABLISHED);
    apply(&mut c, &mut s, fin);
    assert_ne!(c & flow_tcp::HALF_CLOSE, 0);
    assert_eq!(c & flow_tcp::DEAD, 0, "half closed is not dead");
    apply(&mut s, &mut c, fin);
    assert_ne!(c & flow_tcp::DEAD, 0);
    assert_ne!(s & flow_tcp::DEAD, 0);
    // Nothing new to add: callers skip the atomic.
    assert_eq!(tcp_update(c, s, ack), TcpUpdate::default());
    let u = tcp_update(flow_tcp::SYN, 0, rst);
    assert_ne!(u.own & flow_tcp::RST, 0);
    assert_eq!(u.reverse, flow_tcp::DEAD);
}

/// Bucket-lock hooks for `lock_checker_hears_every_acquire_and_release`: the depth of
/// held bucket locks and the acquires seen (statics, since the hooks are plain fns).
static HELD: AtomicU32 = AtomicU32::new(0);
static ACQUIRES: AtomicU32 = AtomicU32::new(0);

#[test]
fn lock_checker_hears_every_acquire_and_release() {
    let t = table(64, 16).with_lock_hooks(LockHooks {
        acquire: || {
            assert_eq!(
                HELD.fetch_add(1, Ordering::SeqCst),
                0,
                "one bucket lock at a time"
            );
            ACQUIRES.fetch_add(1, Ordering::SeqCst);
        },
        release: || {
            assert_eq!(
                HELD.fetch_sub(1, Ordering::SeqCst),
                1,
                "release without acquire"
            );
        },
    });
    let k = key4([10, 0, 0, 1], [10, 0, 0, 2], 17, 5353, 53);
    let (i, g) = new_index(
        t.insert(&k, fwd(), 1, FLOW_INDEX_NONE, 5, |_, _| {})
            .unwrap(),
    );
    t.update(i, Some(g), fwd()).unwrap();
    assert!(
        t.update(i, Some(g.wrapping_add(1)), fwd()).is_err(),
        "stale gen refused"
    );
    t.remove(i, Some(g)).unwrap();
    assert!(t.lookup(&k).is_none(), "lookups take no lock");
    assert_eq!(HELD.load(Ordering::SeqCst), 0, "every acquire released");
    assert!(
        ACQUIRES.load(Ordering::SeqCst) >= 3,
        "insert, update and remove lock"
    );
}
