//! `synth` and `demo`: generated feeds, and the whole daemon cycle on
//! loopback against simulated partners and a receiver.

use std::path::{Path, PathBuf};

use crate::commands::{
    init_logging, load_config, open_engine, progress_spinner, read_delivery, verdict_counts,
};
use anyhow::{bail, Context, Result};

use crate::config::Config;
use crate::ingest::{Engine, IngestOptions, IngestSummary};
use crate::keys::HmacKey;
use crate::records::SourceKind;
use crate::sim::synth::{self, SynthOptions};
use crate::triangulate::{self};
pub fn synth(out: &Path, families: usize, seed: u64, noise: synth::NoiseLevel) -> Result<()> {
    let opts = SynthOptions {
        families,
        seed,
        noise,
        ..Default::default()
    };
    let spinner = progress_spinner("generating synthetic feeds");
    std::fs::create_dir_all(out)?;
    let s = synth::generate(out, &opts);
    spinner.finish_and_clear();
    let s = s?;
    for f in &s.files {
        println!("{:>12} {:>9} rows  {}", f.feed, f.rows, f.path.display());
    }
    println!(
        "{} families, {} persons, {} claims; ground truth in truth.csv",
        s.families, s.persons, s.claims
    );
    Ok(())
}

/// The feeds the demo and benchmark ingest, in the order that suits matching
/// (the case system first: it carries the most identifiers).
pub const DEMO_FEEDS: [(&str, SourceKind); 7] = [
    ("case", SourceKind::Case),
    ("social_care", SourceKind::SocialCare),
    ("education", SourceKind::Education),
    ("dwp", SourceKind::Dwp),
    ("police", SourceKind::Police),
    ("services", SourceKind::Services),
    ("claims", SourceKind::Claims),
];

/// Writes a working config for a demo or benchmark directory: a fresh key,
/// a data dir and one feed per source kind.
pub fn write_demo_config(dir: &Path) -> Result<PathBuf> {
    let key_path = dir.join("hmac.key");
    HmacKey::generate()?.write_new(&key_path)?;
    let mut text = String::from(
        "# Written by `outcomesd demo`: a throwaway store and key.\n\
         data_dir = \"data\"\nkey_file = \"hmac.key\"\nframework = \"sunderland\"\n\n[log]\nformat = \"human\"\nlevel = \"warn\"\n",
    );
    for (name, kind) in DEMO_FEEDS {
        text.push_str(&format!("\n[feeds.{name}]\nkind = \"{kind}\"\n"));
    }
    let path = dir.join("outcomesd.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// (feed, row, person) for one accepted row.
pub type Assignment = (String, u64, u64);

/// Ingests every generated feed; returns the summaries.
pub fn ingest_all(
    engine: &mut Engine,
    cfg: &Config,
    feeds_dir: &Path,
) -> Result<Vec<IngestSummary>> {
    let mut summaries = Vec::new();
    for (name, _) in DEMO_FEEDS {
        let fc = cfg.feed(name).expect("demo config has every feed");
        let path = feeds_dir.join(format!("{name}.csv"));
        let bytes = read_delivery(&path)?;
        let s = engine
            .ingest(&fc.spec, &bytes, &IngestOptions::default())
            .with_context(|| format!("ingesting {}", path.display()))?;
        summaries.push(s);
    }
    Ok(summaries)
}

pub fn demo(keep: Option<&Path>, families: usize) -> Result<()> {
    let tmp;
    let dir = match keep {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            if std::fs::read_dir(d)?.next().is_some() {
                bail!(
                    "{} is not empty; give --keep a new or empty directory",
                    d.display()
                );
            }
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(demo_cycle(&dir, families))?;
    if keep.is_some() {
        println!(
            "kept in {}: feeds/, data/ (store, reports), spool/, tls/, outcomesd.toml",
            dir.display()
        );
        println!("try: outcomesd claims --config {0}/outcomesd.toml; outcomesd verify SF-000001 --config {0}/outcomesd.toml", dir.display());
    }
    Ok(())
}

/// The whole daemon cycle on loopback: partner feed servers that demand a
/// client certificate, a webhook receiver that checks signatures, and the
/// daemon itself with every feed pulled at start.
async fn demo_cycle(dir: &Path, families: usize) -> Result<()> {
    use crate::sim::pki::{server_config, TestCa};
    println!("outcomesd demo in {}", dir.display());
    let feeds_dir = dir.join("feeds");
    std::fs::create_dir_all(&feeds_dir)?;
    let s = synth::generate(
        &feeds_dir,
        &SynthOptions {
            families,
            seed: 2015,
            ..Default::default()
        },
    )?;
    println!(
        "generated {} families ({} persons, {} claims) as partner feeds",
        s.families, s.persons, s.claims
    );
    // Certificates, fresh for this run: a CA per partner side, one for the
    // council's client certificates, one for the coordinators' webhook.
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls)?;
    let partner_ca = TestCa::new("Demo partner CA");
    let council_ca = TestCa::new("Demo council client CA");
    let coordinator_ca = TestCa::new("Demo coordinator CA");
    std::fs::write(tls.join("partner-ca.pem"), partner_ca.cert_pem())?;
    std::fs::write(tls.join("coordinator-ca.pem"), coordinator_ca.cert_pem())?;
    council_ca
        .issue_client("outcomesd.demo-council.example")
        .write(&tls, "council-client")?;
    let partner_tls = server_config(
        &partner_ca.issue_server(&["127.0.0.1"]),
        Some(&council_ca.cert_pem()),
    );
    let mut partners = Vec::new();
    let mut feed_urls = Vec::new();
    for (name, _) in DEMO_FEEDS {
        let path = format!("/{name}.csv");
        let bytes = std::fs::read(feeds_dir.join(format!("{name}.csv")))?;
        let server = crate::sim::partner::PartnerServer::start(
            partner_tls.clone(),
            std::collections::HashMap::from([(path.clone(), bytes)]),
        )
        .await?;
        feed_urls.push((name, server.url(&path)));
        partners.push(server);
    }
    let secret = crate::notify::WebhookSecret::generate();
    let receiver = crate::sim::receiver::Receiver::start(
        server_config(
            &coordinator_ca.issue_server(&["127.0.0.1"]),
            Some(&council_ca.cert_pem()),
        ),
        secret.clone(),
    )
    .await?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("webhook.secret"))?;
        f.write_all(secret.to_whsec().as_bytes())?;
    }
    HmacKey::generate()?.write_new(&dir.join("hmac.key"))?;
    let mut text = String::from(
        "# Written by `outcomesd demo`: loopback partners, a throwaway store and key.\n\
         data_dir = \"data\"\nkey_file = \"hmac.key\"\nframework = \"sunderland\"\n\n\
         [log]\nformat = \"human\"\nlevel = \"warn\"\n\n[status]\nlisten = \"127.0.0.1:0\"\n\n\
         [notices]\npoll_seconds = 1\n\n",
    );
    text.push_str(&format!(
        "[[notices.webhook]]\nname = \"coordinators\"\nurl = \"{}\"\nsecret_file = \"webhook.secret\"\nca_bundle = \"tls/coordinator-ca.pem\"\nclient_cert = \"tls/council-client.crt\"\nclient_key = \"tls/council-client.key\"\n\n[[notices.spool]]\nname = \"spool\"\ndir = \"spool\"\n",
        receiver.url()
    ));
    for (name, url) in &feed_urls {
        let kind = DEMO_FEEDS
            .iter()
            .find(|(n, _)| n == name)
            .expect("demo feed")
            .1;
        text.push_str(&format!(
            "\n[feeds.{name}]\nkind = \"{kind}\"\nurl = \"{url}\"\nschedule = \"0 2 * * *\"\npull_at_start = true\nca_bundle = \"tls/partner-ca.pem\"\nclient_cert = \"tls/council-client.crt\"\nclient_key = \"tls/council-client.key\"\n"
        ));
    }
    std::fs::create_dir_all(dir.join("spool"))?;
    let cfg_path = dir.join("outcomesd.toml");
    std::fs::write(&cfg_path, text)?;
    let cfg = load_config(&cfg_path)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let engine = open_engine(&cfg)?;
    let running = crate::daemon::start(&cfg, engine, crate::daemon::Clock::new()).await?;
    println!(
        "daemon running: {} mTLS feeds pulled at start, then daily at 02:00 UTC; status on http://{}/metrics",
        feed_urls.len(),
        running.status_addr.map(|a| a.to_string()).unwrap_or_default()
    );
    // Wait for every feed's first pull and for the outbox to drain.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while !(running.first_pulls_done()
        && running
            .outbox
            .counts()
            .map(|c| c.pending + c.failing == 0)
            .unwrap_or(false))
    {
        if tokio::time::Instant::now() > deadline {
            println!("demo: gave up waiting after 120 s");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for (name, f) in running.stats.feed_stats().iter() {
        match &f.last_error {
            Some(e) if f.deliveries == 0 => println!("feed {name}: FAILED: {e}"),
            _ => println!(
                "feed {name}: pulled over mutual TLS, {} rows stored, {} rejected",
                f.rows_accepted, f.rows_rejected
            ),
        }
    }
    let (persons, distinct, cases, verdicts) = running.with_engine(|e| -> Result<_> {
        Ok((
            e.matcher().person_count(),
            e.matcher().canonical_count(),
            e.store.cases()?.len(),
            triangulate::stored_verdicts(&e.store)?,
        ))
    })?;
    println!("matched records to {persons} persons ({distinct} after merges) in {cases} families (keyworker cases)");
    let mut counts = std::collections::HashMap::new();
    for v in &verdicts {
        *counts.entry(v.verdict).or_insert(0usize) += 1;
    }
    println!(
        "claims evaluated against Sunderland's framework: {} ({})",
        verdicts.len(),
        verdict_counts(&counts)
    );
    let got = receiver.received();
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    let verified = got.iter().filter(|r| r.verified).count();
    let c = running.outbox.counts()?;
    println!(
        "notices: {} delivered to the coordinators' webhook ({} requests, {} with a valid Standard Webhooks signature), {} written to the spool, {} pending",
        ids.len(),
        got.len(),
        verified,
        std::fs::read_dir(dir.join("spool"))?.count(),
        c.pending + c.failing
    );
    let metrics = crate::daemon::metrics_text(&running.stats, &running.outbox);
    println!(
        "metrics: {} series, e.g. {}",
        metrics.lines().filter(|l| !l.starts_with('#')).count(),
        metrics
            .lines()
            .find(|l| l.starts_with("outcomesd_notices_delivered_total"))
            .unwrap_or("")
    );
    let drained = running.stop().await;
    println!("stopped cleanly: {drained}");
    for p in &partners {
        p.shutdown().await;
    }
    Ok(())
}
