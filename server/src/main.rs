//! spikewatch binary
fn main() {}
