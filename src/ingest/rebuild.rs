//! The engine's matcher over its life: rebuilt from the store at open,
//! after an undone or held delivery and after changes made elsewhere.
//!
//! In: the store. Out: the [`Matcher`] every stage reads through
//! [`Engine::matcher`]. Promises: only one matcher is in memory at a time
//! (a rebuild drops the old one first, so the peak stays that of one); a
//! rebuild that fails leaves the matcher marked lost, and a lost matcher is
//! never handed out (an empty one would show every member with no partner
//! records, which reads as "no incidents": verified) until
//! [`Engine::ensure_matcher`] has rebuilt it.

use super::{Engine, IngestError};
use crate::ingest::matching::Matcher;
use crate::store::Store;

const MATCHER_LOST: &str = "the matcher is empty after a failed rebuild; Engine::ensure_matcher must rebuild it before anything reads it";

/// The matcher as the store rebuilds it, told which people each committed
/// case lists as its members (so matching never merges two of them).
pub(super) fn load_matcher(store: &Store) -> Result<Matcher, IngestError> {
    let mut m = store.load_matcher()?;
    for (case_ref, members) in store.case_members()? {
        for p in members {
            m.note_case_member(&case_ref, p);
        }
    }
    Ok(m)
}

impl Engine {
    /// The matcher: every person's tokens, as the store holds them.
    ///
    /// # Panics
    ///
    /// If a rebuild failed and nothing has rebuilt it since
    /// ([`Engine::ensure_matcher`]): an empty matcher would make every
    /// member look as if no partner held anything of them, so it is never
    /// handed out.
    pub fn matcher(&self) -> &Matcher {
        assert!(!self.matcher_lost, "{MATCHER_LOST}");
        &self.matcher
    }

    /// The store to read and the matcher to change, together (a reviewer's
    /// decision reads one and changes the other). Panics as
    /// [`Engine::matcher`] does.
    pub fn store_and_matcher_mut(&mut self) -> (&Store, &mut Matcher) {
        assert!(!self.matcher_lost, "{MATCHER_LOST}");
        (&self.store, &mut self.matcher)
    }

    /// Whether a failed rebuild left the matcher empty.
    pub fn matcher_lost(&self) -> bool {
        self.matcher_lost
    }

    /// Rebuilds the matcher if a failed rebuild left it empty; every
    /// delivery starts here.
    pub fn ensure_matcher(&mut self) -> Result<(), IngestError> {
        if self.matcher_lost {
            self.reload_matcher()?;
        }
        Ok(())
    }

    /// Rebuilds the matcher from the store (after an undo, a held delivery,
    /// or a change made elsewhere). The old one is dropped first: two at
    /// once put the peak at 1.4 GiB with a million persons stored, against
    /// under 1 GiB for one. If the rebuild fails the matcher is marked lost
    /// until [`Engine::ensure_matcher`] succeeds.
    pub fn reload_matcher(&mut self) -> Result<(), IngestError> {
        self.matcher = Matcher::new();
        self.matcher_lost = true;
        #[cfg(test)]
        if self.fail_next_reload.take() {
            return Err(IngestError::Store(crate::store::StoreError::Corrupt {
                path: self.store.path().to_path_buf(),
                what: "a rebuild made to fail by a test".into(),
            }));
        }
        self.matcher = load_matcher(&self.store)?;
        self.matcher_lost = false;
        if let Some(b) = self.review_band {
            self.matcher.set_review_band(b);
        }
        Ok(())
    }
}
