// SPDX-License-Identifier: GPL-2.0
//! The multibit tries (see "Structure" in the [module documentation](super)): buckets of
//! 256 slots, the lock-free walk of the readers, and the writer's walks: finding where a
//! route goes, leaf pushing (`rewrite`), building and collapsing buckets.

use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::exact::Key;
use super::pool::{Kind, Reserved, Writer};
use super::{Family, RouteError, RouteSlot, RouteTable};

/// Slots per bucket (8-bit stride).
pub(super) const SLOTS: usize = 256;
/// Slot flag: the rest is a child bucket index.
pub(super) const BUCKET: u32 = 0x8000_0000;
/// Trie levels of IPv6 (16 bytes); IPv4 uses 4.
pub(super) const MAX_LEVELS: usize = 16;
/// Largest number of buckets (index must fit in 31 bits).
pub(super) const MAX_BUCKETS: usize = 0x7fff_ffff;

/// Length of the `nodes` storage for `buckets` usable buckets: 256 words per bucket plus
/// the writer's pool links (one word per bucket, in whole buckets at the tail).
pub const fn nodes_len(buckets: usize) -> usize {
    buckets
        .saturating_add(buckets.div_ceil(SLOTS))
        .saturating_mul(SLOTS)
}

/// The trie level holding a route of length `len` (0..=15).
fn level_of(len: u8) -> usize {
    usize::from(len.saturating_sub(1) / 8)
}

/// The slots `start..end` a route of length `len` covers in its level's bucket.
fn span(len: u8, level: usize, byte: usize) -> (usize, usize) {
    let shift = level
        .saturating_add(1)
        .saturating_mul(8)
        .saturating_sub(usize::from(len))
        .min(8);
    let count = 1usize << shift;
    let start = byte & !(count.saturating_sub(1));
    (start, start.saturating_add(count).min(SLOTS))
}

/// Where a writer's walk stands in a trie.
enum Walk<'a> {
    /// Buckets exist down to the route's level; `path[l]` is the bucket of level `l`.
    Found([u32; MAX_LEVELS]),
    /// The buckets of levels `level..=depth` are missing: the new chain hangs from
    /// `attach` (a root word when `at_root`, else a slot holding the leaf `fill`).
    Missing {
        attach: &'a AtomicU32,
        at_root: bool,
        fill: u32,
        level: usize,
    },
}

/// Where `add` puts a route's leaf.
pub(super) enum Target<'a> {
    /// The bucket of the route's level exists.
    Bucket(u32),
    /// The `need` (1..=16) buckets of levels `level..level + need` are missing: a chain of
    /// new buckets hangs from `attach` (a root word when `at_root`, else a slot holding the
    /// leaf `fill`).
    Chain {
        attach: &'a AtomicU32,
        at_root: bool,
        fill: u32,
        level: usize,
        need: usize,
    },
}

impl Target<'_> {
    /// How many new buckets the route needs.
    pub(super) fn buckets_needed(&self) -> usize {
        match self {
            Target::Bucket(_) => 0,
            Target::Chain { need, .. } => *need,
        }
    }
}

/// Which leaves a rewrite replaces.
#[derive(Clone, Copy)]
enum Pred {
    /// Empty slots and routes of this length or shorter (add).
    AtMost(u8),
    /// Exactly this leaf (delete).
    Is(u32),
}

/// A frame of the iterative walks.
#[derive(Clone, Copy, Default)]
struct Frame {
    bucket: u32,
    pos: u16,
    end: u16,
}

impl<W, S> RouteTable<W, S>
where
    W: Deref<Target = [AtomicU32]>,
    S: Deref<Target = [RouteSlot]>,
{
    // ---------------------------------------------------------------- readers

    /// The root bucket of (`vrf`, `family`), if the trie exists.
    #[inline(always)]
    pub(super) fn root(&self, vrf: u32, family: Family) -> Option<u32> {
        let i = (vrf as usize).checked_mul(2)?.checked_add(family.index())?;
        let r = self.roots.get(i)?.load(Acquire);
        r.checked_sub(1)
    }

    /// The leaf for `addr` below root bucket `root` (0 = none).
    #[inline(always)]
    pub(super) fn walk<const N: usize>(&self, root: u32, addr: &[u8; N]) -> u32 {
        let mut b = root;
        for byte in addr {
            let i = (b as usize)
                .wrapping_mul(SLOTS)
                .wrapping_add(usize::from(*byte));
            let v = match self.nodes.get(i) {
                Some(s) => s.load(Acquire),
                None => return 0,
            };
            if v & BUCKET == 0 {
                return v;
            }
            b = v & !BUCKET;
        }
        0
    }

    // ---------------------------------------------------------------- writer

    /// The root word of (`vrf`, `family`).
    pub(super) fn root_word(&self, vrf: u32, family: Family) -> Result<&AtomicU32, RouteError> {
        (vrf as usize)
            .checked_mul(2)
            .and_then(|i| i.checked_add(family.index()))
            .and_then(|i| self.roots.get(i))
            .ok_or(RouteError::VrfOutOfRange)
    }

    /// Slot `i` of bucket `b` (writer side: `b` is checked against the bucket count).
    fn wslot(&self, b: u32, i: usize) -> Option<&AtomicU32> {
        if b >= self.buckets || i >= SLOTS {
            return None;
        }
        self.nodes
            .get((b as usize).checked_mul(SLOTS)?.checked_add(i)?)
    }

    /// The slots of bucket `b`.
    pub(super) fn bucket(&self, b: u32) -> Option<&[AtomicU32]> {
        if b >= self.buckets {
            return None;
        }
        let start = (b as usize).checked_mul(SLOTS)?;
        self.nodes.get(start..start.checked_add(SLOTS)?)
    }

    /// The leaf all slots of bucket `b` hold, if they are all the same leaf.
    fn uniform_leaf(&self, b: u32) -> Option<u32> {
        let slots = self.bucket(b)?;
        let first = slots.first()?.load(Relaxed);
        if first & BUCKET != 0 {
            return None;
        }
        slots
            .iter()
            .all(|s| s.load(Relaxed) == first)
            .then_some(first)
    }

    /// Where the route `k` goes in the trie of `root_word`. `None`: the trie is corrupt
    /// (a link out of range, a walk deeper than a trie can be).
    pub(super) fn target<'a>(&'a self, root_word: &'a AtomicU32, k: &Key) -> Option<Target<'a>> {
        let depth = level_of(k.len);
        match self.walk_path(root_word, k, depth)? {
            Walk::Found(path) => path.get(depth).copied().map(Target::Bucket),
            Walk::Missing {
                attach,
                at_root,
                fill,
                level,
            } => {
                let need = depth
                    .checked_add(1)?
                    .checked_sub(level)
                    .filter(|n| (1..=MAX_LEVELS).contains(n))?;
                Some(Target::Chain {
                    attach,
                    at_root,
                    fill,
                    level,
                    need,
                })
            }
        }
    }

    /// Points the slots of `k` at the reserved entry: in the route's existing bucket, or
    /// in a chain of the reserved buckets, built while unreachable and published with one
    /// store. `None`: the reservation does not fit `target` (impossible after `reserve`);
    /// nothing was changed.
    pub(super) fn insert_leaf(
        &self,
        k: &Key,
        target: &Target<'_>,
        new: &Reserved<'_>,
    ) -> Option<()> {
        let depth = level_of(k.len);
        let (start, end) = span(k.len, depth, k.byte(depth)?);
        let leaf = new.leaf();
        match *target {
            Target::Bucket(b) => self.rewrite(b, start, end, Pred::AtMost(k.len), leaf),
            Target::Chain {
                attach,
                at_root,
                fill,
                level,
                need,
            } => {
                let chain = new.chain().filter(|c| c.len() == need)?;
                let (&first, &last) = (chain.first()?, chain.last()?);
                self.build_chain(chain, k, level, fill)?;
                self.rewrite(last, start, end, Pred::AtMost(k.len), leaf);
                attach.store(
                    if at_root {
                        first.wrapping_add(1)
                    } else {
                        BUCKET | first
                    },
                    Release,
                );
            }
        }
        Some(())
    }

    /// Fills the new buckets `chain` (levels `level..` on `k`'s path) with the leaf `fill`
    /// and links each to the next. Nothing points to them yet, so `None` (a bucket out of
    /// range or a level beyond the deepest: impossible) leaves the trie as it was.
    fn build_chain(&self, chain: &[u32], k: &Key, level: usize, fill: u32) -> Option<()> {
        for (j, &b) in chain.iter().enumerate() {
            for s in self.bucket(b)? {
                s.store(fill, Relaxed);
            }
            if let Some(&child) = chain.get(j.saturating_add(1)) {
                let byte = k.byte(level.checked_add(j)?)?;
                self.wslot(b, byte)?.store(BUCKET | child, Relaxed);
            }
        }
        Some(())
    }

    /// Points the slots of `k` that hold `leaf` at `fallback` (the parent route's leaf, or
    /// 0), then collapses the buckets left uniform. A trie without `k`'s path is left as it
    /// is. `None`: the walk went deeper than a trie can be (impossible); nothing was changed.
    pub(super) fn remove_leaf(
        &self,
        w: &mut Writer,
        root_word: &AtomicU32,
        k: &Key,
        leaf: u32,
        fallback: u32,
    ) -> Option<()> {
        let depth = level_of(k.len);
        let Some(Walk::Found(path)) = self.walk_path(root_word, k, depth) else {
            return Some(());
        };
        let path = path.get(..=depth)?;
        let &b = path.last()?;
        let (start, end) = span(k.len, depth, k.byte(depth)?);
        self.rewrite(b, start, end, Pred::Is(leaf), fallback);
        self.collapse(w, root_word, k, path);
        Some(())
    }

    /// Walks from the root word towards the bucket of level `depth` on `k`'s path. `None`:
    /// a root word or link to a bucket out of range, or `depth` beyond the deepest level.
    fn walk_path<'a>(
        &'a self,
        root_word: &'a AtomicU32,
        k: &Key,
        depth: usize,
    ) -> Option<Walk<'a>> {
        let mut path = [0u32; MAX_LEVELS];
        let Some(mut b) = root_word.load(Relaxed).checked_sub(1) else {
            return Some(Walk::Missing {
                attach: root_word,
                at_root: true,
                fill: 0,
                level: 0,
            });
        };
        let mut level = 0usize;
        loop {
            if b >= self.buckets {
                return None;
            }
            *path.get_mut(level)? = b;
            if level >= depth {
                return Some(Walk::Found(path));
            }
            let s = self.wslot(b, k.byte(level)?)?;
            let v = s.load(Relaxed);
            level = level.saturating_add(1);
            if v & BUCKET == 0 {
                return Some(Walk::Missing {
                    attach: s,
                    at_root: false,
                    fill: v,
                    level,
                });
            }
            b = v & !BUCKET;
        }
    }

    /// Replaces the leaves matching `pred` with `new` in slots `start..end` of bucket `b`
    /// and everywhere below them (leaf pushing). Iterative, at most 17 frames.
    fn rewrite(&self, b: u32, start: usize, end: usize, pred: Pred, new: u32) {
        let mut stack = [Frame::default(); MAX_LEVELS + 1];
        if let Some(f) = stack.first_mut() {
            *f = Frame {
                bucket: b,
                pos: start.min(SLOTS) as u16,
                end: end.min(SLOTS) as u16,
            };
        }
        let mut sp = 1usize;
        let mut cache = (0u32, 0u8);
        while let Some(top) = sp.checked_sub(1).and_then(|t| stack.get_mut(t)) {
            if top.pos >= top.end {
                sp -= 1;
                continue;
            }
            let (bk, pos) = (top.bucket, usize::from(top.pos));
            top.pos = top.pos.saturating_add(1);
            let Some(s) = self.wslot(bk, pos) else {
                continue;
            };
            let v = s.load(Relaxed);
            if v & BUCKET != 0 {
                if let Some(f) = stack.get_mut(sp) {
                    *f = Frame {
                        bucket: v & !BUCKET,
                        pos: 0,
                        end: SLOTS as u16,
                    };
                    sp += 1;
                }
                continue;
            }
            let hit = match pred {
                Pred::Is(x) => v == x,
                Pred::AtMost(len) => {
                    v == 0 || {
                        if cache.0 != v {
                            let l = self
                                .routes
                                .get(v.wrapping_sub(1) as usize)
                                .map_or(u8::MAX, |e| e.len());
                            cache = (v, l);
                        }
                        cache.1 <= len
                    }
                }
            };
            if hit {
                s.store(new, Release);
            }
        }
    }

    /// After a delete: folds the buckets on `k`'s path (`path`: the buckets of levels
    /// `0..=depth`) that became uniform into their parent slots, deepest first, and retires
    /// them; an empty root goes too.
    fn collapse(&self, w: &mut Writer, root_word: &AtomicU32, k: &Key, path: &[u32]) {
        for (up, pair) in path.windows(2).enumerate().rev() {
            let &[parent, b] = pair else {
                return;
            };
            let Some(v) = self.uniform_leaf(b) else {
                return;
            };
            let Some(s) = k.byte(up).and_then(|byte| self.wslot(parent, byte)) else {
                return;
            };
            s.store(v, Release);
            self.retire(w, Kind::Bucket, b);
        }
        if let Some(&root) = path.first() {
            if self.uniform_leaf(root) == Some(0) {
                root_word.store(0, Release);
                self.retire(w, Kind::Bucket, root);
            }
        }
    }

    /// Retires every bucket of an unlinked trie.
    pub(super) fn retire_tree(&self, w: &mut Writer, root: u32) {
        let mut stack = [Frame::default(); MAX_LEVELS + 1];
        if let Some(f) = stack.first_mut() {
            *f = Frame {
                bucket: root,
                pos: 0,
                end: SLOTS as u16,
            };
        }
        let mut sp = 1usize;
        while let Some(top) = sp.checked_sub(1).and_then(|t| stack.get_mut(t)) {
            if top.pos >= top.end {
                let b = top.bucket;
                sp -= 1;
                self.retire(w, Kind::Bucket, b);
                continue;
            }
            let (bk, pos) = (top.bucket, usize::from(top.pos));
            top.pos = top.pos.saturating_add(1);
            let v = self.wslot(bk, pos).map_or(0, |s| s.load(Relaxed));
            if v & BUCKET != 0 {
                if let Some(f) = stack.get_mut(sp) {
                    *f = Frame {
                        bucket: v & !BUCKET,
                        pos: 0,
                        end: SLOTS as u16,
                    };
                    sp += 1;
                }
            }
        }
    }
}
