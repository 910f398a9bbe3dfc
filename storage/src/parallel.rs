//! Work spread over the cores without a thread pool: scoped threads that
//! pull task numbers from a shared counter.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f(0..tasks)` on up to one thread per core, results in task order.
pub(crate) fn parallel_map<T: Send>(tasks: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(tasks);
    if threads <= 1 {
        return (0..tasks).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let task = next.fetch_add(1, Ordering::Relaxed);
                        if task >= tasks {
                            return mine;
                        }
                        mine.push((task, f(task)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    done.sort_unstable_by_key(|(task, _)| *task);
    done.into_iter().map(|(_, value)| value).collect()
}
