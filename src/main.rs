//! The `outcomesd` binary: parses the command line and hands over to
//! `outcomesd::commands`. One exit point prints the whole error chain and
//! picks the exit status (78, EX_CONFIG, for a config `run` would refuse).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use outcomesd::commands;
use outcomesd::sim::synth::NoiseLevel;

// Ingest allocates and frees many small buffers a row across threads;
// mimalloc does that with less CPU than the system allocator. Built without
// transparent huge pages (Cargo feature `no_thp`): they keep whole 2 MiB
// pages resident, and make mimalloc hand memory back only in 2 MiB pieces.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's own option setter, linked in with the allocator above.
extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h
/// of libmimalloc-sys 0.1.49: the 16th option).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Memory freed goes back to the system after 10 ms, not after mimalloc's
/// default delay (1 s, 10 s for its arenas): ingest grows large tables and
/// vectors by reallocation faster than that, and each old copy stayed in
/// the peak (`bench --families 15000`: 563 MiB peak with the defaults, 419
/// MiB with no delay and no_thp). No delay at all costs time instead: the
/// small pages a row's buffers live in were handed back and faulted in
/// again all through a delivery (10 ms: `bench --noise realistic` at
/// 15,000 families ~5.4 -> ~5.0 s end to end, peak +12 MiB; at 60,000
/// families the peak is unchanged).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

fn allocator_options() {
    // SAFETY: a plain setter of an integer option, called once at start
    // before any other thread exists (mimalloc's options are not
    // synchronised); the option index is mimalloc 3's, which
    // libmimalloc-sys 0.1.49 builds by default.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

#[derive(Parser)]
#[command(
    name = "outcomesd",
    version,
    about = "Verifies Supporting Families outcome claims against pseudonymised partner data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum LinksAction {
    /// Write every stored row's link as CSV:
    /// feed,delivery,row,person,household,score,rule
    Export {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Add each field's comparison level and weight (bits)
        #[arg(long)]
        evidence: bool,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Why one row went where it did: score, runner-up, and each field's
    /// level and weight as a waterfall (never a value)
    Explain {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// The feed's name
        feed: String,
        /// The delivery number (as in `links export` and rejection reports)
        delivery: u32,
        /// The row number (as in rejection reports)
        row: u64,
        #[arg(long)]
        json: bool,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReviewAction {
    /// Open items, those affecting a claim first
    List {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Decided and settled items too
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// One item: the two records, the agreement pattern, the families
    Show {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        id: String,
        #[arg(long)]
        json: bool,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Decide an item; honoured by every later delivery. Run with the daemon stopped
    Decide {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        id: String,
        #[arg(value_enum)]
        decision: Decision,
        /// Why (kept with the decision)
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: $USER)
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DeliveriesAction {
    /// Every delivery: applied, held (and why), accepted or rejected
    List {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Accept a held delivery; with --file (the same bytes) apply it now.
    /// Run with the daemon stopped
    Accept {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        id: u32,
        /// The partner's file again (checked against the held SHA-256)
        #[arg(long)]
        file: Option<PathBuf>,
        /// Who decides (default: $USER)
        #[arg(long)]
        by: Option<String>,
    },
    /// Reject a held delivery: it is never applied. Run with the daemon stopped
    Reject {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        id: u32,
        /// Who decides (default: $USER)
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Subcommand)]
enum StoreAction {
    /// Read every value of every tree and check it decodes (exit 1 if damaged)
    Check {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Copy the store to a new or empty DIR (0700/0600), checked. Run with the daemon stopped
    Backup {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        dir: PathBuf,
    },
    /// Check a backup, then copy it in as the store. Run with the daemon stopped
    Restore {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        dir: PathBuf,
        /// Replace a store that holds data (it is moved aside, not deleted)
        #[arg(long)]
        force: bool,
    },
    /// Compare this store's verdicts per claim with another data dir's (a
    /// store rebuilt under a new matching key); exit 1 if they differ
    Compare {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// The other data directory (its `store/`)
        #[arg(long)]
        other_data_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Remove what retention ([retention] in the config) says has gone past
    /// its time. Run with the daemon stopped (the daemon purges daily)
    Purge {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Print what would go; change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check every entry's MAC and link, and the end against checkpoints;
    /// exit 1 naming the first bad entry
    Verify {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// A head recorded elsewhere (the journal's `audit chain head`
        /// line, an evidence pack): SEQ:HASH; repeatable
        #[arg(long)]
        head: Vec<String>,
        /// Another audit key the log may be under (retired keys beside
        /// audit_key_file are found without it); repeatable
        #[arg(long)]
        key: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Entries from a day on (UTC)
    Show {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// YYYY-MM-DD
        #[arg(long)]
        since: chrono::NaiveDate,
        /// One JSON entry a line, as stored
        #[arg(long)]
        json: bool,
    },
    /// Hand the log over to a new audit key (`keygen --purpose audit`);
    /// the old key is kept beside it for verify. Run with the daemon stopped
    Rotate {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        new_key: PathBuf,
    },
    /// Export the claims dated FROM..TO as an evidence pack (CSV and JSON,
    /// a manifest of SHA-256s) into a new or empty DIR (0700/0600)
    Pack {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// First claim date (YYYY-MM-DD)
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last claim date (YYYY-MM-DD)
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long)]
        out: PathBuf,
        /// The key pack pseudonyms are derived under (default: the
        /// config's pack_key_file; `outcomesd keygen --purpose pack`)
        #[arg(long)]
        pack_key: Option<PathBuf>,
        /// Print the manifest as JSON
        #[arg(long)]
        json: bool,
        /// Why the pack is made (recorded in the audit log)
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum KeyPurpose {
    /// Pseudonymisation (key_file)
    Matching,
    /// The audit log's chain (audit_key_file)
    Audit,
    /// Evidence-pack pseudonyms (pack_key_file)
    Pack,
}

#[derive(Subcommand)]
enum OutboxAction {
    /// Deliveries per sink (pending, failing, delivered) and each one not
    /// yet delivered, with its attempts, next attempt and last error
    List {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Only this sink
        #[arg(long)]
        sink: Option<String>,
        /// Delivered ones too
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Make undelivered deliveries due now (all, one sink's, or one
    /// notice's) instead of at the end of their backoff; through the daemon
    /// while it runs
    Retry {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Only this sink
        #[arg(long)]
        sink: Option<String>,
        /// Only this notice (ntc_...) or receipt (rct_...)
        notice: Option<String>,
    },
}

#[derive(Subcommand)]
enum SubjectAction {
    /// Everything held about a person, from identifiers on standard input
    /// (`field: value` lines) or a prompt: never on the command line
    Lookup {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Why (e.g. the subject access request's reference), for the audit log
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Split a wrong merge: keep two stored people (pseudonyms from
    /// `lookup`'s "stored as") apart, recorded as a review decision
    Unlink {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        a: String,
        b: String,
        #[arg(long)]
        note: Option<String>,
        /// Who decides (default: $USER)
        #[arg(long)]
        by: Option<String>,
    },
    /// Stop using a person's records in decisions (pseudonyms, or
    /// identifiers on standard input when none is given)
    Restrict {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        persons: Vec<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Lift a restriction
    Unrestrict {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        persons: Vec<String>,
        #[arg(long)]
        by: Option<String>,
    },
    /// Delete a person's events and identity tokens, re-decide their
    /// families' claims, and rewrite the store so the values leave its files
    Erase {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        persons: Vec<String>,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Decision {
    /// The two records are one person
    Same,
    /// They are different people: never link them
    Different,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole cycle on generated data in a throwaway directory
    Demo {
        /// Keep feeds, store and logs in this (new or empty) directory
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Families to generate
        #[arg(long, default_value_t = 200)]
        families: usize,
    },
    /// Run the daemon: pull feeds on their schedules, decide claims, send notices
    Run {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
    },
    /// Apply one delivery of a feed and print what it did
    Ingest {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// The feed's name in the config
        #[arg(long)]
        feed: String,
        /// The period the delivery covers, FROM..TO, if the file does not say
        #[arg(long)]
        period: Option<String>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
        file: PathBuf,
    },
    /// What is stored, per feed: deliveries, coverage, counts
    Status {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Where stored rows were linked: export for scoring and review
    Links {
        #[command(subcommand)]
        action: LinksAction,
    },
    /// Deliveries stored and held: list them, accept or reject a held one
    Deliveries {
        #[command(subcommand)]
        action: DeliveriesAction,
    },
    /// The store's integrity, backup and restore
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// The notice outbox: deliveries per sink; nudge those backing off
    Outbox {
        #[command(subcommand)]
        action: OutboxAction,
    },
    /// Data subjects' rights: subject access, unlink, restriction, erasure
    Subject {
        #[command(subcommand)]
        action: SubjectAction,
    },
    /// The clerical-review queue: rows left unlinked that may be a known person
    Review {
        #[command(subcommand)]
        action: ReviewAction,
    },
    /// Flag keyworkers, teams, claims and outcomes that depart from their
    /// peers or the data, each with its test and figures
    Assurance {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
        /// Why it is run (recorded in the audit log)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Write the coordinators' and IG report: one self-contained HTML page
    Report {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// The HTML file to write (mode 0600)
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a config file with the daemon's own loader (exit 78 if bad)
    CheckConfig {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Print what was found (or every problem) as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, generated from this command line
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff); with --dir, write outcomesd.1 and one
    /// page per subcommand (outcomesd-status.1, ...) there
    Man {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Make a new 256-bit HMAC key file (mode 0600)
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// What the key is for; each purpose has its own key
        #[arg(long, value_enum, default_value_t = KeyPurpose::Matching)]
        purpose: KeyPurpose,
    },
    /// Accountability: the tamper-evident audit log (verify, show, rotate
    /// its key) and the internal-audit evidence pack
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// List the frameworks (shipped and configured) and their outcomes
    Frameworks {
        #[arg(long)]
        config: Option<PathBuf>,
        /// List them as JSON
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<FrameworksAction>,
    },
    /// Print an outcome's rule in plain English, with its sources
    Explain {
        outcome_id: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List keyworker claims with their verdicts
    Claims {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        /// Only this verdict: verified, contradicted, insufficient, attested,
        /// or not-applicable (insufficient with no one in the rule's scope)
        #[arg(long)]
        verdict: Option<String>,
        /// Only this case
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        json: bool,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Evaluate a case's claims now and print the evidence (with --as-of,
    /// re-decide as of a date and compare with the stored verdicts)
    Verify {
        case_ref: String,
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
        /// Re-decide as of this date (YYYY-MM-DD), storing nothing, and
        /// compare with the stored verdicts
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Why you are looking (kept in the audit log; never type identifiers)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Generate synthetic feeds and ground truth
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        families: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Recording errors in partner rows (see src/sim/synth/noise.rs)
        #[arg(long, value_enum, default_value_t = NoiseLevel::Light)]
        noise: NoiseLevel,
    },
    /// Measure ingest speed, memory and matching quality on generated data
    Bench {
        #[arg(long, default_value_t = 20000)]
        families: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Keep the generated data and store here
        #[arg(long)]
        keep: Option<PathBuf>,
        /// Recording errors in partner rows (see src/sim/synth/noise.rs)
        #[arg(long, value_enum, default_value_t = NoiseLevel::Light)]
        noise: NoiseLevel,
        /// Review band (bits below the link threshold; default as in config)
        #[arg(long)]
        review_band: Option<f64>,
    },
    // validate-feed, schemas, partner-report (src/commands/partners.rs)
    #[command(flatten)]
    Partners(commands::PartnerCommand),
}

#[derive(Subcommand)]
enum FrameworksAction {
    /// Run a scenario file against a framework (exit 1 if any fails, 78 if invalid)
    Test {
        /// The framework: a file or a shipped id
        framework: PathBuf,
        /// The scenario file
        scenarios: PathBuf,
    },
}

/// The one exit point (as in ripgrep's `main`): every command returns its
/// error here, printed once with each cause once, and mapped to a status.
fn main() -> ExitCode {
    allocator_options();
    commands::private_files();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if commands::is_broken_pipe(&err) {
                // `outcomesd claims | head`: the reader has all it wanted.
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {}", outcomesd::error::Chain(err.as_ref()));
            ExitCode::from(commands::exit_status(&err))
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::CheckConfig { config, json } => commands::check_config(config, *json),
        Command::Demo { keep, families } => outcomesd::sim::demo::demo(keep.as_deref(), *families),
        Command::Ingest {
            config,
            feed,
            period,
            json,
            file,
        } => commands::ingest(config, feed, file, period.as_deref(), *json),
        Command::Run { config } => commands::run(config),
        Command::Report { config, out } => commands::report(config, out),
        Command::Status { config, json } => commands::status(config, *json),
        Command::Links {
            action:
                LinksAction::Export {
                    config,
                    out,
                    evidence,
                    reason,
                },
        } => {
            let n = commands::links_export(config, out, *evidence, reason.as_deref())?;
            eprintln!("{n} links written to {}", out.display());
            Ok(())
        }
        Command::Links {
            action:
                LinksAction::Explain {
                    config,
                    feed,
                    delivery,
                    row,
                    json,
                    reason,
                },
        } => commands::links_explain(config, feed, *delivery, *row, *json, reason.as_deref()),
        Command::Deliveries { action } => match action {
            DeliveriesAction::List { config, json } => commands::deliveries_list(config, *json),
            DeliveriesAction::Accept {
                config,
                id,
                file,
                by,
            } => commands::deliveries_accept(config, *id, file.as_deref(), by.as_deref()),
            DeliveriesAction::Reject { config, id, by } => {
                commands::deliveries_reject(config, *id, by.as_deref())
            }
        },
        Command::Store { action } => match action {
            StoreAction::Check { config, json } => commands::store_check(config, *json),
            StoreAction::Backup { config, dir } => commands::store_backup(config, dir),
            StoreAction::Restore { config, dir, force } => {
                commands::store_restore(config, dir, *force)
            }
            StoreAction::Compare {
                config,
                other_data_dir,
                json,
            } => commands::store_compare(config, other_data_dir, *json),
            StoreAction::Purge {
                config,
                dry_run,
                json,
            } => commands::store_purge(config, *dry_run, *json),
        },
        Command::Outbox { action } => match action {
            OutboxAction::List {
                config,
                sink,
                all,
                json,
            } => commands::outbox_list(config, sink.as_deref(), *all, *json),
            OutboxAction::Retry {
                config,
                sink,
                notice,
            } => commands::outbox_retry(config, sink.as_deref(), notice.as_deref()),
        },
        Command::Subject { action } => match action {
            SubjectAction::Lookup {
                config,
                reason,
                json,
            } => commands::subject_lookup(config, reason.as_deref(), *json),
            SubjectAction::Unlink {
                config,
                a,
                b,
                note,
                by,
            } => commands::subject_unlink(config, a, b, by.as_deref(), note.clone()),
            SubjectAction::Restrict {
                config,
                persons,
                reason,
                by,
            } => commands::subject_restrict(config, persons, reason, by.as_deref()),
            SubjectAction::Unrestrict {
                config,
                persons,
                by,
            } => commands::subject_unrestrict(config, persons, by.as_deref()),
            SubjectAction::Erase {
                config,
                persons,
                reason,
                by,
                json,
            } => commands::subject_erase(config, persons, reason, by.as_deref(), *json),
        },
        Command::Review { action } => match action {
            ReviewAction::List {
                config,
                all,
                json,
                reason,
            } => commands::review_list(config, *all, *json, reason.as_deref()),
            ReviewAction::Show {
                config,
                id,
                json,
                reason,
            } => commands::review_show(config, id, *json, reason.as_deref()),
            ReviewAction::Decide {
                config,
                id,
                decision,
                note,
                by,
                json,
            } => {
                let d = match decision {
                    Decision::Same => outcomesd::store::ReviewVerdict::Same,
                    Decision::Different => outcomesd::store::ReviewVerdict::Different,
                };
                let r = commands::review_decide(config, id, d, by.as_deref(), note.clone())?;
                let mut out = std::io::stdout().lock();
                if *json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&r)?)?;
                } else {
                    writeln!(
                        out,
                        "item {}: decided {:?}; {} claims of {} families re-decided, {} verdicts changed, {} notices queued",
                        r.item,
                        r.decision,
                        r.claims_redecided,
                        r.cases.len(),
                        r.verdicts_changed.len(),
                        r.notices_queued
                    )?;
                    for (case, outcome, v) in &r.verdicts_changed {
                        writeln!(out, "  {case} {outcome}: now {v}")?;
                    }
                }
                Ok(())
            }
        },
        Command::Assurance {
            config,
            json,
            reason,
        } => commands::assurance(config, *json, reason.as_deref()),
        Command::Frameworks {
            action:
                Some(FrameworksAction::Test {
                    framework,
                    scenarios,
                }),
            ..
        } => commands::frameworks_test(framework, scenarios),
        Command::Frameworks {
            config,
            json,
            action: None,
        } => commands::frameworks(config.as_deref(), *json),
        Command::Explain { outcome_id, config } => commands::explain(outcome_id, config.as_deref()),
        Command::Claims {
            config,
            verdict,
            case,
            json,
            reason,
        } => commands::claims(
            config,
            verdict.as_deref(),
            case.as_deref(),
            *json,
            reason.as_deref(),
        ),
        Command::Verify {
            case_ref,
            config,
            json,
            as_of,
            reason,
        } => commands::verify(config, case_ref, *json, *as_of, reason.as_deref()),
        Command::Keygen {
            out,
            purpose: KeyPurpose::Matching,
        } => commands::keygen(out),
        Command::Keygen { out, purpose } => commands::keygen_for(
            out,
            match purpose {
                KeyPurpose::Audit => outcomesd::keys::Purpose::Audit,
                _ => outcomesd::keys::Purpose::Pack,
            },
        ),
        Command::Audit { action } => match action {
            AuditAction::Verify {
                config,
                head,
                key,
                json,
            } => commands::audit_verify(config, head, key, *json),
            AuditAction::Show {
                config,
                since,
                json,
            } => commands::audit_show(config, *since, *json),
            AuditAction::Rotate { config, new_key } => commands::audit_rotate(config, new_key),
            AuditAction::Pack {
                config,
                from,
                to,
                out,
                pack_key,
                json,
                reason,
            } => commands::audit_pack(
                config,
                *from,
                *to,
                out,
                pack_key.as_deref(),
                *json,
                reason.as_deref(),
            ),
        },
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "outcomesd", &mut out);
            std::io::stdout().lock().write_all(&out)?;
            Ok(())
        }
        Command::Man { dir: Some(dir) } => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(Cli::command(), dir)?;
            // Man pages are for everyone (the umask here is 077).
            for e in std::fs::read_dir(dir)? {
                let p = e?.path();
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if name.starts_with("outcomesd") && name.ends_with(".1") {
                    use std::os::unix::fs::PermissionsExt as _;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644))?;
                }
            }
            Ok(())
        }
        Command::Man { dir: None } => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            std::io::stdout().lock().write_all(&out)?;
            Ok(())
        }
        Command::Synth {
            out,
            families,
            seed,
            noise,
        } => outcomesd::sim::demo::synth(out, *families, *seed, *noise),
        Command::Bench {
            families,
            seed,
            keep,
            noise,
            review_band,
        } => outcomesd::sim::bench::bench(*families, *seed, keep.as_deref(), *noise, *review_band),
        Command::Partners(c) => c.run(),
    }
}
