fn main() {
    // A limited child starts as `rune __limits ...`: it limits itself and execs
    // its program, before anything else (no threads, no pools).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = rune::exec::limits::launch_if_asked(&args) {
        std::process::exit(code);
    }
    // Under a pids limit no thread may be creatable, and rayon's global pool would
    // panic at its first use (a failed build cannot be retried): when a probe
    // thread cannot be created, the pool runs on this thread alone.
    let threads_ok = threads_can_start(
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
    );
    if !threads_ok {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build_global();
    }
    let (status, leftovers) = rune::run_with_leftovers(args);
    // The process exits next: freeing a large catalog and plan piece by piece only
    // costs time (a third of a second at 10,000 modules), and the OS reclaims the
    // memory anyway.
    std::mem::forget(leftovers);
    // Every child is reaped: the guardian must not act on rune's exit.
    rune::exec::supervisor::stand_down();
    std::process::exit(status.code());
}

/// Whether `n` threads can run at once: each probe waits until all are started.
fn threads_can_start(n: usize) -> bool {
    let mut probes = Vec::with_capacity(n);
    let mut all = true;
    for _ in 0..n {
        let (hold, wait) = std::sync::mpsc::channel::<()>();
        match std::thread::Builder::new()
            .stack_size(16 << 10)
            .spawn(move || {
                let _ = wait.recv();
            }) {
            Ok(probe) => probes.push((hold, probe)),
            Err(_) => {
                all = false;
                break;
            }
        }
    }
    for (hold, probe) in probes {
        drop(hold);
        let _ = probe.join();
    }
    all
}
