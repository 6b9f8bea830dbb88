fn main() {
    let (status, leftovers) = rune::run_with_leftovers(std::env::args_os());
    // The process exits next: freeing a large catalog and plan piece by piece only
    // costs time (a third of a second at 10,000 modules), and the OS reclaims the
    // memory anyway.
    std::mem::forget(leftovers);
    // Every child is reaped: the guardian must not act on rune's exit.
    rune::exec::supervisor::stand_down();
    std::process::exit(status.code());
}
