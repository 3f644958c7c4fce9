//! The `sky` command line.

fn main() {
    println!("sky {}", env!("CARGO_PKG_VERSION"));
}
