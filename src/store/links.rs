//! Links: where each stored row went, and the evidence for it.
//!
//! Trees owned: `links` (seq u32, chunk u32 → packed [`LinkRecord`]s, up to
//! [`VALUE_BYTES`] per value) and `runners` (seq u32, chunk u32 → packed
//! [`RunnerUp`]s: for each row that had another candidate, the best one it
//! did not go to, for `links explain`) and `narrow` (seq u32, chunk u32 →
//! packed [`NarrowLink`]s: event rows linked within the review band above
//! the threshold, with their event, so a verdict resting on one is marked).
//!
//! Promises: one record per accepted row that names a person, written with
//! its delivery and swept with it; a record holds the row number, the
//! person, the rule, the score and each field's comparison level and weight,
//! and the household pseudonym: never an identifier value.

use super::{read_u32, seq_bytes, Store, StoreError, TreeId, Trees, Write, VALUE_BYTES};
use crate::ingest::matching::{Candidate, Comparison, PersonId, FIELDS};
use crate::ingest::pseudonymise::Token;
use crate::records::Event;

/// One row's link, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRecord {
    /// Row number as in rejection reports.
    pub row: u64,
    pub person: PersonId,
    /// [`crate::ingest::matching::Rule`] as a byte.
    pub rule: u8,
    pub score: f32,
    pub levels: Comparison,
    /// Per-field weights in hundredths of a bit.
    pub weights: [i16; FIELDS],
    /// [`crate::ingest::pseudonymise::Repair`] bits.
    pub repairs: u8,
    /// Identifier fields dropped as bad.
    pub dropped: u8,
    /// Household (address and postcode) pseudonym.
    pub household: Option<Token>,
}

/// A link read back, with the delivery it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLink {
    pub seq: u32,
    pub link: LinkRecord,
}

pub(super) const PACKED: usize = 4 + 8 + 1 + 4 + FIELDS + FIELDS * 2 + 1 + 1 + 1 + 16;

/// Weights as stored: hundredths of a bit.
pub fn centibits(w: f32) -> i16 {
    (w * 100.0).clamp(-32000.0, 32000.0) as i16
}

/// A scored candidate as stored: person, score, levels, weights (hundredths
/// of a bit) and whether the household guard ruled it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredCandidate {
    pub person: PersonId,
    pub score: f32,
    pub levels: Comparison,
    pub weights: [i16; FIELDS],
    pub ruled_out: bool,
}

pub(super) const CANDIDATE_LEN: usize = 8 + 4 + FIELDS + FIELDS * 2 + 1;

impl StoredCandidate {
    pub fn of(c: &Candidate) -> StoredCandidate {
        StoredCandidate {
            person: c.person,
            score: c.score,
            levels: c.levels,
            weights: c.weights.map(centibits),
            ruled_out: c.ruled_out,
        }
    }

    pub(super) fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.person.to_be_bytes());
        out.extend_from_slice(&self.score.to_be_bytes());
        out.extend_from_slice(&self.levels.levels);
        for w in self.weights {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.push(u8::from(self.ruled_out));
    }

    pub(super) fn unpack(b: &[u8]) -> StoredCandidate {
        let mut levels = Comparison::default();
        levels.levels.copy_from_slice(&b[12..12 + FIELDS]);
        let w0 = 12 + FIELDS;
        let mut weights = [0i16; FIELDS];
        for (i, w) in weights.iter_mut().enumerate() {
            *w = i16::from_be_bytes([b[w0 + 2 * i], b[w0 + 2 * i + 1]]);
        }
        StoredCandidate {
            person: u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
            score: f32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
            levels,
            weights,
            ruled_out: b[w0 + FIELDS * 2] == 1,
        }
    }
}

/// The best candidate a row did not go to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunnerUp {
    pub row: u64,
    pub candidate: StoredCandidate,
}

pub(super) const RUNNER_LEN: usize = 4 + CANDIDATE_LEN;

/// An event row linked to an existing person by a score that cleared the
/// threshold by less than the review band: an *uncertain* link. The row's
/// event is kept with it, since events are stored per person, not per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NarrowLink {
    pub row: u64,
    /// The person the row went to (its events are stored under this id).
    pub person: PersonId,
    /// Bits above the threshold, in hundredths.
    pub margin: i16,
    pub event: Event,
}

pub(super) const NARROW_LEN: usize = 4 + 8 + 2 + super::events::EVENT_LEN;

impl NarrowLink {
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.row as u32).to_be_bytes());
        out.extend_from_slice(&self.person.to_be_bytes());
        out.extend_from_slice(&self.margin.to_be_bytes());
        super::events::pack_event(&self.event, out);
    }

    fn unpack(b: &[u8]) -> Option<NarrowLink> {
        Some(NarrowLink {
            row: u64::from(read_u32(&b[..4])),
            person: u64::from_be_bytes(b[4..12].try_into().ok()?),
            margin: i16::from_be_bytes([b[12], b[13]]),
            event: super::events::unpack_events(&b[14..])?.pop()?,
        })
    }
}

impl LinkRecord {
    fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.row as u32).to_be_bytes());
        out.extend_from_slice(&self.person.to_be_bytes());
        out.push(self.rule);
        out.extend_from_slice(&self.score.to_be_bytes());
        out.extend_from_slice(&self.levels.levels);
        for w in self.weights {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.push(self.repairs);
        out.push(self.dropped);
        out.push(u8::from(self.household.is_some()));
        out.extend_from_slice(&self.household.unwrap_or_default());
    }

    fn unpack(b: &[u8]) -> LinkRecord {
        let mut levels = Comparison::default();
        levels.levels.copy_from_slice(&b[17..17 + FIELDS]);
        let mut weights = [0i16; FIELDS];
        let w0 = 17 + FIELDS;
        for (i, w) in weights.iter_mut().enumerate() {
            *w = i16::from_be_bytes([b[w0 + 2 * i], b[w0 + 2 * i + 1]]);
        }
        let t = w0 + FIELDS * 2;
        LinkRecord {
            row: u64::from(read_u32(&b[..4])),
            person: u64::from_be_bytes(b[4..12].try_into().expect("8 bytes")),
            rule: b[12],
            score: f32::from_be_bytes(b[13..17].try_into().expect("4 bytes")),
            levels,
            weights,
            repairs: b[t],
            dropped: b[t + 1],
            household: (b[t + 2] == 1).then(|| b[t + 3..t + 19].try_into().expect("16 bytes")),
        }
    }
}

impl Store {
    /// All of a delivery's links at once: what [`RowsAhead`] must write,
    /// kept as the reference its test compares with.
    #[cfg(test)]
    pub(super) fn put_links(&self, seq: u32, links: &[LinkRecord]) -> Result<(), StoreError> {
        self.put_packed(TreeId::Links, seq, PACKED, links, |l, buf| l.pack(buf))
    }

    #[cfg(test)]
    pub(super) fn put_runners(&self, seq: u32, runners: &[RunnerUp]) -> Result<(), StoreError> {
        self.put_packed(TreeId::Runners, seq, RUNNER_LEN, runners, |r, buf| {
            pack_runner(r, buf)
        })
    }

    pub(super) fn put_narrow(&self, seq: u32, narrow: &[NarrowLink]) -> Result<(), StoreError> {
        self.put_packed(TreeId::Narrow, seq, NARROW_LEN, narrow, |n, buf| {
            n.pack(buf)
        })
    }

    /// Every committed delivery's uncertain links, with the delivery each
    /// came in. Few (they sit in a band a few bits wide), so read whole.
    pub fn narrow_links(&self) -> Result<Vec<(u32, NarrowLink)>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.iter(TreeId::Narrow) {
            let (k, v) = item?;
            let seq = read_u32(&k);
            if !self.committed.contains_key(&seq) {
                continue;
            }
            if v.len() % NARROW_LEN != 0 {
                return Err(
                    self.corrupt(format!("uncertain links of delivery {seq} are truncated"))
                );
            }
            for b in v.chunks_exact(NARROW_LEN) {
                let n = NarrowLink::unpack(b).ok_or_else(|| {
                    self.corrupt(format!(
                        "an uncertain link of delivery {seq} does not unpack"
                    ))
                })?;
                out.push((seq, n));
            }
        }
        Ok(out)
    }

    /// Writes fixed-size records under (seq, chunk) in values of up to
    /// [`VALUE_BYTES`].
    fn put_packed<T>(
        &self,
        tree: TreeId,
        seq: u32,
        len: usize,
        items: &[T],
        pack: impl Fn(&T, &mut Vec<u8>),
    ) -> Result<(), StoreError> {
        put_packed(&self.trees, tree, (seq, 0), len, items, pack)
    }

    /// The record of row `row` among delivery `seq`'s fixed-size records
    /// (each starting with its row number) in `tree`.
    fn find_packed(
        &self,
        tree: TreeId,
        seq: u32,
        len: usize,
        row: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        for item in self.trees.scan_prefix(tree, &seq_bytes(seq)) {
            let (_, v) = item?;
            if let Some(b) = v
                .chunks(len)
                .find(|b| b.len() == len && u64::from(read_u32(&b[..4])) == row)
            {
                return Ok(Some(b.to_vec()));
            }
        }
        Ok(None)
    }

    /// Removes what a [`RowsAhead`] wrote under a begun delivery that is
    /// not going to commit (a hold), leaving it begun.
    pub fn sweep_ahead(&self, seq: u32) -> Result<(), StoreError> {
        self.sweep_links(seq)
    }

    pub(super) fn sweep_links(&self, seq: u32) -> Result<(), StoreError> {
        for tree in [TreeId::Links, TreeId::Runners, TreeId::Narrow] {
            for item in self.trees.scan_prefix(tree, &seq_bytes(seq)) {
                let (k, _) = item?;
                self.trees.write(tree, Write::Remove(&k))?;
            }
        }
        Ok(())
    }

    /// The stored link of row `row` of delivery `seq`, and its runner-up.
    pub fn link_of_row(
        &self,
        seq: u32,
        row: u64,
    ) -> Result<Option<(LinkRecord, Option<StoredCandidate>)>, StoreError> {
        if !self.committed.contains_key(&seq) {
            return Ok(None);
        }
        let Some(link) = self.find_packed(TreeId::Links, seq, PACKED, row)? else {
            return Ok(None);
        };
        let runner = self
            .find_packed(TreeId::Runners, seq, RUNNER_LEN, row)?
            .map(|b| StoredCandidate::unpack(&b[4..]));
        Ok(Some((LinkRecord::unpack(&link), runner)))
    }

    /// Every committed delivery's links, in delivery and row order.
    pub fn links(&self) -> impl Iterator<Item = Result<StoredLink, StoreError>> + '_ {
        self.trees
            .iter(TreeId::Links)
            .filter_map(move |item| match item {
                Err(e) => Some(Err(e)),
                Ok((k, v)) => {
                    let seq = read_u32(&k);
                    if !self.committed.contains_key(&seq) {
                        return None;
                    }
                    if v.len() % PACKED != 0 {
                        return Some(Err(
                            self.corrupt(format!("links of delivery {seq} are truncated"))
                        ));
                    }
                    Some(Ok((seq, v)))
                }
            })
            .flat_map(
                |r| -> Box<dyn Iterator<Item = Result<StoredLink, StoreError>>> {
                    match r {
                        Err(e) => Box::new(std::iter::once(Err(e))),
                        Ok((seq, v)) => {
                            let links: Vec<_> = v
                                .chunks(PACKED)
                                .map(|b| {
                                    Ok(StoredLink {
                                        seq,
                                        link: LinkRecord::unpack(b),
                                    })
                                })
                                .collect();
                            Box::new(links.into_iter())
                        }
                    }
                },
            )
    }
}

/// Records of `len` bytes per value.
const fn per_value(len: usize) -> usize {
    VALUE_BYTES / len
}

/// Writes fixed-size records under (seq, chunk) in values of up to
/// [`VALUE_BYTES`], the chunks numbered from `at.1`.
fn put_packed<T>(
    trees: &Trees,
    tree: TreeId,
    at: (u32, u32),
    len: usize,
    items: &[T],
    pack: impl Fn(&T, &mut Vec<u8>),
) -> Result<(), StoreError> {
    let (seq, first) = at;
    let per_value = per_value(len);
    let mut buf = Vec::with_capacity(per_value.min(items.len()) * len);
    for (i, chunk) in items.chunks(per_value).enumerate() {
        buf.clear();
        for item in chunk {
            pack(item, &mut buf);
        }
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&seq_bytes(seq));
        k[4..].copy_from_slice(&(first + i as u32).to_be_bytes());
        trees.write(tree, Write::Insert(&k, &buf))?;
    }
    Ok(())
}

/// Records of one tree not yet handed on, and how many values were.
struct Pending<T> {
    items: Vec<T>,
    sent: u32,
}

impl<T> Pending<T> {
    fn new() -> Self {
        Pending {
            items: Vec::new(),
            sent: 0,
        }
    }

    /// Adds a record; [`HANDOFF`] values' worth of `len`-byte records, once
    /// there are that many, come back with their first chunk number to be
    /// handed on.
    fn push(&mut self, item: T, len: usize) -> Option<(u32, Vec<T>)> {
        self.items.push(item);
        (self.items.len() == HANDOFF * per_value(len)).then(|| self.take(len))
    }

    /// The records left, if any, with their first chunk number.
    fn rest(&mut self, len: usize) -> Option<(u32, Vec<T>)> {
        (!self.items.is_empty()).then(|| self.take(len))
    }

    fn take(&mut self, len: usize) -> (u32, Vec<T>) {
        let first = self.sent;
        self.sent += self.items.len().div_ceil(per_value(len)) as u32;
        (first, std::mem::take(&mut self.items))
    }
}

/// Values handed to the writer at once: a handoff per 4 KiB value would
/// wake it some 250 times per MiB.
const HANDOFF: usize = 64;

/// [`HANDOFF`] full values' records, or a delivery's last ones.
enum Part {
    Links(u32, Vec<LinkRecord>),
    Runners(u32, Vec<RunnerUp>),
}

fn pack_runner(r: &RunnerUp, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(r.row as u32).to_be_bytes());
    r.candidate.pack(buf);
}

/// A begun delivery's links and runners-up, written on a thread of their
/// own while the rest of the delivery is still being matched: each value as
/// soon as [`HANDOFF`] values' records are complete, the last ones at
/// [`RowsAhead::finish`]. Keys and values are those writing them all at
/// once would give. They are rows under the delivery's seq like any other,
/// so they count only once it commits, and a sweep removes them.
///
/// Dropped without `finish` (an error on the way), it stops: it writes
/// what it was handed and returns only once its thread has ended, so
/// nothing is written under the seq after a sweep that follows.
pub struct RowsAhead {
    seq: u32,
    links: Pending<LinkRecord>,
    runners: Pending<RunnerUp>,
    tx: Option<std::sync::mpsc::SyncSender<Part>>,
    thread: Option<std::thread::JoinHandle<Result<(), StoreError>>>,
}

impl Store {
    /// Starts writing a begun delivery's links and runners-up ahead of its
    /// commit (see [`RowsAhead`]).
    pub fn rows_ahead(&self, seq: u32) -> RowsAhead {
        // Two values in flight at most: the matcher runs ahead of the
        // writes by no more than that, and holds no more than that.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Part>(2);
        let trees = self.trees.clone();
        let thread = std::thread::spawn(move || {
            for part in rx {
                match part {
                    Part::Links(i, l) => {
                        put_packed(&trees, TreeId::Links, (seq, i), PACKED, &l, |l, b| {
                            l.pack(b)
                        })?
                    }
                    Part::Runners(i, r) => put_packed(
                        &trees,
                        TreeId::Runners,
                        (seq, i),
                        RUNNER_LEN,
                        &r,
                        pack_runner,
                    )?,
                }
            }
            Ok(())
        });
        RowsAhead {
            seq,
            links: Pending::new(),
            runners: Pending::new(),
            tx: Some(tx),
            thread: Some(thread),
        }
    }
}

impl RowsAhead {
    pub fn seq(&self) -> u32 {
        self.seq
    }

    pub fn link(&mut self, l: LinkRecord) {
        if let Some((i, l)) = self.links.push(l, PACKED) {
            self.send(Part::Links(i, l));
        }
    }

    pub fn runner(&mut self, r: RunnerUp) {
        if let Some((i, r)) = self.runners.push(r, RUNNER_LEN) {
            self.send(Part::Runners(i, r));
        }
    }

    fn send(&self, part: Part) {
        // A closed channel means the writer failed: `finish` reports why.
        if let Some(tx) = &self.tx {
            let _ = tx.send(part);
        }
    }

    /// Writes the last records and waits for every write: `Ok` once all
    /// are in the store (not yet flushed: the commit does that).
    pub fn finish(mut self) -> Result<(), StoreError> {
        if let Some((i, l)) = self.links.rest(PACKED) {
            self.send(Part::Links(i, l));
        }
        if let Some((i, r)) = self.runners.rest(RUNNER_LEN) {
            self.send(Part::Runners(i, r));
        }
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            None => Ok(()),
        }
    }
}

impl Drop for RowsAhead {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::matching::Level;

    #[test]
    fn records_round_trip() {
        let mut levels = Comparison::default();
        levels.levels[0] = Level::OneEdit as u8;
        let l = LinkRecord {
            row: 70_000,
            person: 1 << 40,
            rule: 3,
            score: 27.5,
            levels,
            weights: [512, -400, 0, 0, 0, 1],
            repairs: 2,
            dropped: 1,
            household: Some([7; 16]),
        };
        let mut b = Vec::new();
        l.pack(&mut b);
        assert_eq!(b.len(), PACKED);
        assert_eq!(LinkRecord::unpack(&b), l);
    }

    fn link(row: u64) -> LinkRecord {
        LinkRecord {
            row,
            person: row * 3,
            rule: (row % 5) as u8,
            score: row as f32 / 7.0,
            levels: Comparison::default(),
            weights: [row as i16, 0, -1, 0, 0, 2],
            repairs: 0,
            dropped: 0,
            household: (row % 2 == 0).then_some([row as u8; 16]),
        }
    }

    fn runner(row: u64) -> RunnerUp {
        RunnerUp {
            row,
            candidate: StoredCandidate {
                person: row + 1,
                score: 1.5,
                levels: Comparison::default(),
                weights: [0, 1, 2, 3, 4, 5],
                ruled_out: row % 3 == 0,
            },
        }
    }

    /// The (chunk, value) pairs of `seq` in `tree`.
    fn values(s: &Store, tree: TreeId, seq: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        s.trees
            .scan_prefix(tree, &seq_bytes(seq))
            .map(|r| r.map(|(k, v)| (k[4..].to_vec(), v.to_vec())).unwrap())
            .collect()
    }

    #[test]
    fn rows_written_ahead_are_those_written_at_once_and_a_sweep_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "k").unwrap();
        // One handoff of full values, then one more full value and part of
        // another, and runners-up for some rows.
        let n = ((HANDOFF + 1) * per_value(PACKED)) as u64 + 5;
        let links: Vec<LinkRecord> = (0..n).map(link).collect();
        let runners: Vec<RunnerUp> = (0..n).filter(|r| r % 2 == 1).map(runner).collect();
        s.put_links(1, &links).unwrap();
        s.put_runners(1, &runners).unwrap();
        let mut ahead = s.rows_ahead(2);
        for r in 0..n {
            ahead.link(link(r));
            if r % 2 == 1 {
                ahead.runner(runner(r));
            }
        }
        ahead.finish().unwrap();
        for tree in [TreeId::Links, TreeId::Runners] {
            let (once, streamed) = (values(&s, tree, 1), values(&s, tree, 2));
            let (records, len) = if tree == TreeId::Links {
                (links.len(), PACKED)
            } else {
                (runners.len(), RUNNER_LEN)
            };
            assert_eq!(once.len(), records.div_ceil(per_value(len)));
            assert_eq!(once, streamed);
        }
        // Dropped part-way (an error on the way): what it was handed is
        // written before the drop returns, and a sweep takes all of it.
        let mut ahead = s.rows_ahead(3);
        for r in 0..(HANDOFF * per_value(PACKED)) as u64 + 1 {
            ahead.link(link(r));
        }
        drop(ahead);
        assert_eq!(values(&s, TreeId::Links, 3).len(), HANDOFF);
        s.sweep_ahead(3).unwrap();
        assert!(values(&s, TreeId::Links, 3).is_empty());
        assert_eq!(values(&s, TreeId::Links, 2).len(), HANDOFF + 2);
    }

    /// Every packed value stays inline in sled's pages: sled's cache never
    /// pages out a page written as a blob (see [`VALUE_BYTES`]), so one blob
    /// per page of a big delivery would keep all of it resident.
    #[test]
    fn a_big_delivery_writes_no_page_as_a_blob() {
        use crate::ingest::matching::Delta;
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path(), "k").unwrap();
        let n = (3 * HANDOFF * per_value(PACKED)) as u64;
        let mut ahead = s.rows_ahead(1);
        let mut d = Delta::default();
        for r in 0..n {
            ahead.link(link(r));
            ahead.runner(runner(r));
            d.new_persons.push((r, Some((2000, 1))));
        }
        ahead.finish().unwrap();
        s.put_delta(1, &d).unwrap();
        s.trees.flush().unwrap();
        for tree in [TreeId::Links, TreeId::Runners, TreeId::Identity] {
            let vals = values(&s, tree, 1);
            assert!(vals.len() > 16, "{tree:?}: {} values", vals.len());
            assert!(vals.iter().all(|(_, v)| v.len() <= VALUE_BYTES));
        }
        let blobs = std::fs::read_dir(dir.path().join("blobs")).map_or(0, |d| d.count());
        assert_eq!(blobs, 0, "pages written as blobs");
    }

    #[test]
    fn candidates_round_trip() {
        let mut levels = Comparison::default();
        levels.levels[2] = Level::Differ as u8;
        let c = StoredCandidate {
            person: 99,
            score: -3.25,
            levels,
            weights: [-700, 12, 0, 5, 0, 32000],
            ruled_out: true,
        };
        let mut b = Vec::new();
        c.pack(&mut b);
        assert_eq!(b.len(), CANDIDATE_LEN);
        assert_eq!(StoredCandidate::unpack(&b), c);
    }
}
