//! `schemas`: the published Table Schemas, written or checked.
//!
//! In: a directory. Out: `<kind>.schema.json` for every source kind, as
//! [`crate::ingest::feeds::schema`] builds them; with `--check`, nothing
//! written and an error naming every file that differs (CI runs this, so
//! `docs/schemas/` cannot drift from the parser).

use std::path::Path;

use anyhow::{Context, Result};

use crate::ingest::feeds::schema::schema_files;

pub fn schemas(dir: &Path, check: bool) -> Result<()> {
    let files = schema_files();
    if check {
        let mut differ = Vec::new();
        for (name, text) in &files {
            let path = dir.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                differ.push(path.display().to_string());
            }
        }
        anyhow::ensure!(
            differ.is_empty(),
            "the published schemas differ from the code's definitions: {} (regenerate with `outcomesd schemas --out {}` and commit)",
            differ.join(", "),
            dir.display()
        );
        outln!("{} files in {} match the code", files.len(), dir.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    outln!("{} files written to {}", files.len(), dir.display());
    Ok(())
}
