//! `regtrust apply`: sync a node or image root; `--dry-run` shows a diff, `--check` detects drift.
//!
//! Runs on one node take turns on the node lock (see `crate::lock`): a run that writes holds it
//! exclusively from before it reads the node until its last write, so what it changes is
//! computed against what the previous run left; `--check` and `--dry-run` hold it shared, so
//! they never look at half a change.
use super::args::{ApplyArgs, Format};
use super::{exit, load_with_secrets};
use crate::apply::{self as engine, NodeOptions, Prepared};
use crate::error::{Error, Result};
use crate::lock::{self, Mode, NodeLock};

pub fn run(a: &ApplyArgs) -> Result<u8> {
    let (loaded, containerd) = load_with_secrets(&a.spec)?;
    let timeout = lock::timeout_from_env().map_err(Error::Usage)?;
    let opts = NodeOptions {
        root: a.node.root.clone(),
        config_file: a.node.config.clone(),
        containerd,
        runtimes: (!a.runtime.is_empty()).then(|| {
            let mut r = a.runtime.clone();
            let mut seen = std::collections::BTreeSet::new();
            r.retain(|x| seen.insert(*x));
            r
        }),
    };
    let writes = !a.check && !a.dry_run;
    let mode = if writes {
        Mode::Exclusive
    } else {
        Mode::Shared
    };
    let take = |create: bool| -> Result<Option<NodeLock>> {
        lock::acquire(&opts.root, mode, timeout, create)
            .map_err(|e| Error::Node(format!("{e}; nothing was written")))
    };
    let prepare = || -> Result<Prepared> {
        engine::prepare(&loaded.spec, &opts)
            .map_err(|e| Error::Node(format!("{e}; nothing was written")))
    };
    // Without a lock file no run holds the lock. A run that only reads never creates it; one
    // that writes creates it only once it knows it has something to write (so a refused or
    // idle run leaves the root untouched), then takes it and looks at the node again.
    let mut held = take(false)?;
    let mut prepared = prepare()?;
    if writes && held.is_none() && !prepared.changes.is_empty() {
        held = take(true)?;
        prepared = prepare()?;
    }
    let code = finish(a, &prepared);
    drop(held);
    code
}

fn finish(a: &ApplyArgs, prepared: &Prepared) -> Result<u8> {
    let json = a.format == Format::Json;
    if a.check {
        if json {
            println!("{}", engine::json_report(prepared, "check", false));
        } else {
            print!("{}", engine::report(prepared, false));
        }
        return Ok(if prepared.changes.is_empty() {
            exit::OK
        } else {
            exit::DRIFT
        });
    }
    if a.dry_run {
        if json {
            println!("{}", engine::json_report(prepared, "dry-run", true));
        } else {
            print!("{}", engine::diff(prepared));
            print!("{}", engine::report(prepared, false));
        }
        return Ok(exit::OK);
    }
    engine::execute(prepared).map_err(|e| Error::Node(e.to_string()))?;
    if json {
        println!("{}", engine::json_report(prepared, "apply", false));
    } else {
        print!("{}", engine::report(prepared, true));
    }
    Ok(exit::OK)
}
