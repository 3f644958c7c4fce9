//! Quickstart: describe a task and see where sky would run it.

fn main() {
    let task = sky::Task::new();
    println!("{task:?}");
}
