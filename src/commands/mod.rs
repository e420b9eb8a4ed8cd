//! The commands behind the CLI: each takes parsed arguments, does one job,
//! and returns an `anyhow` error with the whole chain for `main` to print.

/// `println!` that hands a write error back with `?` instead of panicking:
/// `outcomesd claims | head -1` closes the pipe, and `main` ends quietly on
/// a broken pipe ([`is_broken_pipe`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `print!` that hands a write error back, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

mod assurance;
mod audit;
mod daemon;
mod deliveries;
mod frameworks;
mod ingest;
mod links;
mod outbox;
mod pack;
mod pack_files;
mod partner_report;
mod partners;
mod report;
mod review;
mod schemas;
mod status;
mod store;
mod subject;
mod verdicts;

pub use assurance::assurance;
pub use audit::{
    audit_rotate, audit_show, audit_verify, keygen_for, open_audit, store_compare, Compared,
};
pub use daemon::{check_config, keygen, run, status};
pub use deliveries::{deliveries_accept, deliveries_list, deliveries_reject};
pub use frameworks::{explain, framework_of, frameworks, frameworks_test};
pub use ingest::ingest;
pub use links::{explain_row, links_explain, links_export, waterfall, Explanation};
pub use outbox::{outbox_list, outbox_retry};
pub use pack::{audit_pack, PackPseudonyms};
pub use partners::{validate_feed, NotClean, PartnerCommand};
pub use report::report;
pub use review::{review_decide, review_list, review_show, show_text, DecideReport};
pub use status::{print_status, status_report, StatusReport};
pub use store::{store_backup, store_check, store_restore};
pub use subject::{
    store_purge, subject_erase, subject_lookup, subject_restrict, subject_unlink,
    subject_unrestrict, EraseReport,
};
pub use verdicts::{claims, verdict_counts, verify};

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};

use crate::audit::Audit;
use crate::config::{Config, LogFormat};
use crate::ingest::Engine;
use crate::keys::HmacKey;
use crate::store::Store;

/// Exit status for a configuration error (sysexits EX_CONFIG). systemd's
/// `RestartPreventExitStatus=78` stops restarting a daemon that got it.
pub const EXIT_CONFIG: i32 = 78;

/// The process exit status for a failed command: [`EXIT_CONFIG`] if a
/// config, framework or scenario file was refused anywhere in the chain, 1
/// otherwise.
pub fn exit_status(err: &anyhow::Error) -> u8 {
    if err
        .chain()
        .any(|c| c.is::<crate::config::ConfigError>() || c.is::<crate::error::InvalidFile>())
    {
        EXIT_CONFIG as u8
    } else {
        1
    }
}

/// Whether the command failed only because its output pipe was closed.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

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

pub fn load_config(path: &Path) -> Result<Config> {
    Config::load(path).map_err(anyhow::Error::new)
}

/// The council's matching key, as every store opener loads it.
fn matching_key(cfg: &Config) -> Result<HmacKey> {
    HmacKey::load_for(&cfg.key_file, crate::keys::Purpose::Matching).context("loading the HMAC key")
}

pub fn open_engine(cfg: &Config) -> Result<Engine> {
    let key = matching_key(cfg)?;
    let mut engine = Engine::open(&cfg.data_dir, &key).context("opening the store")?;
    engine.set_review_band(cfg.review_band);
    // Coverage of a kind needs every configured feed of it.
    engine.store.expect_feeds(
        cfg.feeds
            .iter()
            .map(|(name, f)| (name.clone(), f.spec.kind)),
    );
    engine.set_guards(cfg.guards);
    engine.set_disk_reserve(cfg.disk_reserve);
    engine.set_space_multiple(cfg.space_multiple);
    if let Some(fw) = &cfg.framework {
        engine.set_framework(fw);
    }
    engine.audit = Some(audit::open_audit(cfg, Some(&engine.store))?);
    Ok(engine)
}

/// The store and its audit log without the matcher, for commands that only
/// read and name people ([`Store::load_who_is_who`]): what
/// [`open_engine`] opens, less the matcher's rebuild.
pub fn open_reader(cfg: &Config) -> Result<(Store, Audit)> {
    let key = matching_key(cfg)?;
    let store = crate::ingest::open_store(&cfg.data_dir, &key).context("opening the store")?;
    let audit = audit::open_audit(cfg, Some(&store))?;
    Ok((store, audit))
}

/// Every file and directory this process creates is private to its user
/// (0600 / 0700) whatever the umask it was started with: the store, the
/// reports and the exports hold pseudonymised personal data. (A spool that
/// another account must read gets a default ACL on its directory, which
/// the umask does not override: docs/operations.md.)
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// The outbox the config's sinks are delivered from: commands queue
/// notices there, the daemon sends them.
pub fn outbox_of(cfg: &Config, engine: &Engine) -> Result<crate::notify::Outbox> {
    let sinks: Vec<String> = cfg.sinks.iter().map(|s| s.name().to_string()).collect();
    Ok(crate::notify::Outbox::new(engine.store.outbox(), sinks)?)
}

/// [`outbox_of`], with what the config says notices carry.
pub fn notices_of(cfg: &Config, engine: &Engine) -> Result<crate::notify::reconcile::Notices> {
    Ok(crate::notify::reconcile::Notices {
        outbox: outbox_of(cfg, engine)?,
        detail: cfg.notice_detail,
        audit: engine.audit.clone(),
    })
}

pub fn read_delivery(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

pub fn progress_spinner(msg: &str) -> indicatif::ProgressBar {
    // indicatif draws nothing when stderr is not a terminal.
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
