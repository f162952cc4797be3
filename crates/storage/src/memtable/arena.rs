//! The memtable's memory: large chunks handed out by bumping an offset.
//!
//! A memtable only grows until it is flushed and then goes as a whole, so
//! its entries need no allocation or free of their own: a bump within a
//! 1 MiB chunk places one, and dropping the arena frees them all at once.
//! Chunks never move once made, so addresses handed out stay valid for the
//! arena's life, whatever it allocates later.

use std::alloc::{handle_alloc_error, GlobalAlloc, Layout, System};
use std::ptr::NonNull;

/// Bytes per ordinary chunk.
const CHUNK_BYTES: usize = 1 << 20;
/// An allocation larger than this gets a chunk of its own, so a large value
/// does not leave most of a chunk unused.
const OWN_CHUNK_ABOVE: usize = CHUNK_BYTES / 4;
const ALIGN: usize = 8;

/// Hands out 8-byte-aligned memory that lives as long as the arena.
/// Chunks are raw allocations rather than boxes: entries point into them
/// from other threads, which a box, asserting sole ownership when moved,
/// must not have. They come from the system allocator rather than the
/// process's own (mimalloc), which kept a flushed memtable's chunks for
/// reuse: from the system they go back to the OS as the table is dropped
/// (resident memory with 20,000 items loaded: 81 MiB against 88 MiB,
/// `cosmonaut-bench footprint`).
#[derive(Default)]
pub(super) struct Arena {
    /// Every chunk so far, with its layout, to free them on drop.
    chunks: Vec<(NonNull<u8>, Layout)>,
    /// The ordinary chunk being filled, and the bytes of it used.
    current: Option<(NonNull<u8>, usize)>,
}

// SAFETY: the arena owns its chunks; it is moved between threads only as a
// whole, and what other threads read through pointers into it is governed
// by the skip list's own synchronisation.
unsafe impl Send for Arena {}

impl Arena {
    /// `bytes` of uninitialised memory, 8-aligned, valid until the arena drops.
    pub(super) fn allocate(&mut self, bytes: usize) -> NonNull<u8> {
        let bytes = bytes.max(1).next_multiple_of(ALIGN);
        if bytes > OWN_CHUNK_ABOVE {
            return self.chunk(bytes);
        }
        let (start, used) = match self.current {
            Some((start, used)) if used + bytes <= CHUNK_BYTES => (start, used),
            _ => (self.chunk(CHUNK_BYTES), 0),
        };
        self.current = Some((start, used + bytes));
        // SAFETY: `used + bytes <= CHUNK_BYTES`: the block lies inside the chunk.
        unsafe { start.add(used) }
    }

    fn chunk(&mut self, bytes: usize) -> NonNull<u8> {
        let layout = match Layout::from_size_align(bytes, ALIGN) {
            Ok(layout) => layout,
            Err(_) => handle_alloc_error(Layout::new::<u64>()),
        };
        // SAFETY: the layout's size is at least 8, never zero.
        let start = unsafe { System.alloc(layout) };
        let Some(start) = NonNull::new(start) else {
            handle_alloc_error(layout)
        };
        self.chunks.push((start, layout));
        start
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for (start, layout) in self.chunks.drain(..) {
            // SAFETY: allocated in `chunk` with this layout, freed once.
            unsafe { System.dealloc(start.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a block the test writes and checks: all of a small
    /// one, both ends of a large one (Miri is slow per byte).
    /// As (start, length) pairs.
    fn marked(size: usize) -> Vec<(usize, usize)> {
        if size <= 4096 {
            vec![(0, size)]
        } else {
            vec![(0, 64), (size - 64, 64)]
        }
    }

    #[test]
    fn allocations_are_aligned_distinct_and_survive_later_ones() {
        let mut arena = Arena::default();
        let mut blocks = Vec::new();
        for (i, size) in [1, 7, 8, 9, 100, OWN_CHUNK_ABOVE + 1, 3, CHUNK_BYTES, 5]
            .into_iter()
            .cycle()
            .take(200)
            .enumerate()
        {
            let at = arena.allocate(size);
            assert_eq!(at.as_ptr() as usize % 8, 0);
            for (start, len) in marked(size) {
                // SAFETY: the bytes lie in the block, which only this test writes.
                unsafe { std::ptr::write_bytes(at.as_ptr().add(start), i as u8, len) };
            }
            blocks.push((at, size, i as u8));
        }
        for (at, size, fill) in blocks {
            for (start, len) in marked(size) {
                // SAFETY: as above; the arena is still alive.
                let bytes = unsafe { std::slice::from_raw_parts(at.as_ptr().add(start), len) };
                assert!(bytes.iter().all(|b| *b == fill), "a block was overwritten");
            }
        }
    }
}
