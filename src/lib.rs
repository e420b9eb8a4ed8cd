//! outcomesd verifies Supporting Families outcome claims against partner data.
//!
//! A council runs it on its own servers. Partner agencies' feeds come in over
//! mutual TLS; every identity is keyed with HMAC-SHA256 at the door; records
//! are matched to people and families on those keyed tokens only; each
//! keyworker's claim is decided against the council's framework; and signed
//! notices go out to coordinators, at least once.
//!
//! # Layout
//!
//! The stages, in the order data flows through them:
//!
//! 1. [`pull`]: fetch one feed over mutual TLS, conditionally, with retries
//!    (the TLS client and the backoff are [`net`]'s);
//! 2. [`ingest`]: one delivery from bytes to stored families, all or nothing:
//!    [`ingest::feeds`] parses rows (bad rows rejected by row and column, never
//!    the value), [`ingest::pseudonymise`] normalises and keys identifiers
//!    under [`keys`], and [`ingest::matching`] links rows to people;
//!    [`ingest::validate`] runs the same path with no key or store for
//!    `validate-feed`, and [`ingest::feeds::schema`] publishes each kind's
//!    columns as a Table Schema (`docs/schemas/`);
//! 3. [`store`]: the only owner of the sled database: one file per tree
//!    family and one write path every write passes through;
//! 4. [`review`]: the doubts matching left (rows unlinked although a
//!    candidate came close) as a blind clerical-review queue, and reviewers'
//!    decisions, which the store replays and triangulation respects;
//! 5. [`framework`]: a council's outcome plan as data (`frameworks/*.toml`),
//!    loaded, checked and explained; [`framework::scenario`] runs a council's
//!    scenario files against it;
//! 6. [`triangulate`]: each claim decided against its rule, one file per rule
//!    kind in `triangulate/rules/`, on the clock it is given;
//! 7. [`notify`]: notices derived from the stored verdicts
//!    ([`notify::reconcile`]: whichever path decided a claim, its latest
//!    decision is queued), signed (Standard Webhooks) and delivered at least
//!    once from the store's outbox to webhooks and spool directories; a
//!    receipt for every delivery goes back to its partner the same way
//!    ([`notify::receipt`]), and on a schedule the aggregate of what its
//!    data evidenced, small numbers suppressed ([`notify::feedback`]).
//!
//! Around them:
//!
//! * [`audit`]: the tamper-evident audit log (who did what to which
//!   delivery, claim, notice or review item; hash-chained, under a key of
//!   its own, checkpointed in the store and the journal) and its check;
//! * [`records`]: the vocabulary every stage shares (source and event kinds,
//!   events, periods, the school-term calendar);
//! * [`subjects`]: data subjects' rights: subject access (everything held
//!   of a person, found from identifiers typed in), unlink, restriction,
//!   erasure, and retention's purge;
//! * [`config`]: the one loader `run` and `check-config` both use, yielding a
//!   validated config of built objects;
//! * [`daemon`]: the schedule, one cycle per feed, the status endpoint, and
//!   the shutdown handle every task holds;
//! * [`assurance`]: flags where claims depart from peers and the data
//!   (volumes, verified shares, edge-of-coverage decisions, flips, outcome
//!   frequencies), each with its test and figures;
//! * [`report`]: the coordinators' and IG page (`outcomesd report`):
//!   verdicts, the insufficient queue, feed coverage and the review queue
//!   as one self-contained HTML file with inline SVG charts;
//! * [`commands`]: what each CLI command does (`main.rs` only parses the
//!   command line and is the one exit point); [`error`] prints a cause chain
//!   once;
//! * [`sim`]: synthetic feeds with ground truth, simulated partners and a
//!   receiver, a test PKI, the demo and the benchmark. Production modules
//!   never import it (`tests/layout` checks); only the CLI's `demo`, `synth`
//!   and `bench` commands and the tests do.

// The stages, in the order data flows (rustfmt keeps the order because
// each stands alone).
pub mod pull;

pub mod ingest;

pub mod store;

pub mod review;

pub mod framework;

pub mod triangulate;

pub mod notify;

// Around them.
pub mod assurance;
pub mod audit;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod error;
pub mod keys;
pub mod net;
pub mod records;
pub mod report;
pub mod subjects;

// Simulation and test support: never imported by the modules above.
pub mod sim;
