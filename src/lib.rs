pub mod feeds;
pub mod keys;
pub mod pseudonymise;
