pub mod feeds;
pub mod keys;
pub mod pseudonymise;
pub mod matching;
pub mod store;
