//! The shape of the source tree, checked: production code never depends on
//! the simulation (`src/sim/`), and production files stay small enough to
//! read. Unit tests sit at the foot of each file, in a `#[cfg(test)] mod`,
//! so "production code" is everything before the first such module.

use std::path::{Path, PathBuf};

/// Production lines a file may hold before it should be split.
const MAX_PRODUCTION_LINES: usize = 850;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (path relative to the crate, production text) for every file outside
/// `src/sim/`. `main.rs` is the CLI: it may dispatch to the demo and bench
/// commands, which live in `sim`, so it is left out as well.
fn production_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let prod = text[..test_module_start(&text)].to_string();
            (rel, prod)
        })
        .filter(|(rel, _)| !rel.starts_with("src/sim/") && rel != "src/main.rs")
        .collect()
}

/// Where the first `#[cfg(test)]` module starts (`mod`, `pub mod`,
/// `pub(crate) mod`, ...), or the end of the text.
fn test_module_start(text: &str) -> usize {
    let mut at = 0;
    while let Some(i) = text[at..].find("#[cfg(test)]\n") {
        let start = at + i;
        let next = &text[start + "#[cfg(test)]\n".len()..];
        let line = next.lines().next().unwrap_or("");
        let head = line.split('{').next().unwrap_or("");
        if head.split_whitespace().any(|w| w == "mod") {
            return start;
        }
        at = start + 1;
    }
    text.len()
}

#[test]
fn production_code_never_imports_the_simulation() {
    let files = production_files();
    assert!(files.len() > 10, "found only {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .flat_map(|(rel, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| {
                    let code = l.split("//").next().unwrap_or("");
                    code.contains("sim::") || code.trim_start().starts_with("mod sim")
                })
                .map(move |(n, l)| format!("{rel}:{}: {}", n + 1, l.trim()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "production code uses sim/:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn production_files_stay_readable() {
    let long: Vec<String> = production_files()
        .iter()
        .filter(|(_, text)| text.lines().count() > MAX_PRODUCTION_LINES)
        .map(|(rel, text)| format!("{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}
