//! The commands behind the CLI: each takes parsed arguments, does one job,
//! and returns an `anyhow` error with the whole chain for `main` to print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::config::{Config, LogFormat};
use crate::sim::evaluate;
use crate::records::{Period, SourceKind};
use crate::framework::{Framework, RuleClass};
use crate::ingest::{Engine, IngestOptions, IngestSummary};
use crate::keys::HmacKey;
use crate::sim::synth::{self, SynthOptions};
use crate::triangulate::{self, Selection, Verdict, VerdictRecord};

/// Exit status for a configuration error (sysexits EX_CONFIG).
pub const EXIT_CONFIG: i32 = 78;

/// Sets up `tracing`: human-readable on a terminal, JSON lines otherwise
/// (journald keeps them whole). `RUST_LOG` overrides the level.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

pub fn keygen(out: &Path) -> Result<()> {
    let key = HmacKey::generate()?;
    key.write_new(out)?;
    println!("wrote key {} to {} (mode 0600)", key.id(), out.display());
    println!("keep it secret and back it up offline: see keys/README.md");
    Ok(())
}

/// Runs the daemon's own loader; on failure prints every problem. Returns the
/// process exit status.
pub fn check_config(path: &Path) -> i32 {
    match Config::load(path) {
        Ok(c) => {
            println!("{}: ok", path.display());
            println!("  data_dir: {}", c.data_dir.display());
            println!("  key_file: {}", c.key_file.display());
            if let Err(e) = HmacKey::load(&c.key_file) {
                println!("  warning: {e}");
            }
            for (name, f) in &c.feeds {
                let pull = f
                    .pull
                    .as_ref()
                    .map_or("ingest only".to_string(), |p| p.url.clone());
                println!("  feed {name}: {} ({pull})", f.spec.kind);
            }
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CONFIG
        }
    }
}

fn load_config(path: &Path) -> Result<Config> {
    Config::load(path).map_err(anyhow::Error::new)
}

pub fn open_engine(cfg: &Config) -> Result<Engine> {
    let key = HmacKey::load(&cfg.key_file).context("loading the HMAC key")?;
    Engine::open(&cfg.data_dir, &key).context("opening the store")
}

fn read_delivery(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

pub fn ingest(
    config: &Path,
    feed: &str,
    file: &Path,
    period: Option<&str>,
    json: bool,
) -> Result<()> {
    let cfg = load_config(config)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let fc = cfg.feed(feed).with_context(|| {
        let names: Vec<_> = cfg.feeds.keys().cloned().collect();
        format!(
            "no feed '{feed}' in {} (feeds: {})",
            config.display(),
            names.join(", ")
        )
    })?;
    let period = period
        .map(|p| Period::parse(p).with_context(|| "--period must be YYYY-MM-DD..YYYY-MM-DD"))
        .transpose()?;
    let mut engine = open_engine(&cfg)?;
    let bytes = read_delivery(file)?;
    let spinner = progress_spinner(&format!("ingesting {}", file.display()));
    let opts = IngestOptions {
        period,
        ..Default::default()
    };
    let summary = engine.ingest(&fc.spec, &bytes, &opts);
    spinner.finish_and_clear();
    let summary =
        summary.with_context(|| format!("ingesting {} as feed {feed}", file.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{summary}");
    }
    if let (Some(fw), None) = (&cfg.framework, summary.duplicate_of) {
        let touched: std::collections::HashSet<String> =
            summary.touched_cases.iter().cloned().collect();
        let r = triangulate::evaluate(
            &engine.store,
            &engine.matcher,
            fw,
            Selection::AfterDelivery(&touched),
        )?;
        if !json {
            println!(
                "re-evaluated {} claims of {} families: {}",
                r.claims,
                r.cases,
                verdict_counts(&r.counts)
            );
        }
    }
    Ok(())
}

fn verdict_counts(c: &std::collections::HashMap<Verdict, usize>) -> String {
    let mut v: Vec<_> = c.iter().collect();
    v.sort();
    v.iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn framework_of(cfg: &Config) -> Result<&Framework> {
    cfg.framework.as_ref().with_context(|| {
        format!(
            "{} names no framework (set framework = \"sunderland\" or a path)",
            cfg.path.display()
        )
    })
}

/// Lists the shipped frameworks (and the configured one) with their outcomes.
pub fn frameworks(config: Option<&Path>) -> Result<()> {
    let mut list = Framework::all_builtin();
    let mut configured = None;
    if let Some(c) = config {
        let cfg = load_config(c)?;
        if let Some(fw) = cfg.framework {
            configured = Some(fw.framework.id.clone());
            if !list.iter().any(|f| {
                f.framework.id == fw.framework.id && f.framework.version == fw.framework.version
            }) {
                list.push(fw);
            }
        }
    }
    for fw in &list {
        let class = |c| fw.outcomes.iter().filter(|o| o.rule.class() == c).count();
        println!(
            "{} ({}, version {}){}: {} problems, {} outcomes ({} data-verifiable, {} attested, {} unavailable)",
            fw.framework.id,
            fw.framework.council,
            fw.framework.version,
            if configured.as_deref() == Some(fw.framework.id.as_str()) { " [configured]" } else { "" },
            fw.problems.len(),
            fw.outcomes.len(),
            class(RuleClass::DataVerifiable),
            class(RuleClass::Attested),
            class(RuleClass::Unavailable)
        );
        let mut kinds: Vec<SourceKind> = fw
            .outcomes
            .iter()
            .flat_map(|o| o.rule.sources())
            .chain(
                fw.problems
                    .iter()
                    .flat_map(|p| p.indicators.iter().flat_map(|i| i.rule.sources())),
            )
            .collect();
        kinds.push(SourceKind::Case);
        kinds.push(SourceKind::Claims);
        kinds.sort();
        kinds.dedup();
        let mut events: Vec<&str> = fw
            .outcomes
            .iter()
            .flat_map(|o| o.rule.event_kinds())
            .map(|k| k.name())
            .collect();
        events.sort();
        events.dedup();
        println!(
            "  feeds it needs: {}",
            kinds
                .iter()
                .map(|k| k.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("  record types its outcomes read: {}", events.join(", "));
        for o in &fw.outcomes {
            let class = match o.rule.class() {
                RuleClass::DataVerifiable => "data",
                RuleClass::Attested => "attested",
                RuleClass::Unavailable => "unavailable",
            };
            let mut w: String = o.wording.chars().take(90).collect();
            if o.wording.chars().count() > 90 {
                w.push_str("...");
            }
            println!("  {:<10} {:<12} {:<11} {w}", o.id, o.problem, class);
        }
    }
    Ok(())
}

/// Prints an outcome's rule in plain English, with its sources: what an
/// auditor reads.
pub fn explain(outcome: &str, config: Option<&Path>) -> Result<()> {
    let mut list = Framework::all_builtin();
    if let Some(c) = config {
        if let Some(fw) = load_config(c)?.framework {
            list.insert(0, fw);
        }
    }
    let (fw, o) = list
        .iter()
        .find_map(|fw| fw.outcome(outcome).map(|o| (fw, o)))
        .with_context(|| {
            format!("no framework has an outcome '{outcome}' (see `outcomesd frameworks`)")
        })?;
    let problem = fw
        .problem(&o.problem)
        .map_or(o.problem.clone(), |p| format!("{} {}", p.number, p.title));
    println!(
        "{} ({} {}, version {})",
        o.id, fw.framework.council, fw.framework.title, fw.framework.version
    );
    println!("problem: {problem}");
    println!("the plan says: {}", o.wording);
    println!(
        "sources the plan names: {}",
        if o.sources.is_empty() {
            "none".into()
        } else {
            o.sources.join("; ")
        }
    );
    let feeds: Vec<&str> = o.rule.sources().iter().map(|s| s.name()).collect();
    println!(
        "feeds outcomesd reads: {}",
        if feeds.is_empty() {
            "none (practitioner-evidenced)".into()
        } else {
            feeds.join(", ")
        }
    );
    if !o.also_evidences.is_empty() {
        let also: Vec<String> = o
            .also_evidences
            .iter()
            .map(|a| {
                fw.problem(a)
                    .map_or(a.clone(), |p| format!("{} {}", p.number, p.title))
            })
            .collect();
        println!("also evidences: {}", also.join("; "));
    }
    if let Some(i) = &o.interpretation {
        println!("how outcomesd reads it: {i}");
    }
    println!("rule:");
    print!("{}", o.rule.explain(fw));
    println!("absence of events verifies only where the feeds' deliveries cover the whole window; otherwise the claim is insufficient.");
    Ok(())
}

/// Lists claims with their latest decision.
pub fn claims(config: &Path, verdict: Option<&str>, case: Option<&str>, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let fw = framework_of(&cfg)?;
    let want = verdict
        .map(|v| {
            Verdict::parse(v).with_context(|| {
                format!(
                    "--verdict must be verified, contradicted, insufficient or attested, not '{v}'"
                )
            })
        })
        .transpose()?;
    let engine = open_engine(&cfg)?;
    // Decide anything not yet decided, so the list is complete.
    let empty = std::collections::HashSet::new();
    triangulate::evaluate(
        &engine.store,
        &engine.matcher,
        fw,
        Selection::AfterDelivery(&empty),
    )?;
    let mut rows: Vec<VerdictRecord> = triangulate::stored_verdicts(&engine.store)?
        .into_iter()
        .filter(|v| want.is_none_or(|w| v.verdict == w))
        .filter(|v| case.is_none_or(|c| v.case_ref == c))
        .collect();
    rows.sort_by(|a, b| {
        (&a.case_ref, &a.outcome_id, a.claim_date).cmp(&(&b.case_ref, &b.outcome_id, b.claim_date))
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for v in &rows {
        let note = match (v.verdict, v.decision.earliest_decidable) {
            (Verdict::Insufficient, Some(d)) => format!(" (decidable from {d})"),
            _ => String::new(),
        };
        println!(
            "{:<12} {:<10} {} {}{note}",
            v.case_ref, v.outcome_id, v.claim_date, v.verdict
        );
    }
    let mut counts = std::collections::HashMap::new();
    for v in &rows {
        *counts.entry(v.verdict).or_insert(0usize) += 1;
    }
    println!("{} claims: {}", rows.len(), verdict_counts(&counts));
    Ok(())
}

/// Decides a case's claims now and prints the evidence, eligibility and
/// whether the family is claimable.
pub fn verify(config: &Path, case_ref: &str, json: bool) -> Result<()> {
    let cfg = load_config(config)?;
    let fw = framework_of(&cfg)?;
    let engine = open_engine(&cfg)?;
    let case = engine
        .store
        .case(case_ref)?
        .with_context(|| format!("no case '{case_ref}' in the store"))?;
    triangulate::evaluate(
        &engine.store,
        &engine.matcher,
        fw,
        Selection::Case(case_ref),
    )?;
    let verdicts: Vec<VerdictRecord> = triangulate::stored_verdicts(&engine.store)?
        .into_iter()
        .filter(|v| v.case_ref == case_ref)
        .collect();
    let data = triangulate::CaseData::load(&engine.store, &engine.matcher, case.clone())?;
    let indicators = triangulate::check_indicators(fw, &data);
    let (claimable, missing) = triangulate::claimable(&case, &verdicts);
    if json {
        let out = serde_json::json!({
            "case_ref": case_ref,
            "framework": fw.framework.id,
            "framework_version": fw.framework.version,
            "claims": verdicts,
            "indicators": indicators,
            "claimable": claimable,
            "problems_without_outcome": missing,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "case {case_ref}: started {}{}, {} members (people: {}), problems: {}",
        case.start,
        case.end
            .map(|e| format!(", closed {e}"))
            .unwrap_or_default(),
        data.members.len(),
        data.members
            .iter()
            .map(|m| triangulate::pseudonym(m.person))
            .collect::<Vec<_>>()
            .join(", "),
        case.problems().join(", ")
    );
    println!("eligibility (identification indicators at the case start, checked against data where the plan allows):");
    for i in &indicators {
        // An indicator is a fact at the start, not a claim: say it plainly.
        let shown = match i.verdict {
            Verdict::Verified => "shown",
            Verdict::Contradicted => "not shown",
            Verdict::Insufficient => "undecided",
            Verdict::Attested => "attested",
        };
        println!("  {:<8} {:<10} {}", i.indicator, shown, i.finding);
    }
    for v in &verdicts {
        println!(
            "claim {} dated {}: {}",
            v.outcome_id,
            v.claim_date,
            v.verdict.name().to_uppercase()
        );
        if let Some(o) = fw.outcome(&v.outcome_id) {
            println!("  the plan says: {}", o.wording);
        }
        for e in &v.decision.evidence {
            let srcs: Vec<&str> = e.sources.iter().map(|s| s.name()).collect();
            let window = e
                .window
                .map(|w| format!(" window {w};"))
                .unwrap_or_default();
            let cov: Vec<String> = e.coverage.iter().map(|c| c.to_string()).collect();
            println!(
                "  evidence [{}]{window} coverage {}; {}",
                if srcs.is_empty() {
                    "practitioner".to_string()
                } else {
                    srcs.join(", ")
                },
                if cov.is_empty() {
                    "none".into()
                } else {
                    cov.join(", ")
                },
                e.finding
            );
            if !e.dates.is_empty() {
                let d: Vec<String> = e.dates.iter().map(|d| d.to_string()).collect();
                println!("    dates: {}", d.join(", "));
            }
        }
        if !v.decision.missing.is_empty() {
            let m: Vec<String> = v.decision.missing.iter().map(|p| p.to_string()).collect();
            println!("  missing coverage: {}", m.join(", "));
        }
        if let Some(d) = v.decision.earliest_decidable {
            println!("  earliest date it could be decided: {d}");
        }
        if matches!(v.verdict, Verdict::Verified | Verdict::Attested)
            && !v.also_evidences.is_empty()
        {
            println!("  also evidences: {}", v.also_evidences.join(", "));
        }
        for h in &v.history {
            println!(
                "  earlier: {} (framework {}, data to delivery {}, {})",
                h.verdict,
                h.framework_version,
                h.as_of_delivery,
                h.decided_at.format("%Y-%m-%d %H:%M")
            );
        }
    }
    if claimable {
        println!("claimable: yes, every identified problem has a verified or attested outcome");
    } else {
        println!(
            "claimable: no; problems without a verified or attested outcome: {}",
            missing.join(", ")
        );
    }
    Ok(())
}

fn progress_spinner(msg: &str) -> indicatif::ProgressBar {
    // indicatif draws nothing when stderr is not a terminal.
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// `outcomesd run`: the daemon, until SIGTERM or SIGINT.
pub fn run(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    init_logging(cfg.log_format, &cfg.log_level);
    let engine = open_engine(&cfg)?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(crate::daemon::run(cfg, engine))?;
    Ok(())
}

pub fn status(config: &Path) -> Result<()> {
    let cfg = load_config(config)?;
    let key = HmacKey::load(&cfg.key_file).context("loading the HMAC key")?;
    let engine = Engine::open(&cfg.data_dir, &key).context("opening the store")?;
    print_status(&engine);
    Ok(())
}

pub fn print_status(engine: &Engine) {
    let store = &engine.store;
    println!(
        "store: {} ({:.1} MiB on disk)",
        store.path().display(),
        store.size_on_disk() as f64 / 1048576.0
    );
    println!(
        "persons: {} records' people, {} distinct after merges",
        engine.matcher.person_count(),
        engine.matcher.canonical_count()
    );
    let mut feeds: std::collections::BTreeMap<&str, Vec<_>> = Default::default();
    for d in store.deliveries() {
        feeds.entry(d.feed.as_str()).or_default().push(d);
    }
    if feeds.is_empty() {
        println!("no deliveries stored yet");
    }
    for (feed, ds) in feeds {
        let last = ds.last().expect("non-empty");
        let rows: u64 = ds.iter().map(|d| d.accepted).sum();
        let rejected: u64 = ds.iter().map(|d| d.rejected).sum();
        println!(
            "feed {feed} ({}): {} deliveries, {rows} rows stored, {rejected} rejected; last delivery {} at {}",
            last.kind,
            ds.len(),
            last.seq,
            last.received_at.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
    for kind in SourceKind::ALL.into_iter().filter(|k| k.carries_events()) {
        let cov = store.coverage(kind);
        if !cov.is_empty() {
            let list: Vec<String> = cov.iter().map(|p| p.to_string()).collect();
            println!("coverage {kind}: {}", list.join(", "));
        }
    }
    if let Ok(cases) = store.cases() {
        println!("cases: {}", cases.len());
    }
    let mut counts: Vec<_> = store.counts().into_iter().collect();
    counts.sort();
    let c: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("rows: {}", c.join(", "));
}

pub fn synth(out: &Path, families: usize, seed: u64) -> Result<()> {
    let opts = SynthOptions {
        families,
        seed,
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

/// Ingests every generated feed; returns the summaries and, when asked, the
/// (feed, row, person) assignments.
pub fn ingest_all(
    engine: &mut Engine,
    cfg: &Config,
    feeds_dir: &Path,
    keep_assignments: bool,
) -> Result<(Vec<IngestSummary>, Vec<Assignment>)> {
    let mut summaries = Vec::new();
    let mut assigned = Vec::new();
    for (name, _) in DEMO_FEEDS {
        let fc = cfg.feed(name).expect("demo config has every feed");
        let path = feeds_dir.join(format!("{name}.csv"));
        let bytes = read_delivery(&path)?;
        let opts = IngestOptions {
            record_assignments: keep_assignments,
            ..Default::default()
        };
        let s = engine
            .ingest(&fc.spec, &bytes, &opts)
            .with_context(|| format!("ingesting {}", path.display()))?;
        assigned.extend(
            s.assignments
                .iter()
                .map(|(r, p)| (name.to_string(), *r, *p)),
        );
        summaries.push(s);
    }
    Ok((summaries, assigned))
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
    for (name, f) in running.stats.feeds.lock().expect("stats").iter() {
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
            e.matcher.person_count(),
            e.matcher.canonical_count(),
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

pub fn bench(families: usize, seed: u64, keep: Option<&Path>) -> Result<()> {
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
            ..Default::default()
        },
    )?;
    let rows: usize = s
        .files
        .iter()
        .filter(|f| f.feed != "truth")
        .map(|f| f.rows)
        .sum();
    println!(
        "generated {rows} rows ({} families, {} persons) in {:.2}s",
        s.families,
        s.persons,
        t.elapsed().as_secs_f64()
    );
    let cfg = load_config(&write_demo_config(&dir)?)?;
    let mut engine = open_engine(&cfg)?;
    let t = Instant::now();
    let (summaries, assigned) = ingest_all(&mut engine, &cfg, &feeds_dir, true)?;
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
    let truth = evaluate::read_truth(&feeds_dir.join("truth.csv"))?;
    let q = evaluate::score(&truth, &assigned, &engine.matcher);
    println!(
        "matching: pairwise precision {:.4}, recall {:.4}; family members' records linked {:.2}% ({} of {}), wrongly attributed {:.3}% ({} of {})",
        q.pairwise_precision,
        q.pairwise_recall,
        100.0 * q.member_recall(),
        q.member_records_linked,
        q.member_records,
        100.0 * q.false_attribution_rate(),
        q.records_wrongly_attributed,
        q.records_attributed_to_members
    );
    let mut passes: std::collections::BTreeMap<&str, u64> = Default::default();
    for s in &summaries {
        for (k, v) in &s.passes {
            *passes.entry(k).or_default() += v;
        }
    }
    println!("links by pass: {passes:?}");
    let fw = framework_of(&cfg)?;
    let r = triangulate::evaluate(&engine.store, &engine.matcher, fw, Selection::All)?;
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
