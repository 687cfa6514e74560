// SPDX-License-Identifier: GPL-2.0
//! The flow table: exact-match entries keyed by VRF + 5-tuple, each with an action
//! (Forward, Drop, NAT, Hold), a link to its reverse entry, counters and TCP state.
//!
//! Layout, after TF's `vr_flow.c`: a main area of buckets of [`BUCKET_ENTRIES`] entries
//! addressed by the key's hash, and an overflow area whose entries are chained from the
//! bucket they overflowed from. An entry's index (main area first, then overflow) is what
//! userspace names it by; its generation number changes each time the slot is reused, so
//! a verdict for a flow that has gone cannot land on a newcomer.
//!
//! Concurrency:
//! - Lookups take no lock: each entry carries a sequence counter (odd while a writer
//!   changes its key or verdict) and readers retry or skip an entry that changed under
//!   them. Counters, TCP state and the last-used time are separate atomics that packets
//!   update without the sequence.
//! - Writers (insert, update, delete) take the bucket's lock word, a short spin lock.
//!   The packet path inserts Hold entries and netlink sets verdicts, so the owner must
//!   keep bottom halves off while calling a writer: a writer interrupted by a packet on
//!   its own CPU that wants the same bucket would spin forever. The lock words are plain
//!   atomics, so the owner passes [`LockHooks`] that tell its lock checker (the kernel's
//!   lockdep) each acquire and release; lockdep then reports a writer called with bottom
//!   halves on. Every field is an atomic, so there is nothing for KCSAN to race on.
//! - A reader walking an overflow chain while a writer unlinks from it may miss an entry;
//!   the miss path inserts under the lock and finds the entry there ([`Inserted::Exists`]).

mod bitmap;
mod key;
mod nat;
mod tcp;

use core::hint::spin_loop;
use core::ops::Deref;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{fence, AtomicU32, AtomicU64};

use super::uapi::{flow_action, flow_flag, flow_tcp, FLOW_INDEX_NONE};

pub use bitmap::SlotBitmap;
#[allow(unused_imports)]
pub use key::{FlowKey, KEY_WORDS};
#[allow(unused_imports)]
pub use nat::{nat_rewrite, NatError};
#[allow(unused_imports)]
pub use tcp::{tcp_update, TcpUpdate};

/// Attempts of a packet-path read racing a writer before it gives up (and misses), and of
/// a dump's read (a writer holds an entry for a few stores only).
const READ_TRIES: usize = 4;
const VIEW_TRIES: usize = 1000;

/// Entries per main-area bucket (TF: 4).
pub const BUCKET_ENTRIES: usize = 4;

/// `ctl` word: bit 31 in use, 24..31 drop reason, 16..24 generation, 0..8 action.
const CTL_USED: u32 = 1 << 31;
const CTL_GEN_SHIFT: u32 = 16;
const CTL_REASON_SHIFT: u32 = 24;

/// One flow entry. All fields are atomics because packets on other CPUs read them while a
/// writer changes them; the sequence counter makes a reader's view consistent.
#[derive(Default)]
pub struct FlowEntry {
    seq: AtomicU32,
    key: [AtomicU32; KEY_WORDS],
    ctl: AtomicU32,
    flags: AtomicU32,
    rindex: AtomicU32,
    /// Next entry in the bucket's overflow chain.
    next: AtomicU32,
    /// Owner data: the vif a Hold entry's packet came from, and its queue slot.
    vif: AtomicU32,
    hold_slot: AtomicU32,
    tcp: AtomicU32,
    last_used: AtomicU32,
    packets: AtomicU64,
    bytes: AtomicU64,
}

impl FlowEntry {
    pub fn new() -> FlowEntry {
        FlowEntry::default()
    }

    /// Counts a packet of `len` bytes and notes the time (TCP state is updated apart,
    /// see [`tcp_update`]).
    pub fn hit(&self, len: u32, now: u32) {
        self.packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(u64::from(len), Relaxed);
        // Stores only when the second changes, so hot flows do not bounce the line.
        if self.last_used.load(Relaxed) != now {
            self.last_used.store(now, Relaxed);
        }
    }

    pub fn tcp_flags(&self) -> u32 {
        self.tcp.load(Relaxed)
    }

    /// Runs `f` over the entry until no writer changed it meanwhile (the sequence counter
    /// was even and the same before and after); None after `tries` attempts.
    fn consistent<T>(&self, tries: usize, f: impl Fn(&FlowEntry) -> T) -> Option<T> {
        for _ in 0..tries {
            let s1 = self.seq.load(Acquire);
            if s1 & 1 == 1 {
                spin_loop();
                continue;
            }
            let v = f(self);
            fence(Acquire);
            if self.seq.load(Relaxed) == s1 {
                return Some(v);
            }
        }
        None
    }

    fn key_words(&self) -> [u32; KEY_WORDS] {
        let mut words = [0u32; KEY_WORDS];
        for (w, a) in words.iter_mut().zip(self.key.iter()) {
            *w = a.load(Relaxed);
        }
        words
    }

    /// Adds TCP state bits (packets of both directions update concurrently).
    pub fn add_tcp_flags(&self, bits: u32) {
        if self.tcp.load(Relaxed) & bits != bits {
            self.tcp.fetch_or(bits, Relaxed);
        }
    }
}

/// A consistent copy of an entry's identity and verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub action: u32,
    pub gen: u8,
    pub drop_reason: u32,
    pub flags: u32,
    pub rindex: u32,
    /// The owner's queue slot of a Hold entry.
    pub hold_slot: u32,
}

impl Verdict {
    fn from_ctl(ctl: u32, flags: u32, rindex: u32, hold_slot: u32) -> Verdict {
        Verdict {
            action: ctl & 0xff,
            gen: (ctl >> CTL_GEN_SHIFT) as u8,
            drop_reason: (ctl >> CTL_REASON_SHIFT) & 0x7f,
            flags,
            rindex,
            hold_slot,
        }
    }
}

/// Everything about an entry, for dumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowView {
    pub index: u32,
    pub key: FlowKey,
    pub verdict: Verdict,
    pub tcp: u32,
    pub packets: u64,
    pub bytes: u64,
    pub last_used: u32,
    pub vif: u32,
    pub hold_slot: u32,
}

/// What a writer sets on an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub action: u32,
    pub drop_reason: u32,
    /// NAT rewrite flags ([`super::uapi::FLOW_FLAGS_SETTABLE`]).
    pub flags: u32,
    pub rindex: u32,
}

impl Setting {
    pub const fn hold() -> Setting {
        Setting {
            action: flow_action::HOLD,
            drop_reason: 0,
            flags: 0,
            rindex: FLOW_INDEX_NONE,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new entry (index, generation). `evicted` when it reused a dead TCP entry.
    New { index: u32, gen: u8, evicted: bool },
    /// An entry with this key exists already.
    Exists { index: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// No free entry in the bucket nor in the overflow area.
    Full,
    /// Index beyond the table.
    OutOfRange,
    /// No entry in use at the index.
    NotFound,
    /// The entry at the index has another generation (it was reused).
    Stale { current: u8 },
    /// The storage handed to [`FlowTable::new`] does not fit together.
    BadStorage,
}

/// The table over storage the owner allocates: `entries` = main + overflow entries,
/// `buckets` = two words per bucket (lock, overflow chain head), `oflow_map` = one bit per
/// overflow entry (see [`SlotBitmap::words_for`]).
pub struct FlowTable<E, W, M>
where
    E: Deref<Target = [FlowEntry]>,
    W: Deref<Target = [AtomicU32]>,
    M: Deref<Target = [AtomicU64]>,
{
    entries: E,
    buckets: W,
    oflow: SlotBitmap<M>,
    main: u32,
    seed: u32,
    used: AtomicU32,
    hooks: LockHooks,
}

/// Calls that tell a lock checker about the bucket locks. One class for all buckets: a
/// writer never holds two.
#[derive(Clone, Copy)]
pub struct LockHooks {
    pub acquire: fn(),
    pub release: fn(),
}

impl LockHooks {
    /// No checker (host tests and benchmarks).
    pub const NONE: LockHooks = LockHooks {
        acquire: || {},
        release: || {},
    };
}

impl<E, W, M> FlowTable<E, W, M>
where
    E: Deref<Target = [FlowEntry]>,
    W: Deref<Target = [AtomicU32]>,
    M: Deref<Target = [AtomicU64]>,
{
    /// `main` entries (a multiple of [`BUCKET_ENTRIES`]) come first in `entries`, the rest
    /// is the overflow area. `seed` keys the hash (the kernel passes a random value so
    /// remote senders cannot aim at one bucket).
    pub fn new(
        entries: E,
        buckets: W,
        oflow_map: M,
        main: u32,
        seed: u32,
    ) -> Result<Self, FlowError> {
        let main_len = main as usize;
        if main == 0
            || !main_len.is_multiple_of(BUCKET_ENTRIES)
            || entries.len() < main_len
            || entries.len() >= FLOW_INDEX_NONE as usize
        {
            return Err(FlowError::BadStorage);
        }
        if buckets.len() != main_len / BUCKET_ENTRIES * 2 {
            return Err(FlowError::BadStorage);
        }
        let oflow_len = (entries.len() - main_len) as u32;
        let oflow = SlotBitmap::new(oflow_map, oflow_len).ok_or(FlowError::BadStorage)?;
        for (i, w) in buckets.iter().enumerate() {
            w.store(if i % 2 == 1 { FLOW_INDEX_NONE } else { 0 }, Relaxed);
        }
        Ok(FlowTable {
            entries,
            buckets,
            oflow,
            main,
            seed,
            used: AtomicU32::new(0),
            hooks: LockHooks::NONE,
        })
    }

    /// Reports every bucket lock acquire and release to `hooks`.
    pub fn with_lock_hooks(mut self, hooks: LockHooks) -> Self {
        self.hooks = hooks;
        self
    }

    pub fn main_entries(&self) -> u32 {
        self.main
    }

    pub fn oflow_entries(&self) -> u32 {
        self.oflow.capacity()
    }

    pub fn capacity(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Entries in use.
    pub fn used(&self) -> u32 {
        self.used.load(Relaxed)
    }

    pub fn oflow_used(&self) -> u32 {
        self.oflow.used()
    }

    pub fn entry(&self, index: u32) -> Option<&FlowEntry> {
        self.entries.get(index as usize)
    }

    fn bucket_of(&self, key: &FlowKey) -> u32 {
        let buckets = self.main / BUCKET_ENTRIES as u32;
        ((u64::from(key.hash(self.seed)) * u64::from(buckets)) >> 32) as u32
    }

    fn lock_word(&self, bucket: u32) -> Option<&AtomicU32> {
        self.buckets.get(bucket as usize * 2)
    }

    fn chain_head(&self, bucket: u32) -> Option<&AtomicU32> {
        self.buckets.get(bucket as usize * 2 + 1)
    }

    /// The entry with `key`: its index, the entry and its verdict. No lock.
    pub fn lookup(&self, key: &FlowKey) -> Option<(u32, &FlowEntry, Verdict)> {
        let words = key.words();
        let bucket = self.bucket_of(key);
        let first = bucket * BUCKET_ENTRIES as u32;
        for index in first..first + BUCKET_ENTRIES as u32 {
            if let Some(hit) = self.probe(index, &words) {
                return Some(hit);
            }
        }
        let mut next = self.chain_head(bucket)?.load(Acquire);
        // A chain never holds more than the overflow area; the bound also ends a walk that
        // a concurrent unlink sent astray.
        for _ in 0..self.oflow.capacity() {
            if next == FLOW_INDEX_NONE {
                break;
            }
            if let Some(hit) = self.probe(next, &words) {
                return Some(hit);
            }
            next = self.entries.get(next as usize)?.next.load(Acquire);
        }
        None
    }

    /// Reads entry `index` consistently; Some when it is in use and holds `words`.
    fn probe(&self, index: u32, words: &[u32; KEY_WORDS]) -> Option<(u32, &FlowEntry, Verdict)> {
        let e = self.entries.get(index as usize)?;
        let (ctl, same, flags, rindex, slot) = e.consistent(READ_TRIES, |e| {
            let ctl = e.ctl.load(Relaxed);
            let same = ctl & CTL_USED != 0
                && e.key
                    .iter()
                    .zip(words.iter())
                    .all(|(a, b)| a.load(Relaxed) == *b);
            (
                ctl,
                same,
                e.flags.load(Relaxed),
                e.rindex.load(Relaxed),
                e.hold_slot.load(Relaxed),
            )
        })?;
        same.then(|| (index, e, Verdict::from_ctl(ctl, flags, rindex, slot)))
    }

    /// A consistent copy of entry `index` when it is in use.
    pub fn view(&self, index: u32) -> Option<FlowView> {
        let e = self.entries.get(index as usize)?;
        let (ctl, words, flags, rindex, vif, hold_slot) = e.consistent(VIEW_TRIES, |e| {
            let (ctl, words) = (e.ctl.load(Relaxed), e.key_words());
            (
                ctl,
                words,
                e.flags.load(Relaxed),
                e.rindex.load(Relaxed),
                e.vif.load(Relaxed),
                e.hold_slot.load(Relaxed),
            )
        })?;
        if ctl & CTL_USED == 0 {
            return None;
        }
        let tcp = e.tcp.load(Relaxed);
        let evict = if tcp & flow_tcp::DEAD != 0 {
            flow_flag::EVICT_CANDIDATE
        } else {
            0
        };
        Some(FlowView {
            index,
            key: FlowKey::from_words(&words),
            verdict: Verdict::from_ctl(ctl, flags | evict, rindex, hold_slot),
            tcp,
            packets: e.packets.load(Relaxed),
            bytes: e.bytes.load(Relaxed),
            last_used: e.last_used.load(Relaxed),
            vif,
            hold_slot,
        })
    }

    /// Key and reverse index of the entry in use at `index` (NAT reads its reverse's key).
    pub fn key_of(&self, index: u32) -> Option<(FlowKey, u32)> {
        let e = self.entries.get(index as usize)?;
        let (ctl, words, rindex) = e.consistent(READ_TRIES, |e| {
            (e.ctl.load(Relaxed), e.key_words(), e.rindex.load(Relaxed))
        })?;
        (ctl & CTL_USED != 0).then(|| (FlowKey::from_words(&words), rindex))
    }

    /// The first entry in use at or after `from`, for dumps.
    pub fn next_used(&self, from: u32) -> Option<FlowView> {
        (from..self.capacity()).find_map(|i| {
            let e = self.entries.get(i as usize)?;
            if e.ctl.load(Relaxed) & CTL_USED == 0 {
                return None;
            }
            self.view(i)
        })
    }

    fn lock(&self, bucket: u32) -> Option<BucketGuard<'_>> {
        let word = self.lock_word(bucket)?;
        (self.hooks.acquire)(); // before spinning, so a checker sees a deadlock coming
        while word.compare_exchange_weak(0, 1, Acquire, Relaxed).is_err() {
            while word.load(Relaxed) != 0 {
                spin_loop();
            }
        }
        Some(BucketGuard {
            word,
            release: self.hooks.release,
        })
    }

    /// Writes key and verdict of entry `e` (the caller holds its bucket's lock).
    fn write(&self, e: &FlowEntry, f: impl FnOnce(&FlowEntry)) {
        let s = e.seq.load(Relaxed);
        e.seq.store(s.wrapping_add(1), Relaxed);
        fence(Release);
        f(e);
        e.seq.store(s.wrapping_add(2), Release);
    }

    /// Adds an entry for `key` unless one exists. Fills a free slot of the key's bucket,
    /// else reuses a dead TCP entry there (not a Hold: its packets are the owner's), else
    /// takes an overflow entry.
    ///
    /// `on_new(index, gen)` runs under the bucket lock before the entry is published, so
    /// the owner can tie resources to it (a Hold's queue slot) before anyone sees it.
    pub fn insert(
        &self,
        key: &FlowKey,
        set: Setting,
        vif: u32,
        hold_slot: u32,
        now: u32,
        on_new: impl FnOnce(u32, u8),
    ) -> Result<Inserted, FlowError> {
        let words = key.words();
        let bucket = self.bucket_of(key);
        let _guard = self.lock(bucket).ok_or(FlowError::OutOfRange)?;
        if let Some((index, _, _)) = self.lookup_locked(bucket, &words) {
            return Ok(Inserted::Exists { index });
        }
        let first = bucket * BUCKET_ENTRIES as u32;
        let mut free = None;
        let mut dead = None;
        for index in first..first + BUCKET_ENTRIES as u32 {
            let Some(e) = self.entries.get(index as usize) else {
                continue;
            };
            let ctl = e.ctl.load(Relaxed);
            if ctl & CTL_USED == 0 {
                free = Some(index);
                break;
            }
            if dead.is_none()
                && ctl & 0xff != flow_action::HOLD
                && e.tcp.load(Relaxed) & flow_tcp::DEAD != 0
            {
                dead = Some(index);
            }
        }
        let (index, evicted, chained) = match (free, dead) {
            (Some(i), _) => (i, false, false),
            (None, Some(i)) => (i, true, false),
            (None, None) => match self.oflow.alloc() {
                Some(slot) => (self.main + slot, false, true),
                None => return Err(FlowError::Full),
            },
        };
        let e = self
            .entries
            .get(index as usize)
            .ok_or(FlowError::OutOfRange)?;
        let gen = ((e.ctl.load(Relaxed) >> CTL_GEN_SHIFT) as u8).wrapping_add(1);
        on_new(index, gen);
        self.write(e, |e| {
            for (a, w) in e.key.iter().zip(words.iter()) {
                a.store(*w, Relaxed);
            }
            e.flags.store(
                set.flags | rflow_flag(set.rindex) | flow_flag::ACTIVE | flow_flag::NEW_FLOW,
                Relaxed,
            );
            e.rindex.store(set.rindex, Relaxed);
            e.vif.store(vif, Relaxed);
            e.hold_slot.store(hold_slot, Relaxed);
            e.tcp.store(0, Relaxed);
            e.packets.store(0, Relaxed);
            e.bytes.store(0, Relaxed);
            e.last_used.store(now, Relaxed);
            e.ctl
                .store(ctl_word(set.action, gen, set.drop_reason), Relaxed);
        });
        if chained {
            if let Some(head) = self.chain_head(bucket) {
                e.next.store(head.load(Relaxed), Relaxed);
                // The entry is complete before it becomes reachable.
                head.store(index, Release);
            }
        }
        if !evicted {
            self.used.fetch_add(1, Relaxed);
        }
        Ok(Inserted::New {
            index,
            gen,
            evicted,
        })
    }

    fn lookup_locked(
        &self,
        bucket: u32,
        words: &[u32; KEY_WORDS],
    ) -> Option<(u32, &FlowEntry, Verdict)> {
        let first = bucket * BUCKET_ENTRIES as u32;
        let mut next = self.chain_head(bucket)?.load(Relaxed);
        let chain = core::iter::from_fn(|| {
            if next == FLOW_INDEX_NONE {
                return None;
            }
            let cur = next;
            next = self
                .entries
                .get(cur as usize)
                .map_or(FLOW_INDEX_NONE, |e| e.next.load(Relaxed));
            Some(cur)
        });
        (first..first + BUCKET_ENTRIES as u32)
            .chain(chain.take(self.oflow.capacity() as usize))
            .find_map(|i| self.probe(i, words))
    }

    /// Locks the bucket of the entry at `index` in use with generation `gen` (any when
    /// None). The key read before locking may be torn; the generation check after locking
    /// tells.
    fn lock_entry(
        &self,
        index: u32,
        gen: Option<u8>,
    ) -> Result<(BucketGuard<'_>, &FlowEntry, u32), FlowError> {
        let e = self
            .entries
            .get(index as usize)
            .ok_or(FlowError::OutOfRange)?;
        let view = self.view(index).ok_or(FlowError::NotFound)?;
        let bucket = if index < self.main {
            index / BUCKET_ENTRIES as u32
        } else {
            self.bucket_of(&view.key)
        };
        let guard = self.lock(bucket).ok_or(FlowError::OutOfRange)?;
        let ctl = e.ctl.load(Relaxed);
        if ctl & CTL_USED == 0 {
            return Err(FlowError::NotFound);
        }
        let current = (ctl >> CTL_GEN_SHIFT) as u8;
        if current != view.verdict.gen || gen.is_some_and(|g| g != current) {
            return Err(FlowError::Stale { current });
        }
        Ok((guard, e, bucket))
    }

    /// Sets the verdict of the entry at `index` (generation `gen`); returns the previous
    /// verdict. Clears the entry's hold slot (the caller releases its packets).
    pub fn update(&self, index: u32, gen: Option<u8>, set: Setting) -> Result<FlowView, FlowError> {
        let (_guard, e, _) = self.lock_entry(index, gen)?;
        let before = self.view(index).ok_or(FlowError::NotFound)?;
        let gen = before.verdict.gen;
        let kept = e.flags.load(Relaxed)
            & !(super::uapi::FLOW_FLAGS_SETTABLE | flow_flag::NEW_FLOW | flow_flag::RFLOW_VALID);
        self.write(e, |e| {
            e.flags
                .store(kept | set.flags | rflow_flag(set.rindex), Relaxed);
            e.rindex.store(set.rindex, Relaxed);
            e.hold_slot.store(FLOW_INDEX_NONE, Relaxed);
            e.ctl
                .store(ctl_word(set.action, gen, set.drop_reason), Relaxed);
        });
        Ok(before)
    }

    /// Removes the entry at `index` (generation `gen` when given); returns what it was.
    pub fn remove(&self, index: u32, gen: Option<u8>) -> Result<FlowView, FlowError> {
        let (_guard, e, bucket) = self.lock_entry(index, gen)?;
        let before = self.view(index).ok_or(FlowError::NotFound)?;
        if index >= self.main {
            self.unlink(bucket, index);
        }
        self.write(e, |e| {
            let gen = (e.ctl.load(Relaxed) >> CTL_GEN_SHIFT) as u8;
            // The generation stays, so the next user of the slot gets a new one.
            e.ctl
                .store(ctl_word(flow_action::DROP, gen, 0) & !CTL_USED, Relaxed);
            e.hold_slot.store(FLOW_INDEX_NONE, Relaxed);
            e.rindex.store(FLOW_INDEX_NONE, Relaxed);
        });
        if index >= self.main {
            self.oflow.free(index - self.main);
        }
        self.used.fetch_sub(1, Relaxed);
        Ok(before)
    }

    /// Unlinks overflow entry `index` from `bucket`'s chain (lock held).
    fn unlink(&self, bucket: u32, index: u32) {
        let Some(head) = self.chain_head(bucket) else {
            return;
        };
        let after = self
            .entries
            .get(index as usize)
            .map_or(FLOW_INDEX_NONE, |e| e.next.load(Relaxed));
        let mut link = head;
        for _ in 0..self.oflow.capacity() {
            let cur = link.load(Relaxed);
            if cur == FLOW_INDEX_NONE {
                return;
            }
            if cur == index {
                link.store(after, Release);
                return;
            }
            match self.entries.get(cur as usize) {
                Some(e) => link = &e.next,
                None => return,
            }
        }
    }
}

fn rflow_flag(rindex: u32) -> u32 {
    if rindex == FLOW_INDEX_NONE {
        0
    } else {
        flow_flag::RFLOW_VALID
    }
}

fn ctl_word(action: u32, gen: u8, reason: u32) -> u32 {
    CTL_USED
        | ((reason & 0x7f) << CTL_REASON_SHIFT)
        | (u32::from(gen) << CTL_GEN_SHIFT)
        | (action & 0xff)
}

struct BucketGuard<'a> {
    word: &'a AtomicU32,
    release: fn(),
}

impl Drop for BucketGuard<'_> {
    fn drop(&mut self) {
        (self.release)();
        self.word.store(0, Release);
    }
}
