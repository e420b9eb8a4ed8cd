//! `bench`: ingest speed, memory and matching quality on generated data.
//!
//! In: a family count, a seed and a noise level for `synth`. Out: timings,
//! peak memory, pairwise precision / recall / F1 of the matcher against the
//! ground truth and, at `--noise realistic`, per noise kind the share of
//! rows that reached their true person's records.

use std::path::Path;
use std::time::Instant;

use crate::commands::{framework_of, load_config, open_engine, verdict_counts};
use crate::sim::demo::{ingest_all, write_demo_config, Assignment};
use anyhow::Result;

use crate::sim::evaluate;
use crate::sim::synth::{self, NoiseLevel, SynthOptions};
use crate::triangulate::{self, Selection};
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Every stored row's (feed, row, person), from the links the store keeps
/// for each accepted row that names a person: the rows ingest would have
/// recorded in its summaries.
fn stored_assignments(store: &crate::store::Store) -> Result<Vec<Assignment>> {
    let mut feeds: std::collections::HashMap<u32, String> = Default::default();
    store
        .links()
        .map(|l| {
            let l = l?;
            let feed = feeds
                .entry(l.seq)
                .or_insert_with(|| store.feed_of(l.seq))
                .clone();
            Ok((feed, l.link.row, l.link.person))
        })
        .collect()
}

pub fn bench(
    families: usize,
    seed: u64,
    keep: Option<&Path>,
    noise: NoiseLevel,
    review_band: Option<f64>,
) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = keep.map_or_else(|| tmp.path().to_path_buf(), Path::to_path_buf);
    std::fs::create_dir_all(&dir)?;
    let feeds_dir = dir.join("feeds");
    let t = Instant::now();
    std::fs::create_dir_all(&feeds_dir)?;
    let s = synth::generate(
        &feeds_dir,
        &SynthOptions {
            families,
            seed,
            noise,
            ..Default::default()
        },
    )?;
    let rows: usize = s
        .files
        .iter()
        .filter(|f| !f.feed.starts_with("truth"))
        .map(|f| f.rows)
        .sum();
    println!(
        "generated {rows} rows ({} families, {} persons, noise {noise:?}) in {:.2}s",
        s.families,
        s.persons,
        t.elapsed().as_secs_f64()
    );
    let cfg = load_config(&write_demo_config(&dir)?)?;
    let mut engine = open_engine(&cfg)?;
    if let Some(b) = review_band {
        engine.set_review_band(b);
    }
    let t = Instant::now();
    // Each row's person is read back from the stored links after ingest,
    // not kept in the summaries during it: the peak is the ingest's own.
    let summaries = ingest_all(&mut engine, &cfg, &feeds_dir)?;
    let total = t.elapsed().as_secs_f64();
    let n: u64 = summaries.iter().map(|s| s.rows).sum();
    let (mut parse, mut matching, mut store) = (0.0, 0.0, 0.0);
    println!(
        "{:>12} {:>9} {:>12} {:>12} {:>12}",
        "feed", "rows", "parse+hmac", "match", "store"
    );
    for s in &summaries {
        let (p, m, st) = (
            s.times.parse_pseudonymise.as_secs_f64(),
            s.times.matching.as_secs_f64(),
            s.times.store.as_secs_f64(),
        );
        parse += p;
        matching += m;
        store += st;
        println!(
            "{:>12} {:>9} {:>11.2}s {:>11.2}s {:>11.2}s",
            s.feed, s.rows, p, m, st
        );
    }
    let rate = |secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    println!("records/s by stage: parse+normalise+hmac {:.0} (worker thread), match+group {:.0}, store+commit {:.0}", rate(parse), rate(matching), rate(store));
    println!(
        "end to end: {n} records in {total:.2}s = {:.0} records/s",
        rate(total)
    );
    println!("peak memory (VmHWM): {:.0} MiB", peak_rss_mib());
    println!(
        "store on disk: {:.0} MiB",
        engine.store.size_on_disk() as f64 / 1048576.0
    );
    let assigned = stored_assignments(&engine.store)?;
    let truth = evaluate::read_truth(&feeds_dir.join("truth.csv"))?;
    let q = evaluate::score(&truth, &assigned, engine.matcher());
    println!(
        "matching: pairwise precision {:.4}, recall {:.4}, F1 {:.4}; rows rejected {}; family members' records linked {:.2}% ({} of {}), wrongly attributed {:.3}% ({} of {})",
        q.pairwise_precision,
        q.pairwise_recall,
        q.f1(),
        q.unassigned,
        100.0 * q.member_recall(),
        q.member_records_linked,
        q.member_records,
        100.0 * q.false_attribution_rate(),
        q.records_wrongly_attributed,
        q.records_attributed_to_members
    );
    let noise_path = feeds_dir.join("truth_noise.csv");
    if noise_path.exists() {
        let kinds = evaluate::per_kind(
            &truth,
            &evaluate::read_noise(&noise_path)?,
            &assigned,
            engine.matcher(),
        );
        println!(
            "{:>17} {:>8} {:>8} {:>11} {:>9}",
            "noise kind", "rows", "linked", "with other", "rejected"
        );
        for k in &kinds {
            let pct = |n: u64| 100.0 * n as f64 / k.rows.max(1) as f64;
            println!(
                "{:>17} {:>8} {:>7.2}% {:>10.2}% {:>8.2}%",
                k.kind,
                k.rows,
                pct(k.linked),
                pct(k.with_other),
                pct(k.unassigned)
            );
        }
    }
    let mut passes: std::collections::BTreeMap<&str, u64> = Default::default();
    for s in &summaries {
        for (k, v) in &s.passes {
            *passes.entry(k).or_default() += v;
        }
    }
    println!("links by pass: {passes:?}");
    let fw = framework_of(&cfg)?;
    let r = triangulate::evaluate(
        &engine.store,
        engine.matcher(),
        fw,
        Selection::All,
        chrono::Utc::now(),
    )?;
    // The review queue and the gate, against the truth.
    let reviews: Vec<(String, crate::store::ReviewRecord)> = engine
        .store
        .reviews()?
        .into_iter()
        .map(|r| {
            let feed = engine.store.feed_of(r.seq);
            (feed, r)
        })
        .collect();
    let open = crate::review::Doubts::load(&engine.store, engine.matcher())?.len();
    let dq = evaluate::doubts(
        &truth,
        &assigned,
        &reviews,
        engine.matcher(),
        engine.matcher().threshold(),
        engine.matcher().review_band(),
    );
    println!(
        "review queue: {} doubts ({open} open; band {:.1} bits below the threshold); refused by the household guard (at the threshold, or within the band with the whole dob agreeing): {} of {} truly the candidate's; others by bits below the threshold: {}",
        reviews.len(),
        engine.matcher().review_band(),
        dq.guarded.1,
        dq.guarded.0,
        dq.bands
            .iter()
            .map(|(lo, hi, n, same)| format!(
                "{lo:.0}-{hi:.0}: {same} of {n} ({:.1}%)",
                100.0 * *same as f64 / (*n).max(1) as f64
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let g = evaluate::gate(
        &feeds_dir.join("truth_claims.csv"),
        &triangulate::stored_verdicts(&engine.store)?,
    )?;
    println!(
        "review gate: {} of {} claims wait on review; false verifieds prevented {} (truth: contradicted), true verifieds delayed {}; false verifieds left {} (were {} without the gate)",
        g.held,
        g.claims,
        g.prevented,
        g.delayed,
        g.false_verified,
        g.false_verified + g.prevented
    );
    let narrow: Vec<(String, u64, crate::ingest::matching::PersonId)> = engine
        .store
        .narrow_links()?
        .into_iter()
        .map(|(seq, n)| (engine.store.feed_of(seq), n.row, n.person))
        .collect();
    let (n_narrow, right) = evaluate::uncertain(&truth, &assigned, &narrow, engine.matcher());
    println!(
        "uncertain links (event rows linked within {:.1} bits above the threshold): {n_narrow}, {right} to the right person; {} claims marked as resting on one, {} of them wrong against the truth (of {} wrong verified or contradicted claims)",
        engine.matcher().review_band(),
        g.marked,
        g.marked_wrong,
        g.wrong
    );
    let mut lat = r.per_claim.clone();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "triangulation: {} claims of {} families in {:.3}s = {:.0} claims/s; per claim p50 {:?}, p99 {:?}, max {:?}; {}",
        r.claims,
        r.cases,
        r.elapsed.as_secs_f64(),
        r.claims as f64 / r.elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        lat.last().copied().unwrap_or_default(),
        verdict_counts(&r.counts)
    );
    Ok(())
}
