// SPDX-License-Identifier: GPL-2.0
//! The writer's state (see "Concurrency (RCU) and the reclamation protocol" in the
//! [module documentation](super)): free and pending lists of route entries and buckets,
//! grace periods, and the route counters.

use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::Relaxed;

use super::trie::MAX_LEVELS;
use super::{Family, RouteError, RouteSlot, RouteTable};

/// Free and pending lists of one kind of storage.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pool {
    /// Items in the storage.
    pub(super) max: u32,
    /// Items below this were handed out at some time; above, never used.
    pub(super) fresh: u32,
    /// Free list head (index + 1), its length.
    pub(super) free: u32,
    pub(super) free_n: u32,
    /// Pending list head and tail (index + 1), its length.
    pub(super) pend: u32,
    pub(super) pend_tail: u32,
    pub(super) pend_n: u32,
    /// Items in use.
    pub(super) used: u32,
}

impl Pool {
    fn new(max: u32) -> Pool {
        Pool {
            max,
            ..Pool::default()
        }
    }

    fn available(&self) -> u32 {
        self.max
            .saturating_sub(self.fresh)
            .saturating_add(self.free_n)
            .saturating_add(self.pend_n)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Route,
    Bucket,
}

/// Writer-only state: allocation pools and counters. Obtained from [`RouteTable::new`]
/// and passed as `&mut` to every modifying operation of that same table; the owner keeps
/// it behind its writer lock. Not `Clone`: there is exactly one per table.
#[derive(Debug)]
pub struct Writer {
    pub(super) routes: Pool,
    pub(super) buckets: Pool,
    pub(super) v4: u32,
    pub(super) v6: u32,
    pub(super) graces: u32,
    /// Operations refused because they met an impossible state.
    pub(super) corrupt: u32,
    /// Installed routes per prefix length (all VRFs), to skip lengths when probing.
    lens4: [u32; 33],
    lens6: [u32; 129],
}

impl Writer {
    /// The state of a new table of `routes` entries and `buckets` buckets.
    pub(super) fn new(routes: u32, buckets: u32) -> Writer {
        Writer {
            routes: Pool::new(routes),
            buckets: Pool::new(buckets),
            v4: 0,
            v6: 0,
            graces: 0,
            corrupt: 0,
            lens4: [0; 33],
            lens6: [0; 129],
        }
    }

    fn len_count(&mut self, family: Family, len: u8) -> Option<&mut u32> {
        match family {
            Family::Inet => self.lens4.get_mut(usize::from(len)),
            Family::Inet6 => self.lens6.get_mut(usize::from(len)),
        }
    }

    /// Whether some route of `family` has length `len`.
    pub(super) fn len_used(&self, family: Family, len: u8) -> bool {
        match family {
            Family::Inet => self.lens4.get(usize::from(len)),
            Family::Inet6 => self.lens6.get(usize::from(len)),
        }
        .is_some_and(|n| *n != 0)
    }

    fn pool(&mut self, kind: Kind) -> &mut Pool {
        match kind {
            Kind::Route => &mut self.routes,
            Kind::Bucket => &mut self.buckets,
        }
    }

    /// Counts a route of `family` and length `len` in (`add`) or out.
    pub(super) fn count(&mut self, family: Family, len: u8, add: bool) {
        let total = match family {
            Family::Inet => &mut self.v4,
            Family::Inet6 => &mut self.v6,
        };
        *total = if add {
            total.saturating_add(1)
        } else {
            total.saturating_sub(1)
        };
        if let Some(n) = self.len_count(family, len) {
            *n = if add {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            };
        }
    }

    /// Forgets every route (after `clear`).
    pub(super) fn count_none(&mut self) {
        self.v4 = 0;
        self.v6 = 0;
        self.lens4 = [0; 33];
        self.lens6 = [0; 129];
    }

    /// Counts an operation refused because it met an impossible state, and returns its
    /// error.
    pub(super) fn corrupt(&mut self) -> RouteError {
        self.corrupt = self.corrupt.wrapping_add(1);
        RouteError::BadStorage
    }
}

/// The storage `add` reserved: a route entry and the buckets of a new chain.
pub(super) struct Reserved<'a> {
    route: u32,
    /// The route entry `route`.
    pub(super) entry: &'a RouteSlot,
    chain: [u32; MAX_LEVELS],
    len: usize,
}

impl Reserved<'_> {
    /// The trie leaf of the entry (index + 1).
    pub(super) fn leaf(&self) -> u32 {
        self.route.wrapping_add(1)
    }

    /// The new buckets, top level first.
    pub(super) fn chain(&self) -> Option<&[u32]> {
        self.chain.get(..self.len)
    }
}

impl<W, S> RouteTable<W, S>
where
    W: Deref<Target = [AtomicU32]>,
    S: Deref<Target = [RouteSlot]>,
{
    /// Takes a route entry and `buckets` buckets, all or nothing: the counts are checked
    /// before anything is taken (may call `grace`, see the module documentation).
    pub(super) fn reserve(
        &self,
        w: &mut Writer,
        buckets: usize,
        grace: &mut dyn FnMut(),
    ) -> Result<Reserved<'_>, RouteError> {
        if w.routes.available() < 1 {
            return Err(RouteError::NoRouteSpace);
        }
        if (w.buckets.available() as usize) < buckets {
            return Err(RouteError::NoNodeSpace);
        }
        let route = self
            .alloc(w, Kind::Route, grace)
            .ok_or(RouteError::NoRouteSpace)?;
        let Some(entry) = self.routes.get(route as usize) else {
            self.unalloc(w, Kind::Route, route);
            return Err(w.corrupt());
        };
        let mut new = Reserved {
            route,
            entry,
            chain: [0; MAX_LEVELS],
            len: 0,
        };
        for c in new.chain.iter_mut().take(buckets) {
            let Some(b) = self.alloc(w, Kind::Bucket, grace) else {
                break;
            };
            *c = b;
            new.len = new.len.saturating_add(1);
        }
        if new.len < buckets {
            // Cannot happen after the count above (nor can `buckets` exceed the levels of
            // a trie); undo anyway.
            self.release(w, &new);
            return Err(RouteError::NoNodeSpace);
        }
        Ok(new)
    }

    /// Gives back a reservation that was never published.
    pub(super) fn release(&self, w: &mut Writer, new: &Reserved<'_>) {
        for b in new.chain.iter().take(new.len) {
            self.unalloc(w, Kind::Bucket, *b);
        }
        self.unalloc(w, Kind::Route, new.route);
    }

    /// The pool link of item `i`: a route entry's `link`, or a word in the tail of `nodes`.
    fn link(&self, kind: Kind, i: u32) -> Option<&AtomicU32> {
        match kind {
            Kind::Route => self.routes.get(i as usize).map(|e| &e.link),
            Kind::Bucket => {
                if i >= self.buckets {
                    return None;
                }
                self.nodes.get(self.link_base.checked_add(i as usize)?)
            }
        }
    }

    fn alloc(&self, w: &mut Writer, kind: Kind, grace: &mut dyn FnMut()) -> Option<u32> {
        for _ in 0..2 {
            let p = w.pool(kind);
            if let Some(i) = p.free.checked_sub(1) {
                let next = self.link(kind, i)?.load(Relaxed);
                p.free = next;
                p.free_n = p.free_n.saturating_sub(1);
                p.used = p.used.saturating_add(1);
                return Some(i);
            }
            if p.fresh < p.max {
                let i = p.fresh;
                p.fresh = i.saturating_add(1);
                p.used = p.used.saturating_add(1);
                return Some(i);
            }
            if p.pend == 0 {
                return None;
            }
            self.run_grace(w, grace);
        }
        None
    }

    /// Gives back an item that was allocated but never published.
    fn unalloc(&self, w: &mut Writer, kind: Kind, i: u32) {
        let p = w.pool(kind);
        if let Some(l) = self.link(kind, i) {
            l.store(p.free, Relaxed);
            p.free = i.wrapping_add(1);
            p.free_n = p.free_n.saturating_add(1);
            p.used = p.used.saturating_sub(1);
        }
    }

    /// Puts an unlinked item on the pending list (contents untouched: readers may be
    /// inside it until the next grace period).
    pub(super) fn retire(&self, w: &mut Writer, kind: Kind, i: u32) {
        let p = w.pool(kind);
        if let Some(l) = self.link(kind, i) {
            l.store(p.pend, Relaxed);
            if p.pend == 0 {
                p.pend_tail = i.wrapping_add(1);
            }
            p.pend = i.wrapping_add(1);
            p.pend_n = p.pend_n.saturating_add(1);
            p.used = p.used.saturating_sub(1);
        }
    }

    /// Waits for readers (`grace`), then moves everything pending to the free lists.
    pub(super) fn run_grace(&self, w: &mut Writer, grace: &mut dyn FnMut()) {
        grace();
        w.graces = w.graces.wrapping_add(1);
        for kind in [Kind::Route, Kind::Bucket] {
            let p = w.pool(kind);
            if let Some(tail) = p.pend_tail.checked_sub(1) {
                if let Some(l) = self.link(kind, tail) {
                    l.store(p.free, Relaxed);
                    p.free = p.pend;
                    p.free_n = p.free_n.saturating_add(p.pend_n);
                }
                p.pend = 0;
                p.pend_tail = 0;
                p.pend_n = 0;
            }
        }
    }
}
