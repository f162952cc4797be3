//! Recent writes held in memory, in key order, with a version per commit.
//!
//! Applying each group commit to the copy-on-write B-tree cost more than
//! half of the writer's time: each of the keys a create writes lands on its
//! own leaf, which the tree copies, checksums and frees at every commit.
//! The memtable takes those writes instead (one skip-list insert per key,
//! while readers keep reading), and the B-tree receives them in one large,
//! sorted flush, in the background, where a leaf is copied once for many keys.
//!
//! Every entry carries the sequence number of the commit that wrote it, so a
//! reader sees exactly the commits up to the one its snapshot was taken at,
//! while the writer may already be adding later ones.

use std::cmp::Reverse;
use std::iter::Peekable;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_skiplist::{map::Entry, SkipMap};

use crate::backend::Write;

/// A key as of one commit. Ordered by key, then newest commit first, so the
/// first entry at or after `(key, at)` is the newest version visible at `at`.
///
/// The key's first bytes are also kept inline as `head`, beside the skip
/// list's links: a search compares `head` first and follows the key's own
/// allocation only on a tie. Comparing through the allocation was a cache
/// miss at every step of every search, and half of the writer's time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Versioned {
    head: Head,
    key: Box<[u8]>,
    seq: Reverse<u64>,
}

impl Versioned {
    fn at(key: &[u8], seq: u64) -> Self {
        Self {
            head: Head::of(key),
            key: key.into(),
            seq: Reverse(seq),
        }
    }
}

/// A key's first 24 bytes, zero-padded, as three big-endian words. Heads
/// order as their keys do wherever they differ: at the first byte where two
/// heads differ, either both keys have that byte, or the shorter key ends
/// there (padding, 0) while the other goes on with a byte above 0, so the
/// shorter key, which is a prefix of the other, sorts first in both orders.
/// Where heads are equal the keys decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Head([u64; 3]);

impl Head {
    fn of(key: &[u8]) -> Self {
        let mut padded = [0u8; 24];
        let len = key.len().min(24);
        padded[..len].copy_from_slice(&key[..len]);
        let word = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&padded[i * 8..i * 8 + 8]);
            u64::from_be_bytes(bytes)
        };
        Self([word(0), word(1), word(2)])
    }
}

/// A key and its value, `None` where the key was deleted.
pub(crate) type Change = (Vec<u8>, Option<Vec<u8>>);

/// Bytes an entry costs beyond its key and value (skip-list node, boxes).
const ENTRY_OVERHEAD: usize = 104;

#[derive(Default)]
pub(crate) struct Memtable {
    entries: SkipMap<Versioned, Option<Box<[u8]>>>,
    bytes: AtomicUsize,
}

impl Memtable {
    /// Adds the writes of commit `seq`. Commits come in increasing order.
    pub(crate) fn insert(&self, seq: u64, writes: &[Write]) {
        let mut bytes = 0;
        for (key, value) in writes {
            bytes += key.len() + value.as_ref().map_or(0, Vec::len) + ENTRY_OVERHEAD;
            self.entries
                .insert(Versioned::at(key, seq), value.as_deref().map(Box::from));
        }
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Roughly the memory the entries take.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key's newest version visible at `at`: `None` if the table has
    /// none, `Some(None)` if that version is a delete.
    pub(crate) fn get(&self, key: &[u8], at: u64) -> Option<Option<Vec<u8>>> {
        let entry = self
            .entries
            .lower_bound(std::ops::Bound::Included(&Versioned::at(key, at)))?;
        (*entry.key().key == *key).then(|| entry.value().as_deref().map(<[u8]>::to_vec))
    }

    /// The newest visible version of each key in `start..end`, in key order
    /// (descending if asked), deletes included.
    pub(crate) fn range(
        &self,
        start: &[u8],
        end: &[u8],
        at: u64,
        descending: bool,
    ) -> impl Iterator<Item = Change> + '_ {
        // `u64::MAX` sorts first among a key's versions.
        let entries = self
            .entries
            .range(Versioned::at(start, u64::MAX)..Versioned::at(end, u64::MAX));
        let entries: Box<dyn Iterator<Item = _>> = if descending {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };
        NewestVisible {
            entries: entries.peekable(),
            at,
            descending,
        }
        .map(|entry| {
            let value = entry.value().as_deref().map(<[u8]>::to_vec);
            (entry.key().key.to_vec(), value)
        })
    }

    /// Hands `write` the newest version of every key from `from` on (all
    /// keys when `None`), in key order: what a flush writes. Keys and values
    /// are lent from the table rather than copied, as a flush passes each one
    /// on to the B-tree once. `write` returns `false` to stop early.
    pub(crate) fn for_each_newest<E>(
        &self,
        from: Option<&[u8]>,
        mut write: impl FnMut(&[u8], Option<&[u8]>) -> Result<bool, E>,
    ) -> Result<(), E> {
        let entries: Entries<'_> = match from {
            // A key's newest version sorts first among its versions.
            Some(key) => Box::new(self.entries.range(Versioned::at(key, u64::MAX)..)),
            None => Box::new(self.entries.iter()),
        };
        let newest = NewestVisible {
            entries: entries.peekable(),
            at: u64::MAX,
            descending: false,
        };
        for entry in newest {
            if !write(&entry.key().key, entry.value().as_deref())? {
                break;
            }
        }
        Ok(())
    }
}

type Entries<'a> = Box<dyn Iterator<Item = TableEntry<'a>> + 'a>;

/// Folds a key's versions into the newest one visible at `at`, yielded as
/// the table's own entry (a reader copies it out, a flush lends it on).
/// Ascending, a key's versions come newest first; descending, oldest first.
struct NewestVisible<'a> {
    entries: Peekable<Entries<'a>>,
    at: u64,
    descending: bool,
}

type TableEntry<'a> = Entry<'a, Versioned, Option<Box<[u8]>>>;

impl<'a> Iterator for NewestVisible<'a> {
    type Item = TableEntry<'a>;

    fn next(&mut self) -> Option<TableEntry<'a>> {
        loop {
            let first = self.entries.next()?;
            let mut chosen = None;
            let mut consider = |entry: &TableEntry<'a>| {
                let visible = entry.key().seq.0 <= self.at;
                if visible && (self.descending || chosen.is_none()) {
                    chosen = Some(entry.clone());
                }
            };
            consider(&first);
            while let Some(entry) = self.entries.next_if(|e| e.key().key == first.key().key) {
                consider(&entry);
            }
            if chosen.is_some() {
                return chosen;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> Write {
        (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec()))
    }

    fn del(k: &str) -> Write {
        (k.as_bytes().to_vec(), None)
    }

    fn table() -> Memtable {
        let table = Memtable::default();
        table.insert(1, &[put("a", "1"), put("b", "1"), put("c", "1")]);
        table.insert(2, &[put("b", "2"), del("c")]);
        table.insert(3, &[put("a", "3"), put("d", "3")]);
        table
    }

    fn keys_values(changes: impl Iterator<Item = Change>) -> Vec<(String, Option<String>)> {
        changes
            .map(|(k, v)| {
                let text = |b: Vec<u8>| String::from_utf8(b).expect("utf8");
                (text(k), v.map(text))
            })
            .collect()
    }

    #[test]
    fn entries_order_as_their_keys_do() {
        let mut keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![0, 1],
            vec![1],
            vec![255; 30],
        ];
        // Keys that differ only past the inline head, or in its last byte,
        // or end inside it with zeros after.
        for tail in [
            vec![],
            vec![0],
            vec![0, 0],
            vec![1],
            vec![0, 255],
            vec![255],
        ] {
            for len in [7, 8, 23, 24, 25] {
                let mut key = vec![0x50; len];
                key.extend(&tail);
                keys.push(key);
            }
        }
        for a in &keys {
            for b in &keys {
                let (va, vb) = (Versioned::at(a, 1), Versioned::at(b, 1));
                assert_eq!(va.cmp(&vb), a.cmp(b), "{a:?} against {b:?}");
            }
        }
    }

    #[test]
    fn a_reader_sees_the_commits_up_to_its_own() {
        let table = table();
        assert_eq!(table.get(b"a", 1), Some(Some(b"1".to_vec())));
        assert_eq!(table.get(b"a", 2), Some(Some(b"1".to_vec())));
        assert_eq!(table.get(b"a", 3), Some(Some(b"3".to_vec())));
        assert_eq!(table.get(b"c", 2), Some(None), "deleted at 2");
        assert_eq!(table.get(b"d", 2), None, "not yet written at 2");
        assert_eq!(table.get(b"e", 9), None);
        assert_eq!(table.get(b"", 9), None);
    }

    #[test]
    fn ranges_fold_versions_both_ways() {
        let table = table();
        let s = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
        assert_eq!(
            keys_values(table.range(b"a", b"d", 2, false)),
            vec![s("a", Some("1")), s("b", Some("2")), s("c", None)]
        );
        assert_eq!(
            keys_values(table.range(b"a", b"e", 3, true)),
            vec![
                s("d", Some("3")),
                s("c", None),
                s("b", Some("2")),
                s("a", Some("3"))
            ]
        );
        assert_eq!(
            keys_values(table.range(b"b", b"c", 1, true)),
            vec![s("b", Some("1"))]
        );
        assert_eq!(keys_values(table.range(b"d", b"e", 2, false)), vec![]);
        let mut newest = Vec::new();
        table
            .for_each_newest(None, |k, v| {
                newest.push((k.to_vec(), v.map(<[u8]>::to_vec)));
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert_eq!(
            keys_values(newest.into_iter()),
            vec![
                s("a", Some("3")),
                s("b", Some("2")),
                s("c", None),
                s("d", Some("3"))
            ]
        );
    }
}
