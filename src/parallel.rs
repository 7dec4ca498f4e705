//! Opt-in parallelism on the CPU's cores, on rayon's worker threads (started once and kept,
//! so a split pays a wake-up, not a thread start).
//!
//! By default everything runs on the calling thread. [`set_num_threads`] (or the environment
//! variable `RECURRENT_NUM_THREADS`, read once) allows more: large matrix products are split
//! by rows of the result, and a recurrent layer splits its batch so each thread runs the
//! whole time loop for its share of the sequences (the samples of a batch are independent,
//! so the threads never wait for each other inside the loop). Work too small to repay the
//! cost of handing it to another thread stays on one thread.
//!
//! Outputs, final states, dL/dx and dL/d(initial state) do not depend on the number of
//! threads: every element is computed by the same arithmetic in the same order whichever
//! thread computes it. Weight gradients sum over all samples and steps, and with the batch
//! split those sums are grouped differently, so they can differ in the last bits (relative
//! differences around 1e-16 in f64, 1e-7 in f32).

use std::sync::atomic::{AtomicUsize, Ordering};

/// 0 = not set yet (read `RECURRENT_NUM_THREADS`, default 1).
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads the crate may use: `n`, but at least 1 and at most the parallelism
/// the machine offers ([`std::thread::available_parallelism`], which counts the cores this
/// process may run on). More threads than cores only time-slice the same cores: each
/// thread's share of a batch waits for the others, and the run gets slower, not faster. When
/// the available parallelism cannot be determined, `n` is taken as it is.
///
/// ```
/// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
/// recurrent::set_num_threads(2);
/// assert_eq!(recurrent::num_threads(), 2.min(cores));
/// recurrent::set_num_threads(10_000);
/// assert_eq!(recurrent::num_threads(), cores); // clamped
/// recurrent::set_num_threads(1);
/// ```
pub fn set_num_threads(n: usize) {
    THREADS.store(clamp(n), Ordering::Relaxed);
}

/// How many threads the crate may use: the last [`set_num_threads`], else
/// `RECURRENT_NUM_THREADS`, else 1; clamped the same way in each case.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = from_env(std::env::var("RECURRENT_NUM_THREADS").ok().as_deref());
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// `n` held to `[1, available parallelism]`.
fn clamp(n: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(usize::MAX, |c| c.get());
    n.clamp(1, cores.max(1))
}

/// The thread count the environment variable's value asks for (1 when unset or unreadable),
/// clamped.
fn from_env(value: Option<&str>) -> usize {
    clamp(value.and_then(|v| v.trim().parse().ok()).unwrap_or(1))
}

/// Runs every job, the first on the calling thread and the others on rayon's worker threads
/// (started once, kept, and woken for each call: a few microseconds where starting a thread
/// costs tens, and their packing scratch stays warm), and returns their results in order.
/// Blocks until every job has finished, so the jobs may borrow from the caller's stack. A job
/// no worker has taken by the time the caller's own is done runs on the caller.
pub(crate) fn run_all<T: Send, J: FnOnce() -> T + Send>(jobs: Vec<J>) -> Vec<T> {
    if jobs.len() <= 1 {
        return jobs.into_iter().map(|j| j()).collect();
    }
    let mut out: Vec<Option<T>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    let mut jobs = jobs.into_iter();
    let first = jobs.next();
    rayon::in_place_scope(|s| {
        let (head, tail) = out.split_at_mut(1);
        for (slot, job) in tail.iter_mut().zip(jobs) {
            s.spawn(move |_| *slot = Some(job()));
        }
        if let Some(job) = first {
            head[0] = Some(job());
        }
    });
    // Every slot was filled: the scope returns only after each job ran (a job's panic is
    // carried out of the scope to the caller, a crate bug either way).
    out.into_iter().flatten().collect()
}

/// Splits `n` items into at most `parts` contiguous ranges `(start, len)` of near-equal
/// length, each a multiple of `align` except the last.
pub(crate) fn ranges(n: usize, parts: usize, align: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, n.max(1));
    let align = align.max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 0..parts {
        let left = parts - p;
        let mut len = (n - start).div_ceil(left);
        if p + 1 < parts {
            len = len.div_ceil(align) * align;
        }
        let len = len.min(n - start);
        if len > 0 {
            out.push((start, len));
        }
        start += len;
    }
    out
}

/// Splits `buf` into consecutive chunks of `unit · len` elements, one per range.
pub(crate) fn split_chunks<'a, F>(mut buf: &'a mut [F], unit: usize, ranges: &[(usize, usize)]) -> Vec<&'a mut [F]> {
    let mut out = Vec::with_capacity(ranges.len());
    for &(_, len) in ranges {
        let at = (unit * len).min(buf.len());
        let (head, tail) = std::mem::take(&mut buf).split_at_mut(at);
        out.push(head);
        buf = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once() {
        for n in 0..40 {
            for parts in 1..5 {
                for align in [1, 6] {
                    let r = ranges(n, parts, align);
                    assert_eq!(r.iter().map(|x| x.1).sum::<usize>(), n);
                    let mut next = 0;
                    for (i, &(s, l)) in r.iter().enumerate() {
                        assert_eq!(s, next);
                        assert!(l > 0);
                        if i + 1 < r.len() {
                            assert_eq!(l % align, 0);
                        }
                        next = s + l;
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_have_the_asked_lengths() {
        let mut v: Vec<u32> = (0..20).collect();
        let parts = [(0, 2), (2, 3)];
        let c = split_chunks(&mut v, 4, &parts);
        assert_eq!(c.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![8, 12]);
        assert_eq!(c[1][0], 8);
    }

    #[test]
    fn thread_counts_are_clamped_to_the_cores() {
        let cores = std::thread::available_parallelism().map(|c| c.get()).expect("known on the test machines");
        assert_eq!(clamp(0), 1);
        assert_eq!(clamp(1), 1);
        assert_eq!(clamp(10_000), cores);
        assert_eq!(clamp(usize::MAX), cores);
        assert_eq!(from_env(Some(" 10000 ")), cores);
        assert_eq!(from_env(Some("2")), 2.min(cores));
        assert_eq!(from_env(Some("many")), 1);
        assert_eq!(from_env(None), 1);
        assert_eq!(from_env(Some("0")), 1);
    }

    #[test]
    fn jobs_run_in_order() {
        let out = run_all((0..3).map(|i| move || i * 10).collect());
        assert_eq!(out, vec![0, 10, 20]);
    }

    #[test]
    fn jobs_may_borrow_and_nest() {
        let data: Vec<u64> = (0..1000).collect();
        let sums = run_all(data.chunks(250).map(|c| move || c.iter().sum::<u64>()).collect());
        assert_eq!(sums, vec![31_125, 93_625, 156_125, 218_625]);
        // A job that splits again (as a product inside a thread's part would).
        let nested = run_all(
            (0..2)
                .map(|i| move || run_all((0..3).map(|j| move || i * 10 + j).collect::<Vec<_>>()).iter().sum::<u64>())
                .collect(),
        );
        assert_eq!(nested, vec![3, 33]);
    }

    #[test]
    fn a_panicking_job_reaches_the_caller_after_the_others_finish() {
        let flag = std::sync::atomic::AtomicBool::new(false);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_all(vec![
                Box::new(|| panic!("job 0")) as Box<dyn FnOnce() + Send>,
                Box::new(|| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }),
            ])
        }));
        assert!(r.is_err(), "the panic is carried to the caller");
        assert!(flag.load(std::sync::atomic::Ordering::SeqCst), "the other job had finished before");
    }
}
