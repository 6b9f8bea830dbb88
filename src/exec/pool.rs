//! Threads of a scope that run one job after another, so a workflow of a
//! thousand steps starts as many threads as run at once, not one per step.
//!
//! A step's thread used to be created for the step and gone with it. Each
//! creation cost a clone, a signal stack mapped and unmapped, and a stack whose
//! pages glibc hands back on exit (`MADV_DONTNEED`) and the next thread faults in
//! again: on the 1,000-step benchmark that was the larger part of the gap between
//! one step's plugin exiting and the next one starting. A finished worker now
//! waits for the next job instead.
//!
//! A job goes to an idle worker over that worker's own channel, or to a new
//! worker when none is idle. A job returns what to do once its worker is idle
//! again (tell the scheduler the step ended), so the scheduler's next job finds
//! that worker waiting rather than creating another thread. Dropping the pool
//! closes the idle list and tells each idle worker to end; a worker still busy
//! ends after its job. The scope then joins them all.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Scope;

/// What a job leaves to do once its worker is back on the idle list.
pub(crate) type Then<'scope> = Box<dyn FnOnce() + Send + 'scope>;

/// A job for a worker.
type Job<'scope> = Box<dyn FnOnce() -> Then<'scope> + Send + 'scope>;

/// What a worker receives: a job, or `None` to end.
type Message<'scope> = Option<Job<'scope>>;

/// The idle workers' channels, and whether the pool is gone.
struct Idle<'scope> {
    workers: Vec<mpsc::Sender<Message<'scope>>>,
    closed: bool,
}

/// Reusable worker threads of one scope; dropped before the scope ends.
pub(crate) struct Pool<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    idle: Arc<Mutex<Idle<'scope>>>,
}

fn lock<'a, 'scope>(idle: &'a Mutex<Idle<'scope>>) -> MutexGuard<'a, Idle<'scope>> {
    idle.lock().unwrap_or_else(|p| p.into_inner())
}

impl<'scope, 'env> Pool<'scope, 'env> {
    /// A pool with no thread yet: workers are created as jobs need them.
    pub(crate) fn new(scope: &'scope Scope<'scope, 'env>) -> Self {
        Pool {
            scope,
            idle: Arc::new(Mutex::new(Idle {
                workers: Vec::new(),
                closed: false,
            })),
        }
    }

    /// Run `job` on an idle worker, else on a new one, and what it returns once
    /// that worker is idle again; when no thread can be created (a pids limit),
    /// run both here, as the caller would have.
    pub(crate) fn run(&self, job: impl FnOnce() -> Then<'scope> + Send + 'scope) {
        let mut job: Job<'scope> = Box::new(job);
        loop {
            let worker = lock(&self.idle).workers.pop();
            let Some(worker) = worker else { break };
            match worker.send(Some(job)) {
                Ok(()) => return,
                // That worker is gone (it panicked): try the next.
                Err(mpsc::SendError(back)) => match back {
                    Some(back) => job = back,
                    None => return,
                },
            }
        }
        let (tx, rx) = mpsc::channel::<Message<'scope>>();
        // The first job travels with the worker; the channel brings the next.
        let first = Arc::new(Mutex::new(Some(job)));
        let theirs = Arc::clone(&first);
        let idle = Arc::clone(&self.idle);
        let spawned = std::thread::Builder::new()
            .name("rune-step".to_string())
            .spawn_scoped(self.scope, move || {
                let mut next = theirs.lock().unwrap_or_else(|p| p.into_inner()).take();
                while let Some(job) = next.take() {
                    let then = job();
                    let closed = {
                        let mut idle = lock(&idle);
                        if !idle.closed {
                            idle.workers.push(tx.clone());
                        }
                        idle.closed
                    };
                    then();
                    if closed {
                        return;
                    }
                    // A job, or `None` (or every sender gone): the pool is done.
                    next = rx.recv().ok().flatten();
                }
            });
        if spawned.is_err() {
            let job = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(job) = job {
                job()();
            }
        }
    }
}

impl Drop for Pool<'_, '_> {
    /// Close the idle list: idle workers end now, busy ones after their job.
    fn drop(&mut self) {
        let mut idle = lock(&self.idle);
        idle.closed = true;
        for worker in idle.workers.drain(..) {
            let _ = worker.send(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn jobs_one_after_another_reuse_one_thread() {
        let threads = Mutex::new(HashSet::new());
        let ran = AtomicUsize::new(0);
        let (threads_ref, ran_ref) = (&threads, &ran);
        std::thread::scope(|scope| {
            let pool = Pool::new(scope);
            for _ in 0..50 {
                let (done_tx, done_rx) = mpsc::channel();
                pool.run(move || {
                    let (threads, ran) = (threads_ref, ran_ref);
                    threads.lock().unwrap().insert(std::thread::current().id());
                    ran.fetch_add(1, Ordering::SeqCst);
                    // Told once the worker is idle: the next job finds it.
                    Box::new(move || done_tx.send(()).unwrap())
                });
                done_rx.recv().unwrap();
            }
        });
        assert_eq!(ran.load(Ordering::SeqCst), 50);
        assert_eq!(threads.lock().unwrap().len(), 1);
    }

    #[test]
    fn jobs_at_once_get_threads_of_their_own_and_the_scope_ends() {
        let ran = AtomicUsize::new(0);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let pool = Pool::new(scope);
            for _ in 0..4 {
                pool.run(|| {
                    // All four wait for each other: they must run at once.
                    barrier.wait();
                    ran.fetch_add(1, Ordering::SeqCst);
                    Box::new(|| ())
                });
            }
        });
        assert_eq!(ran.load(Ordering::SeqCst), 4);
    }
}
