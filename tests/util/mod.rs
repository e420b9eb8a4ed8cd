//! Shared helpers for the integration tests: a scratch directory with a
//! config, a fresh key and generated feeds, and a way to run the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use outcomesd::sim::demo::write_demo_config;
use outcomesd::sim::synth::{self, SynthOptions};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub feeds: PathBuf,
}

impl Env {
    /// A config with one feed per source kind, a fresh key, and `families`
    /// families of generated feeds (seeded).
    pub fn new(families: usize, seed: u64) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = write_demo_config(dir.path()).unwrap();
        let feeds = dir.path().join("feeds");
        std::fs::create_dir_all(&feeds).unwrap();
        synth::generate(
            &feeds,
            &SynthOptions {
                families,
                seed,
                ..Default::default()
            },
        )
        .unwrap();
        Env { dir, config, feeds }
    }

    /// A config with one feed per source kind and a fresh key, and no
    /// feeds: the test writes its own.
    pub fn empty() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = write_demo_config(dir.path()).unwrap();
        let feeds = dir.path().join("feeds");
        std::fs::create_dir_all(&feeds).unwrap();
        Env { dir, config, feeds }
    }

    /// Runs `outcomesd ARGS... --config CONFIG`.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--config", self.config.to_str().unwrap()]);
        self.run(&a)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn feed_file(&self, name: &str) -> PathBuf {
        self.feeds.join(format!("{name}.csv"))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `outcomesd ARGS...` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        outcomesd(args)
    }

    pub fn ingest(&self, feed: &str, file: &Path) -> Output {
        self.run(&[
            "ingest",
            "--config",
            self.config.to_str().unwrap(),
            "--feed",
            feed,
            file.to_str().unwrap(),
        ])
    }

    pub fn status(&self) -> String {
        let out = self.run(&["status", "--config", self.config.to_str().unwrap()]);
        assert!(out.status.success(), "status failed: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Writes a file in the scratch dir and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

pub fn outcomesd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outcomesd"))
        .args(args)
        .env("RUST_LOG", "debug")
        .output()
        .expect("run outcomesd")
}

/// Whether python3 can import `module` (a stock package a cross-check
/// uses); under CI, which installs them, its absence fails the test.
pub fn python_has(module: &str) -> bool {
    let has = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has || std::env::var_os("CI").is_none(),
        "CI must run the Python cross-check: pip install {module}"
    );
    has
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every byte of every file under `dir`.
pub fn all_bytes_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.extend(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
