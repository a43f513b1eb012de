//! `regtrust migrate` and `regtrust import k3s`: legacy registry settings → a regtrust spec.
use std::collections::BTreeSet;
use std::path::Path;

use super::args::{ImportFrom, MigrateArgs};
use super::exit;
use crate::containerd::{Version, resolve};
use crate::emit::config_patch::{self, PatchRequest};
use crate::emit::spec_yaml;
use crate::spec::Registry;

pub fn run_migrate(a: &MigrateArgs) -> u8 {
    let text = match crate::root::resolve(&a.node.root, &a.node.config)
        .and_then(std::fs::read_to_string)
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "error: cannot read {} under {}: {e}",
                a.node.config,
                a.node.root.display()
            );
            return exit::FAILED;
        }
    };
    let decided = resolve::decide(resolve::Inputs {
        flag: a.containerd.version,
        spec: None,
        root: Some(&a.node.root),
        config_text: Some(&text),
    });
    // Nothing says (no version key either: a version 1 file): read it as 1.x does; only the
    // file's layout matters for reading legacy settings.
    let version = decided.map_or_else(|| Version::parse("1.7").expect("known"), |(v, _)| v);
    let covered = BTreeSet::new();
    let patched = match config_patch::patch(&PatchRequest {
        existing: Some(&text),
        containerd: version,
        config_path: None,
        covered_dirs: &covered,
    }) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {}: {e}", a.node.config);
            return exit::FAILED;
        }
    };
    let regs: Vec<Registry> = patched.migrated.into_iter().map(|(r, _)| r).collect();
    if regs.is_empty() {
        eprintln!(
            "{}: no legacy registry.mirrors or registry.configs.*.tls to migrate",
            a.node.config
        );
        return exit::OK;
    }
    let header = format!(
        "regtrust spec migrated from the legacy registry settings of {}.\nApply it with `regtrust apply --spec <this file>`: hosts.toml files replace the legacy tables.",
        a.node.config
    );
    emit(&a.emit_spec, &spec_yaml::render(&regs, &header), &[])
}

pub fn run_import(from: &ImportFrom) -> u8 {
    let ImportFrom::K3s { file, emit_spec } = from;
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return exit::FAILED;
        }
    };
    let (legacy, notes) = match crate::k3s::parse(&file.display().to_string(), &text) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let mut more = Vec::new();
    let regs: Vec<Registry> = crate::legacy::migrate(legacy, &BTreeSet::new(), &mut more)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let header = format!(
        "regtrust spec imported from {} (k3s/RKE2 registries.yaml).\nApply it with `regtrust apply --spec <this file>`.",
        file.display()
    );
    emit(emit_spec, &spec_yaml::render(&regs, &header), &notes)
}

fn emit(path: &Path, text: &str, notes: &[String]) -> u8 {
    for n in notes {
        eprintln!("note: {n}");
    }
    // The spec must load: what regtrust writes, regtrust reads.
    if let Err(d) = crate::spec::load_str("migrated spec", text) {
        eprintln!("error: the migrated spec does not validate:\n{d}");
        return exit::FAILED;
    }
    if path == Path::new("-") {
        print!("{text}");
        return exit::OK;
    }
    let mut tx = crate::fs::Transaction::default();
    match tx
        .stage(path, text.as_bytes(), 0o644)
        .and_then(|_| tx.commit())
    {
        Ok(()) => {
            eprintln!("wrote {}", path.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}
