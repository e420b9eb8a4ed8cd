//! outcomesd verifies Supporting Families outcome claims against partner data.
pub mod commands;
pub mod config;
pub mod daemon;
pub mod error;
pub mod framework;
pub mod ingest;
pub mod keys;
pub mod net;
pub mod notify;
pub mod pull;
pub mod records;
pub mod sim;
pub mod store;
pub mod triangulate;
