//! Ingest: one delivery from bytes to stored, matched families.
//!
//! In: a feed's [`FeedSpec`] and the bytes of one delivery. Out: an
//! [`IngestSummary`] (rows accepted and rejected, persons new and matched,
//! families touched) and, for partners, a rejection report.
//!
//! This is where the stages meet: `feeds` parses and `pseudonymise` keys each
//! row on a worker thread while this thread runs `matching` in row order and
//! groups events per person; `store` then writes the delivery and commits it.
//!
//! Promises:
//! * all or nothing: a delivery refused whole, or a store error part-way,
//!   leaves the store and the matcher as they were (the matcher is
//!   rebuilt from the store to forget the delivery's rows; if that rebuild
//!   fails the matcher is marked lost, [`Engine::matcher`] refuses to hand
//!   it out, and the next delivery rebuilds it before matching anything);
//! * a delivery is acknowledged (this returns `Ok`) only after the store has
//!   flushed its commit record;
//! * the same bytes from the same feed are stored once;
//! * a delivery the store's file system has no room for (less free than
//!   [`space_factor`] x its bytes plus the reserve) is refused before
//!   anything is written: [`IngestError::LowSpace`];
//! * guarded (see `guards`): a period ending after today is refused; a
//!   delivery that would withdraw too much, or covers an implausibly long
//!   period, is held (its metadata recorded, nothing applied, no matcher
//!   change) until an operator accepts it and the same bytes come again;
//!   claims and case rows the framework or the stored cases cannot place are
//!   rejected as rows.

mod audited;
pub mod feeds;
pub mod guards;
pub mod matching;
pub mod normalise;
mod prekeyed;
pub mod pseudonymise;
mod rebuild;
mod report;
mod space;
mod summary;
pub mod validate;

use rebuild::load_matcher;
pub use report::write_rejection_report;
use report::{case_dates_differ, field_issues};
pub use space::{free_bytes, needed_bytes, space_factor, DEFAULT_RESERVE};
pub use summary::{FieldIssue, HoldNote, IngestSummary, StageTimes};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::ingest::feeds::{
    open_delivery, parse_chunk, ChunkReader, FeedError, FeedSpec, Parsed, Row, RowBody,
};
use crate::ingest::matching::{Comparison, Delta, DoubtKind, Link, Matcher, PersonId};
use crate::ingest::pseudonymise::{token_hex, Pseudonymiser};
use crate::keys::HmacKey;
use crate::records::Period;
use crate::store::{
    centibits, Begin, CaseMember, CaseRecord, ClaimRecord, DeliveryRecord, DeliveryRows,
    EventBuffer, HoldRecord, HoldState, LinkRecord, NarrowLink, ReviewRecord, RowsAhead, RunnerUp,
    Store, StoreError, StoredCandidate,
};
use guards::{Door, Guards, Vocabulary};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write rejection report {path}")]
    Report {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data directory {path} may be read by others (mode {mode:o}); it holds pseudonymised personal data: chmod 700 {path}")]
    LooseDataDir { path: PathBuf, mode: u32 },
    #[error("delivery of feed {feed} refused, nothing applied: the data directory {path} has {free_mib} MiB free and this delivery needs {needed_mib} MiB ({factor} x its {bytes_mib} MiB, plus the [store] reserve_megabytes of {reserve_mib}); free space or grow the file system, and the next pull applies it")]
    LowSpace {
        feed: String,
        path: PathBuf,
        free_mib: u64,
        needed_mib: u64,
        factor: u64,
        bytes_mib: u64,
        reserve_mib: u64,
    },
    #[error("cannot read the free space of the data directory {path}")]
    FreeSpace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("cannot create or read the data directory {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Makes `dir` (0700) if missing; refuses it if group or others have any
/// access.
fn private_dir(dir: &Path) -> Result<(), IngestError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| IngestError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    match crate::keys::loose_mode(dir).map_err(err)? {
        Some(mode) => Err(IngestError::LooseDataDir {
            path: dir.to_path_buf(),
            mode,
        }),
        None => Ok(()),
    }
}

/// The store in `data_dir` (made 0700 if new; refused if its directory is
/// open to others), for the key `key`: what [`Engine::open`] opens, for
/// readers that need no matcher.
pub fn open_store(data_dir: &Path, key: &HmacKey) -> Result<Store, IngestError> {
    private_dir(data_dir)?;
    Ok(Store::open(&data_dir.join("store"), key.id())?)
}

/// Per-call options.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Supplies or overrides the delivery's period.
    pub period: Option<Period>,
    /// Rows per parse chunk.
    pub chunk_rows: usize,
    /// Rows whose candidate pairs re-estimate the linkage model before the
    /// delivery is matched (0: keep the model as it is).
    pub train_rows: usize,
    /// The day the guards take as today (default: the clock's).
    pub today: Option<chrono::NaiveDate>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            period: None,
            chunk_rows: 4096,
            train_rows: 50_000,
            today: None,
        }
    }
}

/// Parse threads: one per core. The matching thread waits on them while
/// the first rows are held back to train the model, and the bounded
/// channel stops them running far ahead after that.
fn parse_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1)
}

/// The store, the matcher state and the key, opened together.
pub struct Engine {
    pub store: Store,
    /// Private so that nothing reads it while `matcher_lost` (see
    /// [`Engine::matcher`]).
    matcher: Matcher,
    /// A rebuild from the store failed after the old matcher was dropped:
    /// the matcher is empty and must be rebuilt before anything uses it.
    matcher_lost: bool,
    pub pseudo: Pseudonymiser,
    reports_dir: PathBuf,
    review_band: Option<f64>,
    guards: Guards,
    vocab: Option<Vocabulary>,
    /// Free bytes left after any delivery (`[store] reserve_megabytes`).
    reserve: u64,
    /// `[store] space_multiple`, if set.
    space_multiple: Option<u64>,
    /// Where every delivery applied, held or refused is recorded (`audited.rs`).
    pub audit: Option<crate::audit::Audit>,
    /// Makes the next [`Engine::reload_matcher`] fail (tests only).
    #[cfg(test)]
    fail_next_reload: std::cell::Cell<bool>,
}

impl Engine {
    /// Opens the store under `data_dir` (made 0700 if missing; refused if
    /// group or others may read it, as a key file would be).
    pub fn open(data_dir: &Path, key: &HmacKey) -> Result<Engine, IngestError> {
        let store = open_store(data_dir, key)?;
        let matcher = load_matcher(&store)?;
        Ok(Engine {
            store,
            matcher,
            matcher_lost: false,
            pseudo: Pseudonymiser::new(key),
            reports_dir: data_dir.join("reports"),
            review_band: None,
            guards: Guards::default(),
            vocab: None,
            reserve: DEFAULT_RESERVE,
            space_multiple: None,
            audit: None,
            #[cfg(test)]
            fail_next_reload: std::cell::Cell::new(false),
        })
    }

    /// How far below the link threshold (bits) a candidate still puts a
    /// row in the review queue (config `[review] band_bits`).
    pub fn set_review_band(&mut self, bits: f64) {
        self.review_band = Some(bits);
        self.matcher.set_review_band(bits);
    }

    /// The limits deliveries are held or refused by (config `[guards]`).
    pub fn set_guards(&mut self, guards: Guards) {
        self.guards = guards;
    }

    /// Free space (bytes) that must remain after a delivery is applied.
    pub fn set_disk_reserve(&mut self, bytes: u64) {
        self.reserve = bytes;
    }

    /// The free space a delivery needs as a multiple of its size, for every
    /// kind (`None`: [`space_factor`] per kind).
    pub fn set_space_multiple(&mut self, multiple: Option<u64>) {
        self.space_multiple = multiple;
    }

    /// The framework claims and case rows are checked against.
    pub fn set_framework(&mut self, fw: &crate::framework::Framework) {
        self.vocab = Some(Vocabulary::of(fw));
    }

    /// Applies one delivery. See the module promises. (Called through the
    /// audited [`Engine::ingest`].)
    fn ingest_unaudited(
        &mut self,
        spec: &FeedSpec,
        bytes: &[u8],
        opts: &IngestOptions,
    ) -> Result<IngestSummary, IngestError> {
        space::check_space(
            self.store.path(),
            &spec.name,
            self.space_multiple
                .unwrap_or_else(|| space_factor(spec.kind)),
            bytes.len(),
            self.reserve,
        )?;
        let delivery = open_delivery(spec, bytes, opts.period)?;
        let mut summary = IngestSummary {
            feed: spec.name.clone(),
            kind: spec.kind,
            seq: None,
            duplicate_of: None,
            period: delivery.period,
            rows: 0,
            accepted: 0,
            rejected: 0,
            persons_new: 0,
            records_matched: 0,
            doubts: 0,
            uncertain_links: 0,
            families_touched: 0,
            unused_columns: delivery.unused_columns.clone(),
            rejections: Vec::new(),
            field_issues: Vec::new(),
            report: None,
            touched_cases: Vec::new(),
            passes: HashMap::new(),
            model_trained: false,
            hold: None,
            times: StageTimes::default(),
        };
        let today = opts
            .today
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        self.guards
            .check_period(&spec.name, delivery.period, opts.period.is_some(), today)?;
        // The same bytes held before: not applied again unless accepted.
        let prior = self
            .store
            .hold_of(&spec.name, &delivery.content_hash)?
            .filter(|h| h.period == delivery.period && h.applied_as.is_none());
        let lifted = match &prior {
            Some(h) if h.state == HoldState::Accepted => Some(h.seq),
            Some(h) => {
                summary.duplicate_of = Some(h.seq);
                summary.hold = Some(HoldNote {
                    id: h.seq,
                    state: h.state,
                    reason: h.reason.clone(),
                });
                return Ok(summary);
            }
            None => None,
        };
        let seq = match self.store.begin(&spec.name, &delivery.content_hash)? {
            Begin::Duplicate(d) => {
                summary.duplicate_of = Some(d);
                return Ok(summary);
            }
            Begin::Started(seq) => seq,
        };
        summary.seq = Some(seq);
        let check = HoldCheck {
            on: lifted.is_none() && spec.kind.carries_events(),
            today,
        };
        match self.apply(spec, bytes, &delivery, seq, opts, check, &mut summary) {
            Ok(None) => {}
            Ok(Some(reasons)) => return self.hold(spec, &delivery, seq, reasons, summary),
            Err(e) => {
                // Undo: rows written under seq go, the matcher forgets.
                self.store.sweep(seq)?;
                self.reload_matcher()?;
                return Err(e);
            }
        }
        if let Some(h) = lifted {
            self.store.hold_applied(h, seq)?;
        }
        tracing::info!(
            feed = %spec.name, seq, rows = summary.rows, accepted = summary.accepted,
            rejected = summary.rejected, persons_new = summary.persons_new,
            families_touched = summary.families_touched, "delivery stored"
        );
        Ok(summary)
    }

    /// Records a begun delivery as held: nothing of it was written and the
    /// matcher forgets whatever it learned from it.
    fn hold(
        &mut self,
        spec: &FeedSpec,
        delivery: &crate::ingest::feeds::Delivery,
        seq: u32,
        reasons: Vec<String>,
        mut summary: IngestSummary,
    ) -> Result<IngestSummary, IngestError> {
        // Their links went to the store as they were matched: they go
        // (first, so a failed rebuild below leaves none behind).
        self.store.sweep_ahead(seq)?;
        if summary.rows > 0 || summary.model_trained {
            // The rows were matched: the matcher forgets them.
            self.reload_matcher()?;
        }
        // Its rejection report too, before the hold is recorded (as before a
        // commit): the hold's receipt carries it (`notify::receipt`).
        if !summary.rejections.is_empty() || !summary.field_issues.is_empty() {
            summary.report = Some(self.write_report(seq, &spec.name, &summary)?);
        }
        let reason = reasons.join("; ");
        let rec = HoldRecord {
            seq,
            feed: spec.name.clone(),
            kind: spec.kind,
            period: delivery.period,
            content_hash: hex::encode(delivery.content_hash),
            received_at: chrono::Utc::now(),
            rows: summary.rows,
            accepted: summary.accepted,
            rejected: summary.rejected,
            reason: reason.clone(),
            state: HoldState::Held,
            decision: None,
            applied_as: None,
        };
        self.store.hold(&rec)?;
        tracing::warn!(feed = %spec.name, seq, rows = summary.rows, reason = %reason, "delivery held, not applied");
        summary.hold = Some(HoldNote {
            id: seq,
            state: HoldState::Held,
            reason,
        });
        summary.families_touched = 0;
        summary.persons_new = 0;
        summary.records_matched = 0;
        summary.doubts = 0;
        Ok(summary)
    }

    /// Matches and writes a begun delivery; `Some(reasons)` instead when a
    /// guard holds it (decided before anything is written).
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        spec: &FeedSpec,
        bytes: &[u8],
        delivery: &crate::ingest::feeds::Delivery,
        seq: u32,
        opts: &IngestOptions,
        check: HoldCheck,
        summary: &mut IngestSummary,
    ) -> Result<Option<Vec<String>>, IngestError> {
        let guards = self.guards;
        let door = Door {
            latest: guards.latest(check.today),
            vocab: self.vocab.as_ref(),
            cases: (spec.kind == crate::records::SourceKind::Claims)
                .then(|| self.store.case_members())
                .transpose()?
                .map(|cs| cs.into_iter().map(|(case_ref, _)| case_ref).collect()),
        };
        let mut batch = Batch::new(self.store.rows_ahead(seq));
        let mut match_time = Duration::ZERO;
        let matcher = &mut self.matcher;
        // The first rows are held back until the model has learned from
        // their candidate pairs; then everything is matched in row order.
        // Their candidate pairs are counted as each chunk arrives, while the
        // workers parse the next (the matcher does not change until it is
        // trained, so the counts are those of counting them all at the end).
        let mut held: Option<Vec<Vec<Parsed>>> = (opts.train_rows > 0).then(Vec::new);
        let mut held_rows = 0usize;
        let mut patterns: HashMap<Comparison, u32> = HashMap::new();
        let match_rows = |rows: Vec<Parsed>,
                          batch: &mut Batch,
                          matcher: &mut Matcher,
                          summary: &mut IngestSummary| {
            for parsed in rows {
                summary.rows += 1;
                match parsed.and_then(|row| match door.check(row.number, &row.body) {
                    Some(rej) => Err(rej),
                    None => Ok(row),
                }) {
                    Ok(row) => batch.add(row, seq, matcher, summary),
                    Err(rej) => {
                        summary.rejected += 1;
                        summary.rejections.push(rej);
                    }
                }
            }
        };
        let mut on_rows = |rows: Vec<Parsed>| {
            let t_rows = Instant::now();
            match held.as_mut() {
                Some(h) => {
                    held_rows += rows.len();
                    observe(matcher, &rows, &mut patterns);
                    h.push(rows);
                    if held_rows >= opts.train_rows {
                        let h = held.take().expect("held");
                        summary.model_trained = matcher.train(&patterns, &mut batch.delta);
                        for rows in h {
                            match_rows(rows, &mut batch, matcher, summary);
                        }
                    }
                }
                None => match_rows(rows, &mut batch, matcher, summary),
            }
            match_time += t_rows.elapsed();
        };
        let parse_time = parse_in_order(delivery, spec, bytes, opts, &self.pseudo, &mut on_rows)?;
        if let Some(h) = held.take() {
            let t_rows = Instant::now();
            summary.model_trained = matcher.train(&patterns, &mut batch.delta);
            for rows in h {
                match_rows(rows, &mut batch, matcher, summary);
            }
            match_time += t_rows.elapsed();
        }
        if check.on {
            // Decided once the rows are counted, before anything is written:
            // a hold costs its matching and a matcher reload, a delivery
            // applied pays nothing (no second pass, no rows kept).
            let previous = guards.previous(self.store.deliveries(), &spec.name, delivery.period);
            let mut reasons = guards.period_reasons(delivery.period);
            reasons.extend(guards.count_reasons(delivery.period, summary.accepted, previous));
            if !reasons.is_empty() {
                return Ok(Some(reasons));
            }
        }
        summary.times.parse_pseudonymise = parse_time;
        summary.times.matching = match_time;
        let t_store = Instant::now();
        let mut touched_cases: Vec<String> = self
            .cases_touched(&batch, &spec.name, delivery.period)?
            .into_iter()
            .collect();
        touched_cases.sort();
        summary.families_touched = touched_cases.len() as u64;
        summary.touched_cases = touched_cases;
        let rec = DeliveryRecord {
            seq,
            feed: spec.name.clone(),
            kind: spec.kind,
            period: delivery.period,
            content_hash: hex::encode(delivery.content_hash),
            received_at: chrono::Utc::now(),
            rows: summary.rows,
            accepted: summary.accepted,
            rejected: summary.rejected,
            persons_new: summary.persons_new,
            records_matched: summary.records_matched,
            families_touched: summary.families_touched,
        };
        // The report before the commit: a report that cannot be written
        // fails the delivery whole, so a retry applies it (after the commit
        // the retry would be a duplicate, its report never written).
        if !summary.rejections.is_empty() || !summary.field_issues.is_empty() {
            summary.report = Some(self.write_report(seq, &spec.name, summary)?);
        }
        let cases: Vec<&CaseRecord> = batch.cases.values().collect();
        // The links and runners-up went to the store while the rows were
        // matched; the last of them now, before the commit.
        batch.ahead.finish()?;
        let rows = DeliveryRows {
            delta: &batch.delta,
            events: &batch.events,
            cases: &cases,
            claims: &batch.claims,
            reviews: &batch.reviews,
            narrow: &batch.narrow,
        };
        self.store
            .write_delivery(rows, rec, &delivery.content_hash)?;
        summary.times.store = t_store.elapsed();
        Ok(None)
    }

    /// Families touched: the cases this delivery names, and the cases whose
    /// members (after merges) it brought events for (or may own a doubt);
    /// every case when it replaces part of an earlier delivery of its feed,
    /// since the events it hides may have decided any claim.
    fn cases_touched(
        &self,
        batch: &Batch,
        feed: &str,
        period: Option<Period>,
    ) -> Result<HashSet<String>, IngestError> {
        let mut case_refs: HashSet<String> = batch.cases.keys().cloned().collect();
        for c in batch.claims.iter() {
            case_refs.insert(c.case_ref.clone());
        }
        if let Some(p) = period {
            let replaces = self
                .store
                .deliveries()
                .any(|d| d.feed == feed && d.period.is_none_or(|q| q.overlaps(p.from, p.to)));
            if replaces {
                case_refs.extend(self.store.case_members()?.into_iter().map(|(c, _)| c));
                return Ok(case_refs);
            }
        }
        if !batch.touched.is_empty() {
            let touched: HashSet<PersonId> = batch
                .touched
                .iter()
                .map(|p| self.matcher.canonical(*p))
                .collect();
            for (case_ref, members) in self.store.case_members()? {
                if members
                    .iter()
                    .any(|m| touched.contains(&self.matcher.canonical(*m)))
                {
                    case_refs.insert(case_ref);
                }
            }
        }
        Ok(case_refs)
    }

    fn write_report(
        &self,
        seq: u32,
        feed: &str,
        summary: &IngestSummary,
    ) -> Result<PathBuf, IngestError> {
        let path = self
            .reports_dir
            .join(format!("{seq:06}-{feed}-rejections.csv"));
        let err = |source| IngestError::Report {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.reports_dir).map_err(err)?;
        let tmp = path.with_extension("csv.tmp");
        let file = std::fs::File::create(&tmp).map_err(err)?;
        write_rejection_report(file, feed, &summary.rejections, &summary.field_issues)
            .map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)?;
        Ok(path)
    }
}

/// Parses a delivery on worker threads and hands each chunk's rows to
/// `each`, on this thread, in row order. Returns the workers' parse time.
///
/// Workers take chunks in turn from one reader and tag them with their
/// index; this thread puts them back in order, so matching is deterministic
/// whatever the timing.
fn parse_in_order(
    delivery: &crate::ingest::feeds::Delivery,
    spec: &FeedSpec,
    bytes: &[u8],
    opts: &IngestOptions,
    pseudo: &Pseudonymiser,
    mut each: impl FnMut(Vec<Parsed>),
) -> Result<Duration, FeedError> {
    type Msg = Result<(Vec<Parsed>, Duration), FeedError>;
    let reader = std::sync::Mutex::new((
        ChunkReader::new(delivery, spec, bytes, opts.chunk_rows),
        0usize,
    ));
    std::thread::scope(|sc| {
        let (tx, rx) = mpsc::sync_channel::<(usize, Msg)>(4);
        for _ in 0..parse_threads() {
            let tx = tx.clone();
            let reader = &reader;
            sc.spawn(move || loop {
                let t = Instant::now();
                let (idx, next) = {
                    let mut r = reader.lock().expect("reader lock");
                    let idx = r.1;
                    r.1 += 1;
                    (idx, r.0.next_chunk())
                };
                let msg = match next {
                    Ok(Some(chunk)) => {
                        Ok((parse_chunk(chunk, delivery, spec, pseudo), t.elapsed()))
                    }
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let stop = msg.is_err();
                if tx.send((idx, msg)).is_err() || stop {
                    return;
                }
            });
        }
        drop(tx);
        let mut waiting: BTreeMap<usize, Msg> = BTreeMap::new();
        let mut next_idx = 0usize;
        let ordered = std::iter::from_fn(|| loop {
            if let Some(m) = waiting.remove(&next_idx) {
                next_idx += 1;
                return Some(m);
            }
            match rx.recv() {
                Ok((i, m)) => {
                    waiting.insert(i, m);
                }
                // Workers are done; an error may have left a gap.
                Err(_) => return waiting.pop_first().map(|(_, m)| m),
            }
        });
        let mut parse_time = Duration::ZERO;
        for msg in ordered {
            let (rows, took) = msg?;
            parse_time += took;
            each(rows);
        }
        Ok(parse_time)
    })
}

/// Whether a delivery's guards apply (not to an accepted hold, nor to a
/// feed without events), and the day they take as today.
#[derive(Debug, Clone, Copy)]
struct HoldCheck {
    on: bool,
    today: chrono::NaiveDate,
}

/// What one delivery's accepted rows add, gathered in memory until the
/// store writes them as one delivery; but the links and runners-up (one a
/// row) go to the store as they come, under the delivery's seq, so they
/// are never all held and their writes overlap the matching.
struct Batch {
    delta: Delta,
    events: EventBuffer,
    touched: HashSet<PersonId>,
    cases: BTreeMap<String, CaseRecord>,
    claims: Vec<ClaimRecord>,
    ahead: RowsAhead,
    reviews: Vec<ReviewRecord>,
    narrow: Vec<NarrowLink>,
}

/// Counts the comparison patterns of a held-back chunk's candidate pairs,
/// which the linkage model is then re-estimated from.
fn observe(matcher: &mut Matcher, rows: &[Parsed], patterns: &mut HashMap<Comparison, u32>) {
    for row in rows.iter().flatten() {
        if let Some(t) = &row.person {
            matcher.observe(t, patterns);
        }
    }
}

fn link_record(row: u64, link: &Link, t: &crate::ingest::pseudonymise::PersonTokens) -> LinkRecord {
    LinkRecord {
        row,
        person: link.person,
        rule: link.rule.to_u8(),
        score: link.score,
        levels: link.levels,
        weights: link.weights.map(centibits),
        repairs: t.repair_bits(),
        dropped: t.dropped.len().min(255) as u8,
        household: t.address,
    }
}

impl Batch {
    fn new(ahead: RowsAhead) -> Batch {
        Batch {
            delta: Delta::default(),
            events: EventBuffer::default(),
            touched: HashSet::new(),
            cases: BTreeMap::new(),
            claims: Vec::new(),
            ahead,
            reviews: Vec::new(),
            narrow: Vec::new(),
        }
    }

    /// Matches one parsed row to its person and adds what it carries,
    /// counting it accepted, or rejected when it contradicts its case.
    fn add(&mut self, row: Row, seq: u32, matcher: &mut Matcher, summary: &mut IngestSummary) {
        let mut narrow = None;
        // A case's other members in this delivery are other people.
        let apart: Vec<PersonId> = match &row.body {
            RowBody::CaseMember(m) => self
                .cases
                .get(&m.case_ref)
                .map(|c| c.members.iter().map(|x| x.person).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let person = row.person.as_ref().map(|t| {
            let link = matcher.resolve_apart(t, &mut self.delta, &apart);
            narrow = matcher.narrow_margin(&link);
            let p = link.person;
            *summary.passes.entry(link.rule.name()).or_default() += 1;
            if link.rule.is_new() {
                summary.persons_new += 1;
            } else {
                summary.records_matched += 1;
            }
            summary.field_issues.extend(field_issues(row.number, t));
            self.ahead.link(link_record(row.number, &link, t));
            if let Some(r) = &link.runner_up {
                self.ahead.runner(RunnerUp {
                    row: row.number,
                    candidate: StoredCandidate::of(r),
                });
            }
            // A linked row's doubt (a case member close by) matters only for
            // the events it carries: a case row is a member itself.
            let doubts = match row.body {
                RowBody::Event(_) => &link.doubts[..],
                _ if link.rule.is_new() => &link.doubts[..],
                _ => &[],
            };
            for (n, c) in doubts.iter().enumerate() {
                let kind = DoubtKind::of(link.rule, c);
                // The candidate's family must be re-decided: a possible
                // record may now hold one of its claims.
                self.touched.insert(c.person);
                self.reviews.push(ReviewRecord {
                    seq,
                    row: row.number,
                    n: n as u8,
                    kind,
                    person: p,
                    candidate: StoredCandidate::of(c),
                });
            }
            summary.doubts += doubts.len() as u64;
            p
        });
        match row.body {
            RowBody::Event(ev) => {
                let p = person.expect("event rows carry a person");
                self.touched.insert(p);
                self.events.push(p, &ev);
                if let Some(margin) = narrow {
                    summary.uncertain_links += 1;
                    self.narrow.push(NarrowLink {
                        row: row.number,
                        person: p,
                        margin: centibits(margin),
                        event: ev,
                    });
                }
            }
            RowBody::CaseMember(m) => {
                let p = person.expect("case rows carry a person");
                let case = self
                    .cases
                    .entry(m.case_ref.clone())
                    .or_insert_with(|| CaseRecord {
                        case_ref: m.case_ref.clone(),
                        seq,
                        start: m.case_start,
                        end: m.case_end,
                        members: Vec::new(),
                    });
                if let Some(rej) = case_dates_differ(row.number, (case.start, case.end), &m) {
                    summary.rejected += 1;
                    summary.rejections.push(rej);
                    return;
                }
                let address = row
                    .person
                    .as_ref()
                    .and_then(|t| t.address)
                    .map(|a| token_hex(&a));
                matcher.note_case_member(&m.case_ref, p);
                case.members.push(CaseMember {
                    person: p,
                    role: m.role,
                    problems: m.problems,
                    address,
                });
                self.touched.insert(p);
            }
            RowBody::Claim(c) => self.claims.push(ClaimRecord {
                seq,
                case_ref: c.case_ref,
                outcome_id: c.outcome_id,
                claim_date: c.claim_date,
                keyworker_ref: c.keyworker_ref,
                team: c.team,
            }),
        }
        summary.accepted += 1;
    }
}
