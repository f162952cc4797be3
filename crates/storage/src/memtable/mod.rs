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

mod arena;
mod skiplist;

use std::iter::Peekable;

use self::skiplist::{Entry, SkipList, Target};
use crate::backend::Write;

/// A key and its value, `None` where the key was deleted.
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// Recent commits' writes, each key with a version per commit that wrote it.
#[derive(Default)]
pub struct Memtable {
    entries: SkipList,
}

impl Memtable {
    /// Adds the writes of commit `seq`. Commits come in increasing order.
    /// Where one commit writes a key more than once, its last write is the
    /// one every read sees.
    pub fn insert(&self, seq: u64, writes: &[Write]) {
        self.entries.insert_all(
            seq,
            writes
                .iter()
                .map(|(key, value)| (key.as_slice(), value.as_deref())),
        );
    }

    /// The memory the entries take.
    pub fn bytes(&self) -> usize {
        self.entries.bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }

    /// The key's newest version visible at `at`: `None` if the table has
    /// none, `Some(None)` if that version is a delete.
    pub fn get(&self, key: &[u8], at: u64) -> Option<Option<Vec<u8>>> {
        // Versions order newest first: the first at or after `(key, at)` is
        // the newest visible one, if it is of this key.
        let entry = self.entries.seek(&Target::new(key, at))?;
        (entry.key == key).then(|| entry.value.map(<[u8]>::to_vec))
    }

    /// The newest visible version of each key in `start..end`, in key order
    /// (descending if asked), deletes included.
    pub fn range(
        &self,
        start: &[u8],
        end: &[u8],
        at: u64,
        descending: bool,
    ) -> impl Iterator<Item = Change> + '_ {
        // `u64::MAX` sorts first among a key's versions.
        let (start, end) = (start.to_vec(), end.to_vec());
        let entries: Entries<'_> = if descending {
            let lowest = start.clone();
            Box::new(
                self.entries
                    .descending(&Target::new(&end, u64::MAX))
                    .take_while(move |e| e.key >= lowest.as_slice()),
            )
        } else {
            Box::new(
                self.entries
                    .ascending(&Target::new(&start, u64::MAX))
                    .take_while(move |e| e.key < end.as_slice()),
            )
        };
        NewestVisible {
            entries: entries.peekable(),
            at,
            descending,
        }
        .map(|entry| (entry.key.to_vec(), entry.value.map(<[u8]>::to_vec)))
    }

    /// Hands `write` the newest version of every key from `from` on (all
    /// keys when `None`), in key order: what a flush writes. Keys and values
    /// are lent from the table rather than copied, as a flush passes each one
    /// on to the B-tree once. `write` returns `false` to stop early.
    pub fn for_each_newest<E>(
        &self,
        from: Option<&[u8]>,
        mut write: impl FnMut(&[u8], Option<&[u8]>) -> Result<bool, E>,
    ) -> Result<(), E> {
        // A key's newest version sorts first among its versions.
        let entries = self
            .entries
            .ascending(&Target::new(from.unwrap_or_default(), u64::MAX));
        let newest = NewestVisible {
            entries: (Box::new(entries) as Entries<'_>).peekable(),
            at: u64::MAX,
            descending: false,
        };
        for entry in newest {
            if !write(entry.key, entry.value)? {
                break;
            }
        }
        Ok(())
    }
}

type Entries<'a> = Box<dyn Iterator<Item = Entry<'a>> + 'a>;

/// Folds a key's versions into the newest one visible at `at`, yielded as
/// the table's own entry (a reader copies it out, a flush lends it on).
/// Ascending, a key's versions come newest first; descending, oldest first.
struct NewestVisible<'a> {
    entries: Peekable<Entries<'a>>,
    at: u64,
    descending: bool,
}

impl<'a> Iterator for NewestVisible<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        loop {
            let first = self.entries.next()?;
            let mut chosen = None;
            let mut consider = |entry: Entry<'a>| {
                let visible = entry.seq <= self.at;
                if visible && (self.descending || chosen.is_none()) {
                    chosen = Some(entry);
                }
            };
            consider(first);
            while let Some(entry) = self.entries.next_if(|e| e.key == first.key) {
                consider(entry);
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
        let table = Memtable::default();
        for (seq, key) in keys.iter().enumerate() {
            table.insert(seq as u64 + 1, &[(key.clone(), Some(key.clone()))]);
        }
        keys.sort();
        keys.dedup();
        let mut listed = Vec::new();
        table
            .for_each_newest(None, |k, _| {
                listed.push(k.to_vec());
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert_eq!(listed, keys);
        let mut backwards: Vec<Vec<u8>> = table
            .range(&[], &[255; 31], u64::MAX, true)
            .map(|(k, _)| k)
            .collect();
        backwards.reverse();
        assert_eq!(backwards, keys);
    }

    #[test]
    fn a_commit_that_writes_a_key_twice_leaves_its_last_write() {
        let table = Memtable::default();
        table.insert(1, &[put("a", "1"), put("b", "1")]);
        table.insert(2, &[del("a"), put("a", "2"), put("b", "2"), del("b")]);
        let s = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
        let expected = vec![s("a", Some("2")), s("b", None)];
        assert_eq!(keys_values(table.range(b"a", b"c", 2, false)), expected);
        let mut backwards = keys_values(table.range(b"a", b"c", 2, true));
        backwards.reverse();
        assert_eq!(backwards, expected);
        assert_eq!(table.get(b"a", 2), Some(Some(b"2".to_vec())));
        assert_eq!(table.get(b"b", 2), Some(None));
        let mut newest = Vec::new();
        table
            .for_each_newest(None, |k, v| {
                newest.push((k.to_vec(), v.map(<[u8]>::to_vec)));
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert_eq!(keys_values(newest.into_iter()), expected);
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
