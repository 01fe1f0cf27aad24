//! A fixed-capacity set of u32 ids as a bitset: filters, tombstones and allow-lists.

/// A set of ids in `0..capacity`, one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdSet {
    words: Vec<u64>,
    capacity: usize,
    count: usize,
}

impl IdSet {
    /// An empty set able to hold ids below `capacity`.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            words: vec![0; capacity.div_ceil(64)],
            capacity,
            count: 0,
        }
    }

    /// The set of every id below `capacity`.
    pub fn full(capacity: usize) -> Self {
        let mut set = Self::with_capacity(capacity);
        set.words.fill(u64::MAX);
        if let Some(last) = set
            .words
            .last_mut()
            .filter(|_| !capacity.is_multiple_of(64))
        {
            *last = (1u64 << (capacity % 64)) - 1;
        }
        set.count = capacity;
        set
    }

    /// Builds a set from ids; ids at or above `capacity` are ignored.
    pub fn from_ids(capacity: usize, ids: impl IntoIterator<Item = u32>) -> Self {
        let mut set = Self::with_capacity(capacity);
        for id in ids {
            set.insert(id);
        }
        set
    }

    /// Rebuilds a set from raw words (as stored in a snapshot); bits past `capacity` must be 0.
    pub(crate) fn from_words(words: Vec<u64>, capacity: usize) -> Option<Self> {
        if words.len() != capacity.div_ceil(64) {
            return None;
        }
        if !capacity.is_multiple_of(64) && words.last().is_some_and(|w| w >> (capacity % 64) != 0) {
            return None;
        }
        let count = words.iter().map(|w| w.count_ones() as usize).sum();
        Some(Self {
            words,
            capacity,
            count,
        })
    }

    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }

    /// Ids this set can hold (exclusive upper bound).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of ids in the set.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        let i = id as usize;
        i < self.capacity && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Adds `id`; returns whether it was newly added. Ids past capacity are ignored.
    pub fn insert(&mut self, id: u32) -> bool {
        let i = id as usize;
        if i >= self.capacity {
            return false;
        }
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        self.count += usize::from(fresh);
        fresh
    }

    /// Removes `id`; returns whether it was present.
    pub fn remove(&mut self, id: u32) -> bool {
        let i = id as usize;
        if i >= self.capacity {
            return false;
        }
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let present = self.words[word] & bit != 0;
        self.words[word] &= !bit;
        self.count -= usize::from(present);
        present
    }

    /// Grows the capacity (new ids start absent).
    /// Keeps only ids that are also in `other` (word by word).
    pub fn intersect_with(&mut self, other: &IdSet) {
        for (i, word) in self.words.iter_mut().enumerate() {
            *word &= other.words.get(i).copied().unwrap_or(0);
        }
        self.count = self.words.iter().map(|w| w.count_ones() as usize).sum();
    }

    pub fn grow(&mut self, capacity: usize) {
        if capacity > self.capacity {
            self.words.resize(capacity.div_ceil(64), 0);
            self.capacity = capacity;
        }
    }

    /// The ids in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let tz = bits.trailing_zeros();
                bits &= bits - 1;
                Some((w * 64) as u32 + tz)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_count_and_iterate() {
        let mut set = IdSet::with_capacity(130);
        assert!(set.insert(0));
        assert!(set.insert(129));
        assert!(!set.insert(129));
        assert!(!set.insert(130), "past capacity is ignored");
        assert_eq!(set.len(), 2);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 129]);
        assert!(set.remove(0));
        assert!(!set.remove(0));
        assert!(!set.contains(0) && set.contains(129) && !set.contains(5000));
        set.grow(200);
        assert!(set.insert(199));
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn full_sets_have_exactly_capacity_bits() {
        let set = IdSet::full(70);
        assert_eq!(set.len(), 70);
        assert_eq!(set.iter().count(), 70);
        assert!(IdSet::from_words(set.words().to_vec(), 70).is_some());
        assert!(
            IdSet::from_words(vec![u64::MAX, u64::MAX], 70).is_none(),
            "stray high bits"
        );
    }
}
