//! outcomesd verifies Supporting Families outcome claims against partner data.
//!
//! The pipeline, one module per stage, in the order data flows:
//!
//! 1. [`feeds`]: partner deliveries (CSV / JSON Lines) parsed into typed rows;
//! 2. [`pseudonymise`]: identifiers normalised and keyed with HMAC-SHA256 at
//!    the door, under a key from [`keys`];
//! 3. [`matching`]: rows linked to people, deterministically, on tokens only;
//! 4. [`store`]: people, families, events and claims in sled, one atomic
//!    delivery at a time;
//! 5. [`ingest`] ties 1-4 together for one delivery.
//!
//! Around them: [`config`] (the validated configuration), [`synth`]
//! (synthetic feeds with ground truth), [`evaluate`] (matching quality
//! against that truth) and [`commands`] (what the CLI runs).

pub mod commands;
pub mod config;
pub mod daemon;
pub mod evaluate;
pub mod feeds;
pub mod framework;
pub mod ingest;
pub mod keys;
pub mod matching;
pub mod notify;
pub mod partner;
pub mod pki;
pub mod pseudonymise;
pub mod pull;
pub mod receiver;
pub mod shutdown;
pub mod store;
pub mod synth;
pub mod triangulate;
