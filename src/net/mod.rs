//! Network infrastructure shared by pulls and notice delivery.
//!
//! In: TLS file paths and timeouts; failure counts. Out: a ready HTTPS
//! client ([`tls::build_client`]) and retry delays ([`backoff::Backoff`]).
//! Promises: there is one of each, so a feed and a webhook cannot drift
//! apart in how they trust a server, present a key or back off.

pub mod backoff;
pub mod tls;

pub use backoff::{Backoff, Jitter};
pub use tls::{build_client, install_ring_provider, HttpsClient, Timeouts, TlsError, TlsFiles};
