//! `partner-report`: placeholder, filled in below.
use anyhow::Result;
use std::path::Path;
pub fn partner_report(_config: &Path, _feed: &str, _period: &str, _json: bool) -> Result<()> {
    anyhow::bail!("not yet")
}
