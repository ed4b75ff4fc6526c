//! `lbc fleet`: the platform team's view of many repositories. [`manifest`] is
//! `fleet.toml`; [`cache`] keeps bare clones of remote repositories; [`templates`] loads
//! each template version once for the whole fleet; [`status`] reads one repository's
//! standing (version, drift, conflicts); [`report`] prints the table, Markdown and JSON.
//! The verb itself is `commands::fleet`.

pub mod cache;
pub mod manifest;
pub mod report;
pub mod status;
pub mod templates;

/// Run `f` over `items` with at most `jobs` threads; results in the order of `items`.
/// `None` for the items not reached because of an interrupt.
pub fn parallel<T, R, F>(items: &[T], jobs: usize, f: F) -> Vec<Option<R>>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync,
{
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= items.len() || crate::runner::interrupted() {
                    break;
                }
                let r = f(i, &items[i]);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap()
}
