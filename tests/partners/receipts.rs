//! Receipts: see mod.rs.
