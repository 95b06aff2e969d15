//! The job ids of a graph: one string arena, one end offset per job and a
//! hash index of `u32`s — about 12 bytes per job plus the id text, where a
//! `HashMap<String, u32>` would cost over 50.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

#[derive(Debug, Default, Clone)]
pub(crate) struct IdTable {
    text: String,
    /// `text[ends[i-1]..ends[i]]` is id i (`ends[-1]` = 0).
    ends: Vec<u32>,
    index: HashTable<u32>,
    hasher: FixedState,
}

impl IdTable {
    pub(crate) fn with_capacity(jobs: usize) -> Self {
        Self {
            text: String::with_capacity(jobs * 8),
            ends: Vec::with_capacity(jobs),
            index: HashTable::with_capacity(jobs),
            hasher: FixedState::default(),
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    #[inline]
    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.index.find(hash, |&i| self.get(i) == id).copied()
    }

    /// Adds `id`, or fails if it is already present.
    pub(crate) fn insert(&mut self, id: &str) -> Result<super::JobIndex, ()> {
        let hash = self.hasher.hash_one(id);
        let Self {
            text,
            ends,
            index,
            hasher,
        } = self;
        let get = |i: u32| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            &text[start..ends[i] as usize]
        };
        if index.find(hash, |&i| get(i) == id).is_some() {
            return Err(());
        }
        let new = u32::try_from(ends.len()).map_err(|_| ())?;
        let rehash = |&i: &u32| {
            let i = i as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            hasher.hash_one(&text[start..ends[i] as usize])
        };
        index.insert_unique(hash, new, rehash);
        text.push_str(id);
        ends.push(u32::try_from(text.len()).map_err(|_| ())?);
        Ok(super::JobIndex(new))
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4 + self.index.allocation_size()
    }
}
