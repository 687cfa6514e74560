//! A value that a watch replaces whole and the flow loop reads as a snapshot: the
//! services (policy.rs) and the NetworkPolicies (netpol.rs). Its generation moves with
//! each replacement, so the flow loop knows when to look at its established flows again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub struct Published<T> {
    current: RwLock<Arc<T>>,
    generation: AtomicU64,
}

impl<T> Published<T> {
    pub fn new(value: T) -> Published<T> {
        Published {
            current: RwLock::new(Arc::new(value)),
            generation: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> Arc<T> {
        match self.current.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the value by what `next` makes of the current one, if it makes one.
    /// Returns whether it did.
    pub fn replace_with(&self, next: impl FnOnce(&T) -> Option<T>) -> bool {
        let mut cur = match self.current.write() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        match next(&cur) {
            Some(v) => {
                *cur = Arc::new(v);
                self.generation.fetch_add(1, Ordering::AcqRel);
                true
            }
            None => false,
        }
    }

    /// Replaces the value unless it is equal to the current one.
    pub fn replace_if_changed(&self, value: T) -> bool
    where
        T: PartialEq,
    {
        self.replace_with(|cur| (*cur != value).then_some(value))
    }
}
