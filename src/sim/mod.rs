//! Simulation: synthetic data with ground truth, and the partner, receiver
//! and PKI stand-ins the demo, the benchmark and the tests run against.
//! Production code never imports from here.
pub mod bench;
pub mod demo;
pub mod evaluate;
pub mod partner;
pub mod pki;
pub mod receiver;
pub mod synth;
