fn main() {
    eprintln!("hull-shim: not implemented yet (see issue: hull-shim)");
    std::process::exit(1);
}
