//! Tuning of the global allocator (mimalloc, set in `main.rs`).

/// `mi_option_purge_delay` in `mi_option_t` of mimalloc 3 (mimalloc.h; the
/// version libmimalloc-sys builds by default, and the same index in
/// mimalloc 2): milliseconds before freed pages go back to the OS.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// `mi_option_allow_thp` in `mi_option_t` of mimalloc 3.
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// `PR_SET_THP_DISABLE` / `PR_GET_THP_DISABLE` of prctl(2).
const PR_SET_THP_DISABLE: libc::c_int = 41;
#[cfg(test)]
const PR_GET_THP_DISABLE: libc::c_int = 42;

/// Turns transparent huge pages off for this process, as
/// `MIMALLOC_ALLOW_THP=0` would: mimalloc stops asking for them and the
/// kernel stops backing our memory with them. With 2 MiB pages every fault
/// on fresh allocator memory zeroes 2 MiB: under remote-write load
/// (rw_load, 100k series) page zeroing was 18 % of the server's CPU, and
/// without huge pages the same load ran 4-8 % faster with 15-25 % less
/// RSS (docs/benchmarks.md).
pub fn no_transparent_huge_pages() {
    // SAFETY: options may be set at any time; this one is read on each
    // new OS allocation.
    unsafe { libmimalloc_sys::mi_option_set(ALLOW_THP, 0) };
    // SAFETY: PR_SET_THP_DISABLE takes one integer argument and only sets a
    // flag of this process; a failure (old kernel) leaves THP as it was.
    unsafe { libc::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// The purge delay of `import`, in milliseconds (with huge pages off). An
/// import promises a peak RSS under twice its memory limit. Importing the
/// 8.64 M-row Parquet file (10x a 155 MiB limit as Arrow):
///
/// | date | purge delay | huge pages | time | peak RSS |
/// | --- | --- | --- | --- | --- |
/// | 2026-11-30 (s14) | 0 | on | 10.4 s | 283-287 MiB |
/// | 2026-11-30 (s14) | 50 ms | off | 9.0 s | 261 MiB |
/// | 2026-11-30 (s14) | 1 s | off | 7.9 s | 362 MiB |
/// | 2026-11-30 (s15) | 50 ms | off | 5.3-5.4 s | 205-213 MiB |
/// | 2026-11-30 (s15) | 200 ms | off | 4.4-4.8 s | 229-235 MiB |
/// | 2026-11-30 (s15) | 500 ms | off | 4.1 s | 255 MiB |
///
/// Session 15 keeps tag columns as dictionaries through the sort, which
/// made room under the limit for a longer delay. With no delay, a fifth
/// of the CPU went to zeroing pages that were faulted in afresh.
pub const IMPORT_PURGE_DELAY_MS: std::ffi::c_long = 200;

/// The purge delay of `serve`, in milliseconds. After 100k remote-write
/// series (rw_load, 2M samples) RSS was 202-206 MiB with 100 ms and
/// 170-177 MiB with 10 ms; with no delay a grouped scan ran 40 % slower
/// (its buffers were faulted in afresh each time), with 10 ms about 5 %;
/// a CSV COPY of 8.64 M rows 7-20 % (docs/benchmarks.md).
pub const SERVE_PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes mimalloc return freed pages to the OS `ms` milliseconds after they
/// are freed, unless `MIMALLOC_PURGE_DELAY` is set.
pub fn purge_freed_memory_after(ms: std::ffi::c_long) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: options may be set at any time; this one is read each time
    // freed pages are considered for purging.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, ms) };
}

/// COPY FROM STDIN streams in progress, and the purge delay before the
/// first of them began.
static BULK_COPIES: parking_lot::Mutex<(usize, std::ffi::c_long)> = parking_lot::Mutex::new((0, 0));

/// While one is alive, freed pages wait [`IMPORT_PURGE_DELAY_MS`] before
/// they go back to the OS, as in `import`: a CSV COPY frees and allocates
/// its batches run after run, and with `serve`'s 10 ms it faulted them
/// in afresh each time (8.64 M rows: 17.3 s of server CPU instead of
/// 18.0 s, peak RSS 486 MiB instead of 456 MiB at the 512 MiB default
/// limit; docs/benchmarks.md). The delay before is restored when the
/// last one ends.
pub struct BulkCopyMemory(());

impl BulkCopyMemory {
    pub fn start() -> BulkCopyMemory {
        let mut copies = BULK_COPIES.lock();
        if copies.0 == 0 {
            // SAFETY: reading an option has no preconditions.
            copies.1 = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
            purge_freed_memory_after(copies.1.max(IMPORT_PURGE_DELAY_MS));
        }
        copies.0 += 1;
        BulkCopyMemory(())
    }
}

impl Drop for BulkCopyMemory {
    fn drop(&mut self) {
        let mut copies = BULK_COPIES.lock();
        copies.0 -= 1;
        if copies.0 == 0 {
            purge_freed_memory_after(copies.1);
        }
    }
}

/// Returns the pages freed since the last purge to the OS now, whatever
/// the purge delay (after a flush or compaction, whose working memory would
/// otherwise stay resident while the server idles).
pub fn release_freed_memory() {
    // SAFETY: mi_collect may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests {
    use super::{ALLOW_THP, PR_GET_THP_DISABLE, PURGE_DELAY};

    /// Guards the index of `mi_option_allow_thp` (on by default), and
    /// checks that the process flag is set afterwards.
    #[test]
    fn huge_pages_can_be_turned_off() {
        // SAFETY: reading an option has no preconditions.
        let before = unsafe { libmimalloc_sys::mi_option_get(ALLOW_THP) };
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!(before, 1);
        }
        super::no_transparent_huge_pages();
        // SAFETY: as above.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(ALLOW_THP) }, 0);
        // SAFETY: PR_GET_THP_DISABLE takes no argument and returns the flag.
        assert_eq!(unsafe { libc::prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) }, 1);
    }

    /// Guards the option index against a mimalloc upgrade that reorders
    /// `mi_option_t`: in mimalloc 3 only the purge delay defaults to 1000.
    #[test]
    fn purge_delay_is_the_option_that_defaults_to_one_second() {
        // SAFETY: reading an option has no preconditions.
        let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(value, 1000);
            super::purge_freed_memory_after(super::SERVE_PURGE_DELAY_MS);
            // SAFETY: as above.
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, 10);
            bulk_copies_hold_freed_pages_longer_while_they_last();
            super::purge_freed_memory_after(1000);
        }
    }

    /// A bulk COPY lengthens the delay while it lasts; the last one to end
    /// restores what was set before. (Called by the test above: the option
    /// is global, and tests may share a process.)
    fn bulk_copies_hold_freed_pages_longer_while_they_last() {
        // SAFETY: reading an option has no preconditions.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(get(), super::SERVE_PURGE_DELAY_MS);
        let first = super::BulkCopyMemory::start();
        assert_eq!(get(), super::IMPORT_PURGE_DELAY_MS);
        let second = super::BulkCopyMemory::start();
        drop(first);
        assert_eq!(get(), super::IMPORT_PURGE_DELAY_MS);
        drop(second);
        assert_eq!(get(), super::SERVE_PURGE_DELAY_MS);
    }
}
