//! The memtable's ordered index: a skip list with one writer and any number
//! of readers that never wait.
//!
//! Each entry is one block in the table's arena: its links, a fixed header,
//! then its key, so a search that reaches an entry finds the link it follows
//! and the key it compares in one place rather than behind pointers of their
//! own; values sit in a second arena, out of the searches' way. Only the
//! writer links entries in, holding a lock readers never take; it fills an
//! entry completely before publishing it with a release store, and readers
//! follow links with acquire loads, so a reader sees either the list before
//! an insert or after it, and every entry it reaches whole. Entries are never
//! unlinked or freed before the whole table is dropped.
//!
//! Entries order by key, then newest commit first, as the memtable needs.

use std::cmp::Ordering as KeyOrder;
use std::mem::size_of;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::arena::Arena;

/// Enough levels for the tens of millions of entries a memtable never
/// reaches; each level holds about a quarter of the entries of the one below.
const MAX_HEIGHT: usize = 12;

/// A value length that marks a delete.
const DELETED: usize = usize::MAX;

/// An entry's fixed part. Its block in the arena holds its links just
/// before it, link 0 nearest, and its key just after it: a search that
/// reaches an entry finds the head it compares and the link it follows
/// next in the same few bytes.
#[repr(C)]
struct Node {
    /// The key's first 24 bytes, zero-padded, as big-endian words: most
    /// comparisons end here (see `head`).
    head: [u64; 3],
    seq: u64,
    key_len: usize,
    /// `DELETED` for a delete.
    value_len: usize,
    /// Where the value's bytes are: in the values' own arena, so that
    /// searches, which read only headers, links and keys, run through
    /// memory that holds nothing else.
    value: *const u8,
}

const LINK: usize = size_of::<AtomicPtr<Node>>();

impl Node {
    /// The entry's link at `level`.
    ///
    /// # Safety
    /// `node` is an entry of a live list and `level` is below its height
    /// (the list's head has `MAX_HEIGHT` links).
    unsafe fn link<'a>(node: NonNull<Node>, level: usize) -> &'a AtomicPtr<Node> {
        &*Self::link_slot(node, level)
    }

    /// Where the link at `level` is, to write it before the entry is linked in.
    ///
    /// # Safety
    /// As for `link`.
    unsafe fn link_slot(node: NonNull<Node>, level: usize) -> *mut AtomicPtr<Node> {
        node.as_ptr().cast::<AtomicPtr<Node>>().sub(level + 1)
    }

    /// # Safety
    /// `node` is a published entry of a list that outlives `'a`.
    unsafe fn key<'a>(node: NonNull<Node>) -> &'a [u8] {
        std::slice::from_raw_parts(node.as_ptr().add(1).cast::<u8>(), node.as_ref().key_len)
    }

    /// # Safety
    /// As for `key`.
    unsafe fn value<'a>(node: NonNull<Node>) -> Option<&'a [u8]> {
        let header = node.as_ref();
        (header.value_len != DELETED)
            .then(|| std::slice::from_raw_parts(header.value, header.value_len))
    }
}

/// A key's first 24 bytes, zero-padded, as three big-endian words. Heads
/// order as their keys do wherever they differ: at the first byte where two
/// heads differ, either both keys have that byte, or the shorter key ends
/// there (padding, 0) while the other goes on with a byte above 0, so the
/// shorter key, a prefix of the other, sorts first both ways. Where heads
/// are equal, the keys decide.
fn head(key: &[u8]) -> [u64; 3] {
    let mut padded = [0u8; 24];
    let len = key.len().min(24);
    padded[..len].copy_from_slice(&key[..len]);
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&padded[i * 8..i * 8 + 8]);
        u64::from_be_bytes(bytes)
    };
    [word(0), word(1), word(2)]
}

/// A position in the order: a key as of a commit.
#[derive(Clone, Copy)]
pub(super) struct Target<'k> {
    head: [u64; 3],
    key: &'k [u8],
    seq: u64,
}

impl<'k> Target<'k> {
    pub(super) fn new(key: &'k [u8], seq: u64) -> Self {
        Self {
            head: head(key),
            key,
            seq,
        }
    }
}

/// How the entry `node` stands against `target`: by key, then newest first.
///
/// # Safety
/// `node` is a published entry of a live list.
unsafe fn compare(node: NonNull<Node>, target: &Target<'_>) -> KeyOrder {
    let header = node.as_ref();
    let by_key = match header.head.cmp(&target.head) {
        KeyOrder::Equal => {
            let key = Node::key(node);
            // Equal heads of keys 24 bytes or longer: their first 24 bytes
            // are equal, so only the rest needs comparing.
            if key.len() >= 24 && target.key.len() >= 24 {
                key[24..].cmp(&target.key[24..])
            } else {
                key.cmp(target.key)
            }
        }
        order => order,
    };
    by_key.then(target.seq.cmp(&header.seq))
}

/// One version of a key, lent from the list.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry<'a> {
    pub key: &'a [u8],
    pub seq: u64,
    /// `None` for a delete.
    pub value: Option<&'a [u8]>,
}

impl<'a> Entry<'a> {
    /// # Safety
    /// `node` is a published entry of a list that lives for `'a`.
    unsafe fn of(node: NonNull<Node>) -> Self {
        Self {
            key: Node::key(node),
            seq: node.as_ref().seq,
            value: Node::value(node),
        }
    }
}

/// What only the writer touches.
struct WriterState {
    /// Entries' headers, links and keys.
    arena: Arena,
    /// Entries' values.
    values: Arena,
    /// The state of the xorshift generator that picks entry heights.
    random: u64,
}

pub(super) struct SkipList {
    /// A header-only entry with `MAX_HEIGHT` links and no key, which sorts
    /// before everything; allocated in the arena like the others.
    head: NonNull<Node>,
    /// The number of levels in use; only grows.
    height: AtomicUsize,
    len: AtomicUsize,
    bytes: AtomicUsize,
    writer: Mutex<WriterState>,
}

// SAFETY: entries are written once, before a release store publishes them,
// and read only after an acquire load of a link to them; the links are
// atomics, changed only by the writer under `writer`'s lock; the arena,
// and with it every entry, lives as long as the list.
unsafe impl Send for SkipList {}
unsafe impl Sync for SkipList {}

impl Default for SkipList {
    fn default() -> Self {
        let mut arena = Arena::default();
        let block = arena.allocate(MAX_HEIGHT * LINK + size_of::<Node>());
        // SAFETY: the block is fresh, 8-aligned and holds the links and the
        // header; links start null.
        let head = unsafe {
            let head = block.add(MAX_HEIGHT * LINK).cast::<Node>();
            head.as_ptr().write(Node {
                head: [0; 3],
                seq: 0,
                key_len: 0,
                value_len: DELETED,
                value: ptr::null(),
            });
            for level in 0..MAX_HEIGHT {
                Node::link_slot(head, level).write(AtomicPtr::new(ptr::null_mut()));
            }
            head
        };
        Self {
            head,
            height: AtomicUsize::new(1),
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            writer: Mutex::new(WriterState {
                arena,
                values: Arena::default(),
                random: 0x2545_F491_4F6C_DD1D,
            }),
        }
    }
}

impl SkipList {
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Bytes the entries take, links and headers included.
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Adds every write as of commit `seq`, as one writer: inserts are
    /// serialised by a lock that readers never take.
    ///
    /// Writes that come in key order (a group commit's do) each search on
    /// from where the last one was linked in, rather than from the head: a
    /// key next to the last one, as an index entry for a newer item or a
    /// change-feed entry is, costs a step or two through entries just
    /// written instead of a descent through the whole table, whose lower
    /// levels are mostly out of the CPU's caches.
    pub(super) fn insert_all<'w>(
        &self,
        seq: u64,
        writes: impl IntoIterator<Item = (&'w [u8], Option<&'w [u8]>)>,
    ) {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // The last entry before the last insert at every level, the insert
        // itself at the levels it has.
        let mut before = [self.head; MAX_HEIGHT];
        let mut last: Option<NonNull<Node>> = None;
        for (key, value) in writes {
            let target = Target::new(key, seq);
            // SAFETY: `last` was linked in by this call, so it is published.
            let follows =
                last.is_some_and(|node| unsafe { compare(node, &target) } == KeyOrder::Less);
            if follows {
                self.search_on(&target, &mut before);
            } else {
                self.search(&target, &mut before);
            }
            last = Some(self.insert(&mut writer, &target, value, &mut before));
        }
        drop(writer);
    }

    /// Links in an entry for `target` after `before`, the last entry before
    /// it at every level, and makes it that entry at the levels it has.
    fn insert(
        &self,
        writer: &mut WriterState,
        target: &Target<'_>,
        value: Option<&[u8]>,
        before: &mut [NonNull<Node>; MAX_HEIGHT],
    ) -> NonNull<Node> {
        let key = target.key;
        let height = random_height(&mut writer.random);
        let size = height * LINK + size_of::<Node>() + key.len();
        let block = writer.arena.allocate(size);
        let stored_value = match value {
            Some(value) if !value.is_empty() => {
                let at = writer.values.allocate(value.len());
                // SAFETY: a fresh block of `value.len()` bytes.
                unsafe { ptr::copy_nonoverlapping(value.as_ptr(), at.as_ptr(), value.len()) };
                at.as_ptr().cast_const()
            }
            _ => NonNull::<u8>::dangling().as_ptr().cast_const(),
        };
        // SAFETY: the block is fresh, 8-aligned and `size` bytes long: the
        // links, the header, the key. Nobody else can reach it until it is
        // linked in below, and every link is written before that.
        let node = unsafe {
            let node = block.add(height * LINK).cast::<Node>();
            node.as_ptr().write(Node {
                head: target.head,
                seq: target.seq,
                key_len: key.len(),
                value_len: value.map_or(DELETED, <[u8]>::len),
                value: stored_value,
            });
            ptr::copy_nonoverlapping(key.as_ptr(), node.as_ptr().add(1).cast::<u8>(), key.len());
            if height > self.height.load(Ordering::Relaxed) {
                // Levels above the old height start at the head, as `before` does.
                self.height.store(height, Ordering::Relaxed);
            }
            // Bottom up, so a reader at any level finds a node already
            // reachable from every level below it.
            for (level, previous) in before.iter_mut().enumerate().take(height) {
                let next = Node::link(*previous, level).load(Ordering::Acquire);
                Node::link_slot(node, level).write(AtomicPtr::new(next));
                Node::link(*previous, level).store(node.as_ptr(), Ordering::Release);
                *previous = node;
            }
            node
        };
        self.len.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(size + value.map_or(0, <[u8]>::len), Ordering::Relaxed);
        node
    }

    /// `search` for a target after the entry that `before` was last filled
    /// for (by a search or an insert): climbs from level 0 to the first
    /// level whose next entry is not before `target` (every level above it
    /// is then already right), and descends from there, so the cost grows
    /// with the distance between the two rather than with the table.
    fn search_on(
        &self,
        target: &Target<'_>,
        before: &mut [NonNull<Node>; MAX_HEIGHT],
    ) -> NonNull<Node> {
        let top = self.height.load(Ordering::Relaxed).max(1) - 1;
        let mut level = 0;
        while level < top {
            // SAFETY: `before[level]` is the head or a published entry with
            // a link at `level`.
            let next = unsafe { Node::link(before[level], level) }.load(Ordering::Acquire);
            match NonNull::new(next) {
                // SAFETY: reached through an acquire load: published, whole.
                Some(next) if unsafe { compare(next, target) } == KeyOrder::Less => level += 1,
                _ => break,
            }
        }
        self.descend(before[level], level, target, before)
    }

    /// Fills `before` with the last entry before `target` at every level
    /// (the head where there is none), and returns the one at level 0.
    fn search(
        &self,
        target: &Target<'_>,
        before: &mut [NonNull<Node>; MAX_HEIGHT],
    ) -> NonNull<Node> {
        let level = self.height.load(Ordering::Relaxed).max(1) - 1;
        self.descend(self.head, level, target, before)
    }

    /// Walks from `node` at `level` down to level 0, filling `before` at
    /// each level on the way. `node` is before `target` and has a link at
    /// `level`.
    fn descend(
        &self,
        mut node: NonNull<Node>,
        mut level: usize,
        target: &Target<'_>,
        before: &mut [NonNull<Node>; MAX_HEIGHT],
    ) -> NonNull<Node> {
        loop {
            // SAFETY: `node` is the head or a published entry of this list
            // with a link at `level`.
            let next = unsafe { Node::link(node, level) }.load(Ordering::Acquire);
            match NonNull::new(next) {
                // SAFETY: reached through an acquire load: published, whole.
                Some(next) if unsafe { compare(next, target) } == KeyOrder::Less => node = next,
                _ => {
                    before[level] = node;
                    if level == 0 {
                        return node;
                    }
                    level -= 1;
                }
            }
        }
    }

    /// The first entry at or after `target`.
    pub(super) fn seek(&self, target: &Target<'_>) -> Option<Entry<'_>> {
        // SAFETY: an entry of this list, which `&self` keeps alive.
        self.first_from(target)
            .map(|node| unsafe { Entry::of(node) })
    }

    fn first_from(&self, target: &Target<'_>) -> Option<NonNull<Node>> {
        let mut before = [self.head; MAX_HEIGHT];
        let last_before = self.search(target, &mut before);
        // SAFETY: a list entry or the head.
        NonNull::new(unsafe { Node::link(last_before, 0) }.load(Ordering::Acquire))
    }

    /// The last entry before `target`.
    fn last_before(&self, target: &Target<'_>) -> Option<NonNull<Node>> {
        let mut before = [self.head; MAX_HEIGHT];
        let node = self.search(target, &mut before);
        (node != self.head).then_some(node)
    }

    /// The entry just before `node` (whose key and commit `entry` gives):
    /// the last one before its position, and then any that share it (one
    /// commit that wrote a key twice), up to `node` itself.
    fn predecessor(&self, node: NonNull<Node>, entry: &Entry<'_>) -> Option<NonNull<Node>> {
        let mut before = [self.head; MAX_HEIGHT];
        let mut previous = self.search(&Target::new(entry.key, entry.seq), &mut before);
        loop {
            // SAFETY: the head or a published entry of this list.
            let next = unsafe { Node::link(previous, 0) }.load(Ordering::Acquire);
            match NonNull::new(next) {
                Some(next) if next != node => previous = next,
                _ => break,
            }
        }
        (previous != self.head).then_some(previous)
    }

    /// Entries from `from` on, in order.
    pub(super) fn ascending<'a>(&'a self, from: &Target<'_>) -> Ascending<'a> {
        Ascending {
            next: self.first_from(from),
            _list: self,
        }
    }

    /// Entries before `until`, from the last back to the first. Each step
    /// is a search of its own: the links only lead forward.
    pub(super) fn descending<'a>(&'a self, until: &Target<'_>) -> Descending<'a> {
        Descending {
            next: self.last_before(until),
            list: self,
        }
    }
}

/// Levels 1, 2, ... with probability 3/4, 3/16, ...: one draw of the
/// generator gives two bits per level.
fn random_height(state: &mut u64) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let mut bits = *state;
    let mut height = 1;
    while height < MAX_HEIGHT && bits & 3 == 0 {
        height += 1;
        bits >>= 2;
    }
    height
}

pub(super) struct Ascending<'a> {
    next: Option<NonNull<Node>>,
    _list: &'a SkipList,
}

impl<'a> Iterator for Ascending<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let node = self.next?;
        // SAFETY: a published entry of the list borrowed for 'a.
        unsafe {
            self.next = NonNull::new(Node::link(node, 0).load(Ordering::Acquire));
            Some(Entry::of(node))
        }
    }
}

pub(super) struct Descending<'a> {
    next: Option<NonNull<Node>>,
    list: &'a SkipList,
}

impl<'a> Iterator for Descending<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        let node = self.next?;
        // SAFETY: a published entry of the list borrowed for 'a.
        let entry = unsafe { Entry::of(node) };
        self.next = self.list.predecessor(node, &entry);
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// Keys that share long prefixes and differ around the inline head.
    fn key(n: u64) -> Vec<u8> {
        let mut key = vec![0x50; (n % 40) as usize];
        key.extend_from_slice(&(n % 97).to_be_bytes()[6..]);
        key
    }

    #[test]
    fn entries_list_in_order_both_ways_and_seek_finds_the_first_at_or_after() {
        let list = SkipList::default();
        let mut model = BTreeMap::new();
        let mut random = 7u64;
        for seq in 1..=if cfg!(miri) { 30 } else { 400u64 } {
            let mut writes = BTreeMap::new();
            for _ in 0..random_height(&mut random) * 3 {
                let n = random % 1000;
                random = random.wrapping_mul(6364136223846793005).wrapping_add(1);
                let value = (!n.is_multiple_of(5)).then(|| seq.to_be_bytes().to_vec());
                writes.insert(key(n), value);
            }
            list.insert_all(
                seq,
                writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
            );
            for (k, v) in writes {
                // The model orders as the list does: key, then newest first.
                model.insert((k, std::cmp::Reverse(seq)), v);
            }
        }
        let expected: Vec<_> = model
            .iter()
            .map(|((k, seq), v)| (k.clone(), seq.0, v.clone()))
            .collect();
        let owned = |e: Entry<'_>| (e.key.to_vec(), e.seq, e.value.map(<[u8]>::to_vec));
        let up: Vec<_> = list
            .ascending(&Target::new(&[], u64::MAX))
            .map(owned)
            .collect();
        assert_eq!(up, expected);
        let mut down: Vec<_> = list
            .descending(&Target::new(&[0xFF; 50], u64::MAX))
            .map(owned)
            .collect();
        down.reverse();
        assert_eq!(down, expected);
        assert_eq!(list.len(), expected.len());
        for n in (0..1000).step_by(if cfg!(miri) { 47 } else { 1 }) {
            for at in [0, 3, 200, u64::MAX] {
                let k = key(n);
                let wanted = model
                    .range((k.clone(), std::cmp::Reverse(at))..)
                    .next()
                    .map(|((k, seq), v)| (k.clone(), seq.0, v.clone()));
                assert_eq!(list.seek(&Target::new(&k, at)).map(owned), wanted);
            }
        }
    }

    #[test]
    fn writes_in_any_order_land_in_order_and_a_commits_last_write_of_a_key_wins() {
        // Each commit's writes run up in sorted stretches (searched on from
        // the last insert), fall back (searched from the head), and repeat
        // keys, as no group commit does but the list allows.
        let list = SkipList::default();
        let mut model = BTreeMap::new();
        let mut random = 11u64;
        for seq in 1..=if cfg!(miri) { 20 } else { 300u64 } {
            let mut writes = Vec::new();
            for _ in 0..random_height(&mut random) * 2 {
                random = random.wrapping_mul(6364136223846793005).wrapping_add(1);
                let mut run: Vec<u64> = (0..(random >> 60) + 1)
                    .map(|i| (random >> 20).wrapping_add(i * (random >> 58)) % 500)
                    .collect();
                run.sort_unstable();
                for n in run {
                    let value = (!n.is_multiple_of(7)).then(|| writes.len().to_be_bytes().to_vec());
                    writes.push((key(n), value));
                }
            }
            list.insert_all(
                seq,
                writes.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
            );
            for (k, v) in writes {
                model.insert((k, std::cmp::Reverse(seq)), v);
            }
        }
        let mut listed: Vec<(Vec<u8>, u64, Option<Vec<u8>>)> = Vec::new();
        for e in list.ascending(&Target::new(&[], u64::MAX)) {
            // A key written twice by one commit has two entries; the first,
            // the later write, is what every read finds.
            if listed
                .last()
                .is_some_and(|(k, seq, _)| k.as_slice() == e.key && *seq == e.seq)
            {
                continue;
            }
            listed.push((e.key.to_vec(), e.seq, e.value.map(<[u8]>::to_vec)));
        }
        let expected: Vec<_> = model
            .into_iter()
            .map(|((k, seq), v)| (k, seq.0, v))
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn readers_see_whole_entries_in_order_while_the_writer_inserts() {
        // Miri runs the same interleavings far slower.
        const ENTRIES: usize = if cfg!(miri) { 200 } else { 20_000 };
        let list = Arc::new(SkipList::default());
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let list = Arc::clone(&list);
                std::thread::spawn(move || {
                    let mut seen = 0;
                    while seen < ENTRIES {
                        let entries: Vec<_> = list.ascending(&Target::new(&[], u64::MAX)).collect();
                        for pair in entries.windows(2) {
                            assert!(
                                (pair[0].key, std::cmp::Reverse(pair[0].seq))
                                    < (pair[1].key, std::cmp::Reverse(pair[1].seq))
                            );
                        }
                        for entry in &entries {
                            // Every value is its key repeated, so a torn entry shows.
                            assert_eq!(entry.value, Some(entry.key));
                        }
                        seen = entries.len();
                    }
                })
            })
            .collect();
        for seq in 1..=ENTRIES as u64 / 10 {
            let keys: Vec<Vec<u8>> = (0..10)
                .map(|i| key(seq * 10 + i))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            list.insert_all(seq, keys.iter().map(|k| (k.as_slice(), Some(k.as_slice()))));
        }
        for reader in readers {
            reader.join().expect("a reader failed");
        }
    }
}
