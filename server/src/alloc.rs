//! Tuning of the global allocator (mimalloc, set in `main.rs`).

/// `mi_option_purge_delay` in `mi_option_t` of mimalloc 3 (mimalloc.h; the
/// version libmimalloc-sys builds by default, and the same index in
/// mimalloc 2): milliseconds before freed pages go back to the OS.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed memory to the OS at once instead of after
/// its default delay of one second. An import promises a peak RSS under twice its
/// memory limit: a 1.5 GiB import under a 155 MiB limit peaked at 376 MiB
/// with the delay, 298 MiB without (docs/benchmarks.md). The server keeps
/// the delay: returning scan buffers at once costs page faults on the next
/// query.
pub fn purge_freed_memory_at_once() {
    // SAFETY: options may be set at any time; this one is read each time
    // freed pages are considered for purging.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
}

#[cfg(test)]
mod tests {
    use super::PURGE_DELAY;

    /// Guards the option index against a mimalloc upgrade that reorders
    /// `mi_option_t`: in mimalloc 3 only the purge delay defaults to 1000.
    #[test]
    fn purge_delay_is_the_option_that_defaults_to_one_second() {
        // SAFETY: reading an option has no preconditions.
        let value = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        assert_eq!(value, 1000);
    }
}
