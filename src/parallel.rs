//! A bounded pool of scoped threads over a list of items: the mirrors a collect fetches and the
//! repositories whose metadata it reads. No async runtime and no extra crate: each item is
//! blocking network work, and the number of threads is the bound the caller asks for.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Runs `work` on every item on at most `workers` threads (at least one) and returns each item
/// with its result, in the items' order. One item's failure (an `Err` result) does not stop
/// the others.
pub fn map_bounded<T: Send, R: Send>(
    items: Vec<T>,
    workers: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<(T, R)> {
    let total = items.len();
    let queue = Mutex::new(items.into_iter().enumerate().collect::<VecDeque<_>>());
    let finished = Mutex::new(Vec::with_capacity(total));
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, total.max(1)) {
            scope.spawn(|| loop {
                // The lock is taken only to pop and to push, never across the work.
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((index, item)) = next else { break };
                let result = work(&item);
                finished
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((index, item, result));
            });
        }
    });
    let mut finished = finished.into_inner().unwrap_or_else(|p| p.into_inner());
    finished.sort_by_key(|(index, _, _)| *index);
    finished
        .into_iter()
        .map(|(_, item, result)| (item, result))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_keep_the_items_order_and_never_exceed_the_bound() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let out = map_bounded((0..40).collect(), 3, |n: &u64| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2 * (n % 3)));
            running.fetch_sub(1, Ordering::SeqCst);
            n * 2
        });
        assert_eq!(out, (0..40).map(|n| (n, n * 2)).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 3);
        assert!(map_bounded(Vec::<u8>::new(), 0, |_| ()).is_empty());
    }
}
