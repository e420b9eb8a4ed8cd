//! Cases and claims: what the council's case system delivered.
//!
//! Trees owned: `cases` (case ref, 0, seq u32 → JSON [`CaseRecord`]: every
//! version, newest last) and `claims` (case ref, 0, outcome, 0, date → JSON
//! [`ClaimRecord`]).
//!
//! Promises: a case reads as its latest committed version; a claim is
//! stored once per (case, outcome, date), the first delivery's copy kept;
//! uncommitted versions and claims are invisible, and swept with their
//! delivery.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{seq_bytes, Store, StoreError, TreeId, Write};
use crate::ingest::matching::PersonId;
use crate::records::Role;

/// One member of a keyworker case, pseudonymised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseMember {
    pub person: PersonId,
    pub role: Role,
    pub problems: Vec<String>,
    /// Household token (hex), if the case system gave an address.
    pub address: Option<String>,
}

/// A keyworker case as its latest delivery described it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CaseRecord {
    pub case_ref: String,
    pub seq: u32,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub members: Vec<CaseMember>,
}

impl CaseRecord {
    /// The case's identified problems: the union over members.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .members
            .iter()
            .flat_map(|m| m.problems.clone())
            .collect();
        p.sort();
        p.dedup();
        p
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClaimRecord {
    pub seq: u32,
    pub case_ref: String,
    pub outcome_id: String,
    pub claim_date: NaiveDate,
    pub keyworker_ref: Option<String>,
    /// The claimant's team (absent in claims stored before the column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

/// The key of a claim, and of its decision in the verdict tree.
pub(super) fn claim_key(case_ref: &str, outcome: &str, date: NaiveDate) -> Vec<u8> {
    let mut k = case_ref.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(outcome.as_bytes());
    k.push(0);
    k.extend_from_slice(date.to_string().as_bytes());
    k
}

impl Store {
    pub(super) fn put_case(&self, case: &CaseRecord) -> Result<(), StoreError> {
        let mut k = case.case_ref.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&seq_bytes(case.seq));
        let v = serde_json::to_vec(case).expect("case serialises");
        self.trees.write(TreeId::Cases, Write::Insert(&k, &v))
    }

    /// Stores a claim unless the same (case, outcome, date) is stored.
    /// Returns whether it was new.
    pub(super) fn put_claim(&self, claim: &ClaimRecord) -> Result<bool, StoreError> {
        let k = claim_key(&claim.case_ref, &claim.outcome_id, claim.claim_date);
        if self.trees.contains_key(TreeId::Claims, &k)? {
            return Ok(false);
        }
        let v = serde_json::to_vec(claim).expect("claim serialises");
        self.trees.write(TreeId::Claims, Write::Insert(&k, &v))?;
        Ok(true)
    }

    /// Removes the case versions written under `seq` (part of a sweep).
    pub(super) fn sweep_cases(&self, seq: u32) -> Result<(), StoreError> {
        let s4 = seq_bytes(seq);
        for item in self.trees.iter(TreeId::Cases) {
            let (k, _) = item?;
            if k.len() >= 4 && k[k.len() - 4..] == s4 {
                self.trees.write(TreeId::Cases, Write::Remove(&k))?;
            }
        }
        Ok(())
    }

    /// Removes the claims written under `seq` (part of a sweep).
    pub(super) fn sweep_claims(&self, seq: u32) -> Result<(), StoreError> {
        for item in self.trees.iter(TreeId::Claims) {
            let (k, v) = item?;
            if serde_json::from_slice::<ClaimRecord>(&v).is_ok_and(|c| c.seq == seq) {
                self.trees.write(TreeId::Claims, Write::Remove(&k))?;
            }
        }
        Ok(())
    }

    fn decode_case(&self, v: &[u8]) -> Result<CaseRecord, StoreError> {
        serde_json::from_slice(v).map_err(|x| self.corrupt(format!("case record: {x}")))
    }

    /// The latest committed record of every case.
    pub fn cases(&self) -> Result<Vec<CaseRecord>, StoreError> {
        let mut latest: BTreeMap<String, CaseRecord> = BTreeMap::new();
        for item in self.trees.iter(TreeId::Cases) {
            let (_, v) = item?;
            let c = self.decode_case(&v)?;
            if !self.committed.contains_key(&c.seq) {
                continue;
            }
            latest.insert(c.case_ref.clone(), c); // keys sort by seq within a case
        }
        Ok(latest.into_values().collect())
    }

    /// The latest committed version of every case as (case ref, member
    /// persons): what ingest needs to tell which families a delivery
    /// touched. Reads the case ref and version from each key and decodes
    /// only the latest committed version's members, so it is cheap beside
    /// [`Store::cases`] (which builds every version whole).
    pub fn case_members(&self) -> Result<Vec<(String, Vec<PersonId>)>, StoreError> {
        #[derive(Deserialize)]
        struct Member {
            person: PersonId,
        }
        #[derive(Deserialize)]
        struct Members {
            members: Vec<Member>,
        }
        let mut out = Vec::new();
        // (case ref bytes, value of its latest committed version so far)
        let mut group: Option<(Vec<u8>, Option<sled::IVec>)> = None;
        let finish = |g: Option<(Vec<u8>, Option<sled::IVec>)>,
                      out: &mut Vec<(String, Vec<PersonId>)>|
         -> Result<(), StoreError> {
            if let Some((case, Some(v))) = g {
                let m: Members = serde_json::from_slice(&v)
                    .map_err(|x| self.corrupt(format!("case record: {x}")))?;
                let case = String::from_utf8(case)
                    .map_err(|_| self.corrupt("case key is not UTF-8".to_string()))?;
                out.push((case, m.members.into_iter().map(|m| m.person).collect()));
            }
            Ok(())
        };
        for item in self.trees.iter(TreeId::Cases) {
            let (k, v) = item?;
            if k.len() < 5 || k[k.len() - 5] != 0 {
                return Err(self.corrupt("case key is malformed".to_string()));
            }
            let (case, seq) = k.split_at(k.len() - 5);
            let seq = u32::from_be_bytes(seq[1..].try_into().expect("4 bytes"));
            if group.as_ref().is_none_or(|(c, _)| c.as_slice() != case) {
                finish(group.take(), &mut out)?;
                group = Some((case.to_vec(), None));
            }
            if self.committed.contains_key(&seq) {
                // keys sort by seq within a case: the last committed wins
                group.as_mut().expect("group").1 = Some(v);
            }
        }
        finish(group.take(), &mut out)?;
        Ok(out)
    }

    pub fn case(&self, case_ref: &str) -> Result<Option<CaseRecord>, StoreError> {
        let mut prefix = case_ref.as_bytes().to_vec();
        prefix.push(0);
        let mut best = None;
        for item in self.trees.scan_prefix(TreeId::Cases, &prefix) {
            let (_, v) = item?;
            let c = self.decode_case(&v)?;
            if self.committed.contains_key(&c.seq) {
                best = Some(c);
            }
        }
        Ok(best)
    }

    /// Every committed version of a case, oldest first: what each case
    /// delivery said of it (so a problem's first delivery, the date a need
    /// was identified, is data).
    pub fn case_versions(&self, case_ref: &str) -> Result<Vec<CaseRecord>, StoreError> {
        let mut prefix = case_ref.as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.trees.scan_prefix(TreeId::Cases, &prefix) {
            let (_, v) = item?;
            let c = self.decode_case(&v)?;
            if self.committed.contains_key(&c.seq) {
                out.push(c); // keys sort by seq within a case
            }
        }
        Ok(out)
    }

    pub fn claims(&self) -> Result<Vec<ClaimRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.trees.iter(TreeId::Claims) {
            let (_, v) = item?;
            let c: ClaimRecord = serde_json::from_slice(&v)
                .map_err(|x| self.corrupt(format!("claim record: {x}")))?;
            if self.committed.contains_key(&c.seq) {
                out.push(c);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::SourceKind;
    use crate::store::{Begin, DeliveryRecord};

    fn case(case_ref: &str, seq: u32, persons: &[PersonId]) -> CaseRecord {
        CaseRecord {
            case_ref: case_ref.into(),
            seq,
            start: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
            end: None,
            members: persons
                .iter()
                .map(|&person| CaseMember {
                    person,
                    role: Role::Adult,
                    problems: vec!["crime".into()],
                    address: None,
                })
                .collect(),
        }
    }

    fn commit(s: &mut Store, seq: u32) {
        let rec = DeliveryRecord {
            seq,
            feed: "case".into(),
            kind: SourceKind::Case,
            period: None,
            content_hash: String::new(),
            received_at: chrono::Utc::now(),
            rows: 0,
            accepted: 0,
            rejected: 0,
            persons_new: 0,
            records_matched: 0,
            families_touched: 0,
        };
        s.commit(rec, &[seq as u8; 32]).unwrap();
    }

    /// `case_members` reads what `cases` reads: each case's latest
    /// committed version (a later uncommitted one invisible), with its
    /// members' persons, in case order.
    #[test]
    fn case_members_are_the_latest_committed_versions() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path(), "k1").unwrap();
        let begin = |s: &mut Store, h: u8| match s.begin("case", &[h; 32]).unwrap() {
            Begin::Started(seq) => seq,
            Begin::Duplicate(_) => panic!("new bytes"),
        };
        let a = begin(&mut s, 1);
        s.put_case(&case("C2", a, &[1, 2])).unwrap();
        s.put_case(&case("C1", a, &[3])).unwrap();
        commit(&mut s, a);
        let b = begin(&mut s, 2);
        s.put_case(&case("C2", b, &[1, 4])).unwrap();
        commit(&mut s, b);
        let c = begin(&mut s, 3);
        s.put_case(&case("C1", c, &[9])).unwrap(); // never committed
        let want: Vec<(String, Vec<PersonId>)> = s
            .cases()
            .unwrap()
            .into_iter()
            .map(|c| (c.case_ref, c.members.iter().map(|m| m.person).collect()))
            .collect();
        assert_eq!(
            want,
            vec![("C1".to_string(), vec![3]), ("C2".to_string(), vec![1, 4])]
        );
        assert_eq!(s.case_members().unwrap(), want);
    }
}
