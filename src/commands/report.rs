//! `report`: the coordinators' and IG page (see [`crate::report`]).

use std::path::Path;

use anyhow::{Context, Result};

use super::{load_config, open_engine};

/// Writes the report page to `out` (mode 0600: it names cases) and says
/// what it holds. Reads the store only.
pub fn report(config: &Path, out: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let engine = open_engine(&cfg)?;
    let data = crate::report::gather(
        &engine,
        &cfg.feeds,
        cfg.framework.as_ref(),
        chrono::Utc::now(),
    )?;
    let page = crate::report::html::render(&data)?;
    // Written beside its target and renamed: a reader never sees half a page.
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, page.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let total: usize = data.totals.iter().sum();
    outln!(
        "wrote {}: {total} claims, {} waiting for data, {} feeds, {} open review items",
        out.display(),
        data.insufficient.len(),
        data.coverage.len(),
        data.review.len()
    );
    Ok(())
}
