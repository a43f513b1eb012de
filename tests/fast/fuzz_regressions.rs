//! The fuzz targets' properties (fuzz/checks/<target>.rs, plain Rust, the same code the fuzz
//! targets run) replayed on every saved input: the minimised seeds (fuzz/seeds/<target>/) and
//! the crashes kept as named regressions (fuzz/regressions/<target>/, missing or empty is fine).
//! A fixed crash stays fixed: `cargo test` fails on it again if the bug comes back.
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::manifest_dir;

#[path = "../../fuzz/checks/config_patch.rs"]
mod config_patch;
#[path = "../../fuzz/checks/hosts_toml.rs"]
mod hosts_toml;
#[path = "../../fuzz/checks/spec.rs"]
mod spec;

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Runs `check` on every seed and regression input of `target`; names each input that panicked.
fn replay(target: &str, check: fn(&[u8])) {
    let seeds = inputs(&manifest_dir().join("fuzz/seeds").join(target));
    assert!(!seeds.is_empty(), "no seeds in fuzz/seeds/{target}/");
    let regressions = inputs(&manifest_dir().join("fuzz/regressions").join(target));
    let mut failed = Vec::new();
    for f in seeds.iter().chain(&regressions) {
        let data = fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(
                f.strip_prefix(manifest_dir())
                    .unwrap_or(f)
                    .display()
                    .to_string(),
            );
        }
    }
    assert!(
        failed.is_empty(),
        "the {target} property fails on (reproduce: cargo fuzz run --sanitizer none {target} FILE):\n  {}",
        failed.join("\n  ")
    );
    eprintln!(
        "{target}: {} seeds and {} regression inputs hold",
        seeds.len(),
        regressions.len()
    );
}

#[test]
fn config_patch_property_holds_on_saved_inputs() {
    replay("config_patch", config_patch::check);
}

#[test]
fn hosts_toml_property_holds_on_saved_inputs() {
    replay("hosts_toml", hosts_toml::check);
}

#[test]
fn spec_property_holds_on_saved_inputs() {
    replay("spec", spec::check);
}
