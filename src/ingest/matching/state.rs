//! The matcher's state changes, shared by matching and replay.
//!
//! In: persons, ids, spellings, merges and household links, from `resolve`
//! or from the identity log. Out: the matcher's tables updated. Promises:
//! matching and replay change state only through these, so a rebuilt
//! matcher is the one that was saved.

use super::*;

impl Matcher {
    /// Makes sure person `p` exists (replay, and tests that score by hand).
    pub fn load_person(&mut self, p: PersonId, birth: Option<(i32, u32)>) {
        self.ensure_person(p);
        self.set_birth(p, birth);
    }

    pub(super) fn ensure_person(&mut self, p: PersonId) {
        let i = p as usize;
        if self.persons.len() <= i {
            self.live += i + 1 - self.persons.len();
            self.persons.resize(i + 1, PersonState::default());
            let start = self.parent.len() as PersonId;
            self.parent.extend(start..=p);
        }
    }

    pub(super) fn set_birth(&mut self, p: PersonId, birth: Option<(i32, u32)>) {
        self.ensure_person(p);
        if let Some(b) = birth {
            self.persons[p as usize].birth.get_or_insert(b);
        }
    }

    pub(super) fn set_ni_near(&mut self, p: PersonId, near: NiNear) {
        self.ensure_person(p);
        self.ni_near.entry(p).or_insert(near);
    }

    pub(super) fn set_id(&mut self, p: PersonId, k: IdKind, t: u64) {
        self.ensure_person(p);
        let slot = &mut self.persons[p as usize].ids[k.slot()];
        if *slot == 0 {
            *slot = t;
            self.index.insert(blocking::id_key(k.slot(), t), p as u32);
        }
    }

    pub(super) fn add_variant(&mut self, p: PersonId, v: Variant) {
        self.ensure_person(p);
        let person = &self.persons[p as usize];
        let seen = |f: fn(&Variant) -> u32| person.variants.iter().any(|o| f(o) == f(&v));
        self.counts.add(
            if seen(|o| o.f) { 0 } else { v.f },
            if seen(|o| o.s) { 0 } else { v.s },
            if seen(|o| o.pc) { 0 } else { v.pc },
        );
        if v.f_x == 0 && v.f != 0 && v.s != 0 {
            self.legacy_spellings = true;
        }
        blocking::keys(&v, &[0; 3], &mut self.keys_buf);
        for (_, key) in self.keys_buf.drain(..) {
            self.index.insert(key, p as u32);
        }
        push_exact(&mut self.persons[p as usize].variants, v);
    }

    pub(super) fn set_merge(&mut self, from: PersonId, into: PersonId) {
        self.ensure_person(from.max(into));
        let (from, into) = (self.canonical(from), self.canonical(into));
        if from == into {
            return;
        }
        self.parent[from as usize] = into;
        self.live -= 1;
        let moved = self.merged.remove(&from).unwrap_or_else(|| vec![from]);
        let entry = self.merged.entry(into).or_insert_with(|| vec![into]);
        for q in moved {
            if !entry.contains(&q) {
                entry.push(q);
            }
        }
        // The survivor compares with the merged person's spellings too.
        let src = std::mem::take(&mut self.persons[from as usize].variants);
        let dst = &mut self.persons[into as usize];
        for v in src {
            if dst.variants.len() < MAX_VARIANTS && !dst.variants.iter().any(|o| v.covered_by(o)) {
                push_exact(&mut dst.variants, v);
            }
        }
        let ids = self.persons[from as usize].ids;
        for (i, t) in ids.iter().enumerate() {
            let slot = &mut self.persons[into as usize].ids[i];
            if *slot == 0 && *t != 0 {
                *slot = *t;
                if i == IdKind::Ni.slot() {
                    if let Some(near) = self.ni_near.get(&from).copied() {
                        self.ni_near.insert(into, near);
                    }
                }
            }
        }
        if let Some(b) = self.persons[from as usize].birth {
            self.persons[into as usize].birth.get_or_insert(b);
        }
    }

    pub(super) fn set_address(&mut self, t: Token, p: PersonId) -> bool {
        let v = self.households.entry(t).or_default();
        if v.contains(&p) {
            return false;
        }
        v.push(p);
        true
    }
}
