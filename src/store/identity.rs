//! The identity log: the matcher's changes, delivery by delivery.
//!
//! Tree owned: `identity` (seq u32, chunk u32 → an encoded matching
//! [`Delta`], cut at entry boundaries into values of at most [`VALUE_BYTES`], an
//! entry longer than that alone in its value).
//!
//! Promises: replaying the log of the committed deliveries, in order,
//! (with reviewers' decisions at the point they were made) rebuilds exactly
//! the matcher they left; an uncommitted delivery's chunks
//! are skipped, and swept with it.

use super::reviews::{ReviewDecision, ReviewVerdict};
use super::{read_u32, seq_bytes, Store, StoreError, TreeId, Write, VALUE_BYTES};
use crate::ingest::matching::{entry_len, Delta, Matcher, Replay, WhoIsWho};

impl Store {
    /// Rebuilds the matcher's state by replaying the identity log.
    ///
    /// Reviewers' decisions are applied where they were made: after the
    /// changes of the newest delivery at the time, before the next's.
    pub fn load_matcher(&self) -> Result<Matcher, StoreError> {
        super::guard(self.path(), || self.replay(Replay::Whole))
    }

    /// Who is who after every merge and decision, as [`Store::load_matcher`]
    /// would say, for readers that only name people: replaying people and
    /// merges alone takes about half the time and a fraction of the memory.
    pub fn load_who_is_who(&self) -> Result<WhoIsWho, StoreError> {
        super::guard(self.path(), || self.replay(Replay::WhoIsWho)).map(WhoIsWho::from_replayed)
    }

    fn replay(&self, what: Replay) -> Result<Matcher, StoreError> {
        let mut m = Matcher::new();
        let decisions = self.review_decisions()?;
        let mut next = decisions.iter().peekable();
        for item in self.trees.iter(TreeId::Identity) {
            let (k, v) = item?;
            let seq = read_u32(&k);
            if !self.committed.contains_key(&seq) {
                continue;
            }
            while let Some(d) = next.next_if(|d| d.after_seq < seq) {
                apply_decision(&mut m, d);
            }
            m.replay_encoded(&v, what)
                .map_err(|e| self.corrupt(e.to_string()))?;
        }
        for d in next {
            apply_decision(&mut m, d);
        }
        Ok(m)
    }

    /// Appends the matcher's changes for a delivery to the identity log.
    pub(super) fn put_delta(&self, seq: u32, d: &Delta) -> Result<(), StoreError> {
        let parts = d.encoded_parts();
        let chunks = parts.iter().flat_map(|p| chunk_entries(p, VALUE_BYTES));
        for (i, chunk) in chunks.enumerate() {
            let mut k = [0u8; 8];
            k[..4].copy_from_slice(&seq_bytes(seq));
            k[4..].copy_from_slice(&(i as u32).to_be_bytes());
            self.trees
                .write(TreeId::Identity, Write::Insert(&k, chunk))?;
        }
        Ok(())
    }

    /// Removes the log chunks written under `seq` (part of a sweep).
    pub(super) fn sweep_identity(&self, seq: u32) -> Result<(), StoreError> {
        for item in self.trees.scan_prefix(TreeId::Identity, &seq_bytes(seq)) {
            let (k, _) = item?;
            self.trees.write(TreeId::Identity, Write::Remove(&k))?;
        }
        Ok(())
    }
}

/// A reviewer's decision as the matcher honours it.
pub fn apply_decision(m: &mut Matcher, d: &ReviewDecision) {
    match d.decision {
        ReviewVerdict::Same => {
            m.join(d.person, d.candidate);
        }
        ReviewVerdict::Different => m.keep_apart(d.person, d.candidate),
    }
}

/// Splits an encoded delta at entry boundaries into pieces of about `max`.
fn chunk_entries(bytes: &[u8], max: usize) -> impl Iterator<Item = &[u8]> {
    // Entries vary in length; cutting at a tag boundary needs a walk.
    let mut cuts = vec![0usize];
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        // A damaged entry ends the walk: the rest goes as one piece and
        // replay reports it.
        let Some(len) = entry_len(bytes, i) else {
            break;
        };
        if i + len - start > max {
            cuts.push(i);
            start = i;
        }
        i += len;
    }
    cuts.push(bytes.len());
    let cuts2 = cuts.clone();
    cuts.into_iter()
        .zip(cuts2.into_iter().skip(1))
        .filter(|(a, b)| b > a)
        .map(move |(a, b)| &bytes[a..b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::matching::{IdKind, PersonId, Variant};

    #[test]
    fn delta_chunks_cut_at_entry_boundaries() {
        let mut d = Delta::default();
        for p in 0..1000u64 {
            d.new_persons.push((p, Some((2000, 1))));
            let mut v = Variant {
                f: p as u32 + 1,
                ..Default::default()
            };
            v.set_lists(&[1, 2, 3], &[4], &[]);
            d.push_variant(p, &v);
        }
        let bytes = d.encode();
        let chunks: Vec<&[u8]> = chunk_entries(&bytes, 1000).collect();
        assert!(chunks.len() > 30);
        let mut m = Matcher::new();
        for c in &chunks {
            assert!(c.len() <= 1000);
            m.apply_encoded(c).unwrap();
        }
        assert_eq!(m.person_count(), 1000);
    }

    /// Who is who replays people, merges and decisions exactly as the
    /// whole matcher does: a merge a later `different` forbids is not
    /// redone, a `same` joins, and an uncommitted delivery counts for
    /// neither.
    #[test]
    fn who_is_who_names_people_as_the_whole_matcher_does() {
        use super::super::deliveries::tests::record;
        use super::super::Begin;
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let deliver = |s: &mut Store, h: u8, d: Delta, commit: bool| {
            let Begin::Started(seq) = s.begin("police", &[h; 32]).unwrap() else {
                panic!()
            };
            s.put_delta(seq, &d).unwrap();
            if commit {
                s.commit(record(seq, "police", "2015-01-01..2015-12-31"), &[h; 32])
                    .unwrap();
            }
            seq
        };
        let mut a = Delta::default();
        for p in 0..8u64 {
            a.new_persons.push((p, Some((1980, 1 + p as u32))));
            a.push_variant(
                p,
                &Variant {
                    f: p as u32 + 1,
                    ..Default::default()
                },
            );
            a.new_ids.push((p, IdKind::Nhs, [p as u8 + 1; 16]));
        }
        a.merges.extend([(1, 0), (3, 2)]);
        a.addresses.push(([9; 16], 4));
        let first = deliver(&mut s, 1, a, true);
        // Reviewers: 5 and 4 are different people; 7 is 6.
        for (item, decision, person, candidate) in [
            ("r1", ReviewVerdict::Different, 5, 4),
            ("r2", ReviewVerdict::Same, 7, 6),
        ] {
            s.put_review_decision(&ReviewDecision {
                item: item.into(),
                decision,
                person,
                candidate,
                by: "auditor".into(),
                at: chrono::Utc::now(),
                note: None,
                after_seq: first,
            })
            .unwrap();
        }
        let mut b = Delta::default();
        b.new_persons.push((8, None));
        b.merges.extend([(5, 4), (2, 0), (8, 6)]);
        deliver(&mut s, 2, b, true);
        let mut c = Delta::default();
        c.merges.push((4, 0));
        deliver(&mut s, 3, c, false);

        let whole = s.load_matcher().unwrap();
        let who = s.load_who_is_who().unwrap();
        let names = |f: &dyn Fn(PersonId) -> PersonId| (0..9).map(f).collect::<Vec<_>>();
        let want = names(&|p| whole.canonical(p));
        assert_eq!(
            want,
            vec![0, 0, 0, 0, 4, 5, 6, 6, 6],
            "the scenario as meant"
        );
        assert_eq!(names(&|p| who.canonical(p)), want);
        for p in 0..9 {
            let (mut x, mut y) = (whole.members(p), who.members(p));
            x.sort_unstable();
            y.sort_unstable();
            assert_eq!(x, y, "members of {p}");
        }
    }
}
