//! Visited marks for graph search that are never cleared: an epoch per node, bumped per search.

/// Marks nodes seen during one search. `reset` starts a new search in O(1) by moving to the next
/// epoch; the array is only zeroed when the 16-bit epoch wraps, once every 65,535 searches.
#[derive(Debug, Default)]
pub(crate) struct VisitedList {
    marks: Vec<u16>,
    epoch: u16,
}

impl VisitedList {
    /// Prepares for a new search over `n` nodes.
    pub(crate) fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; returns true if it had not been seen in this search.
    #[inline(always)]
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let mark = &mut self.marks[id as usize];
        let fresh = *mark != self.epoch;
        *mark = self.epoch;
        fresh
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.marks.capacity() * 2
    }
}

/// A small pool so concurrent searches on one index each get their own list.
#[derive(Debug, Default)]
pub(crate) struct VisitedPool {
    free: std::sync::Mutex<Vec<VisitedList>>,
}

impl VisitedPool {
    pub(crate) fn take(&self, n: usize) -> VisitedList {
        let mut list = self
            .free
            .lock()
            .map(|mut free| free.pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        list.reset(n);
        list
    }

    pub(crate) fn give_back(&self, list: VisitedList) {
        if let Ok(mut free) = self.free.lock() {
            free.push(list);
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.free
            .lock()
            .map(|f| f.iter().map(VisitedList::heap_bytes).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_within_a_search_and_clear_between_searches() {
        let mut v = VisitedList::default();
        v.reset(4);
        assert!(v.insert(2));
        assert!(!v.insert(2));
        v.reset(4);
        assert!(v.insert(2));
    }

    #[test]
    fn epoch_wraparound_clears_stale_marks() {
        let mut v = VisitedList::default();
        v.reset(2);
        v.insert(1);
        for _ in 0..u16::MAX {
            v.reset(2);
        }
        assert!(
            v.insert(1),
            "a mark from 65,535 searches ago must not look current"
        );
    }
}
