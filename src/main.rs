fn main() {
    // A limited child starts as `rune __limits ...`: it limits itself and execs
    // its program, before anything else (no threads, no pools).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(code) = rune::exec::limits::launch_if_asked(&args) {
        std::process::exit(code);
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
