// SPDX-License-Identifier: GPL-2.0
//! Flow table benchmark (plain std timing): the default TF-sized table (524,288 main +
//! 105,472 overflow entries), filled with 400,000 random IPv4 UDP flows (about 76% of the
//! main area, so some buckets overflow), then lookups of 4M precomputed keys:
//! - `hit`: keys of installed flows, in random order (the packet path of an established
//!   flow: hash, bucket, sequence-checked compare);
//! - `miss`: keys never installed (what a new flow costs before its Hold).
//!
//! It also reports the insert and remove rates of the fill.
//!
//! Run with `cargo bench -p vrouter-core --bench flow`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::Instant;

#[path = "../tests/rng/mod.rs"]
mod rng;

use rng::Rng;
use vrouter_core::flow::{FlowEntry, FlowKey, FlowTable, Setting, SlotBitmap};
use vrouter_core::uapi::{addr_family, flow_action, FLOW_INDEX_NONE};

const MAIN: u32 = 524_288;
const OFLOW: u32 = 105_472;
const FLOWS: usize = 400_000;
const LOOKUPS: usize = 1 << 22;

fn key(r: u64) -> FlowKey {
    let mut k = FlowKey {
        vrf: 1 + (r % 4) as u32,
        family: addr_family::INET as u8,
        proto: 17,
        ..FlowKey::default()
    };
    k.src[..4].copy_from_slice(&[10, 32, (r >> 8) as u8, (r >> 16) as u8]);
    k.dst[..4].copy_from_slice(&[10, 33, (r >> 24) as u8, (r >> 32) as u8]);
    k.sport = (r >> 40) as u16;
    k.dport = (r >> 56) as u16 | 1;
    k
}

fn main() {
    let entries: Vec<FlowEntry> = (0..MAIN + OFLOW).map(|_| FlowEntry::new()).collect();
    let buckets: Vec<AtomicU32> = (0..MAIN / 4 * 2).map(|_| AtomicU32::new(0)).collect();
    let map: Vec<AtomicU64> = (0..SlotBitmap::<Vec<AtomicU64>>::words_for(OFLOW))
        .map(|_| AtomicU64::new(0))
        .collect();
    let t = FlowTable::new(entries, buckets, map, MAIN, 0x5eed).expect("storage");
    let mut rng = Rng(1);
    let keys: Vec<FlowKey> = (0..FLOWS).map(|_| key(rng.next())).collect();
    let set = Setting {
        action: flow_action::FORWARD,
        drop_reason: 0,
        flags: 0,
        rindex: FLOW_INDEX_NONE,
    };
    let start = Instant::now();
    let mut indexes = Vec::with_capacity(FLOWS);
    for k in &keys {
        if let Ok(vrouter_core::flow::Inserted::New { index, .. }) =
            t.insert(k, set, 0, FLOW_INDEX_NONE, 0, |_, _| {})
        {
            indexes.push(index);
        }
    }
    let fill = start.elapsed();
    println!(
        "flow table {} + {} entries: {} flows inserted in {:.1} ms ({:.0} ns each), {} in the overflow area",
        MAIN,
        OFLOW,
        indexes.len(),
        fill.as_secs_f64() * 1e3,
        fill.as_nanos() as f64 / indexes.len() as f64,
        t.oflow_used()
    );
    let hits: Vec<FlowKey> = (0..LOOKUPS)
        .map(|_| keys[(rng.next() % FLOWS as u64) as usize])
        .collect();
    let misses: Vec<FlowKey> = (0..LOOKUPS).map(|_| key(rng.next() | 1 << 63)).collect();
    for (name, probe) in [("hit", &hits), ("miss", &misses)] {
        let mut best = f64::MAX;
        let mut found = 0;
        for _ in 0..3 {
            found = 0;
            let s = Instant::now();
            for k in probe.iter() {
                if black_box(t.lookup(black_box(k))).is_some() {
                    found += 1;
                }
            }
            best = best.min(s.elapsed().as_nanos() as f64 / probe.len() as f64);
        }
        println!(
            "  lookup {name:5} {best:6.1} ns/lookup ({found} of {} found)",
            probe.len()
        );
    }
    let s = Instant::now();
    for &i in &indexes {
        let _ = t.remove(i, None);
    }
    println!(
        "  remove {:.0} ns each; used after: {}",
        s.elapsed().as_nanos() as f64 / indexes.len() as f64,
        t.used()
    );
}
