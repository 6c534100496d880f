//! Command-line front end (in progress).
fn main() {}
