//! The `outcomesd` binary: parses the command line and hands over to
//! `outcomesd::commands`. One exit point prints the whole error chain and
//! picks the exit status (78, EX_CONFIG, for a config `run` would refuse).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use outcomesd::commands;
use outcomesd::sim::synth::NoiseLevel;

// Ingest allocates and frees many small buffers a row across threads;
// mimalloc does that with less CPU than the system allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    },
    /// One item: the two records, the agreement pattern, the families
    Show {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
        id: String,
        #[arg(long)]
        json: bool,
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
    /// The clerical-review queue: rows left unlinked that may be a known person
    Review {
        #[command(subcommand)]
        action: ReviewAction,
    },
    /// Check a config file with the daemon's own loader (exit 78 if bad)
    CheckConfig {
        #[arg(long, default_value = "/etc/outcomesd/outcomesd.toml")]
        config: PathBuf,
    },
    /// Make a new 256-bit HMAC key file (mode 0600)
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// List the frameworks (shipped and configured) and their outcomes
    Frameworks {
        #[arg(long)]
        config: Option<PathBuf>,
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
        /// Only this verdict: verified, contradicted, insufficient, attested
        #[arg(long)]
        verdict: Option<String>,
        /// Only this case
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        json: bool,
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
        Command::CheckConfig { config } => commands::check_config(config),
        Command::Demo { keep, families } => outcomesd::sim::demo::demo(keep.as_deref(), *families),
        Command::Ingest {
            config,
            feed,
            period,
            json,
            file,
        } => commands::ingest(config, feed, file, period.as_deref(), *json),
        Command::Run { config } => commands::run(config),
        Command::Status { config } => commands::status(config),
        Command::Links {
            action:
                LinksAction::Export {
                    config,
                    out,
                    evidence,
                },
        } => {
            let n = commands::links_export(config, out, *evidence)?;
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
                },
        } => commands::links_explain(config, feed, *delivery, *row, *json),
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
        },
        Command::Review { action } => match action {
            ReviewAction::List { config, all, json } => commands::review_list(config, *all, *json),
            ReviewAction::Show { config, id, json } => commands::review_show(config, id, *json),
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
            action: None,
        } => commands::frameworks(config.as_deref()),
        Command::Explain { outcome_id, config } => commands::explain(outcome_id, config.as_deref()),
        Command::Claims {
            config,
            verdict,
            case,
            json,
        } => commands::claims(config, verdict.as_deref(), case.as_deref(), *json),
        Command::Verify {
            case_ref,
            config,
            json,
            as_of,
        } => commands::verify(config, case_ref, *json, *as_of),
        Command::Keygen { out } => commands::keygen(out),
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
