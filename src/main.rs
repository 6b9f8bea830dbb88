fn main() {
    std::process::exit(rune::run(std::env::args_os()).code());
}
