//! Fetch state: the validators each pulled feed last sent back.
//!
//! Tree owned: `pull_state` (feed name → JSON [`Validators`]: ETag and
//! Last-Modified of the last fetch whose delivery was committed).
//!
//! Promises: [`PullState::acknowledge`] returns only once the validators are
//! flushed, so a fetch acknowledged is not downloaded again after a crash;
//! the handle may be used while the store itself is locked for ingest.

use super::{Store, StoreError, TreeId, Trees, Write};
use crate::pull::Validators;

/// A handle on the fetch state (cheap to clone; shares the store's trees).
#[derive(Clone)]
pub struct PullState {
    trees: Trees,
}

impl Store {
    /// The fetch-state handle.
    pub fn pull_state(&self) -> PullState {
        PullState {
            trees: self.trees.clone(),
        }
    }
}

impl PullState {
    /// The validators kept for `feed`, if any.
    pub fn validators(&self, feed: &str) -> Result<Option<Validators>, StoreError> {
        match self.trees.get(TreeId::PullState, feed.as_bytes())? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|x| StoreError::Corrupt {
                    path: self.trees.path().to_path_buf(),
                    what: format!("validators of feed {feed}: {x}"),
                }),
        }
    }

    /// Keeps `validators` for `feed` (after its delivery was committed) and
    /// flushes before returning.
    pub fn acknowledge(&self, feed: &str, validators: &Validators) -> Result<(), StoreError> {
        let v = serde_json::to_vec(validators).expect("validators serialise");
        self.trees
            .write(TreeId::PullState, Write::Insert(feed.as_bytes(), &v))?;
        self.trees.flush()
    }
}
