//! `regtrust apply`: sync a node or image root; `--dry-run` shows a diff, `--check` detects drift.
//!
//! Runs on one node take turns on the node lock (see `crate::lock`): a run that writes holds it
//! exclusively from before it reads the node until its last write, so what it changes is
//! computed against what the previous run left; `--check` and `--dry-run` hold it shared, so
//! they never look at half a change.
use super::args::ApplyArgs;
use super::{exit, load};
use crate::apply::{self as engine, NodeOptions, Prepared};
use crate::lock::{self, LockError, Mode, NodeLock};

pub fn run(a: &ApplyArgs) -> u8 {
    let (loaded, containerd) = match load(&a.spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let timeout = match lock::timeout_from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let opts = NodeOptions {
        root: a.node.root.clone(),
        config_file: a.node.config.clone(),
        containerd,
    };
    let writes = !a.check && !a.dry_run;
    let mode = if writes {
        Mode::Exclusive
    } else {
        Mode::Shared
    };
    let take = |create: bool| -> Result<Option<NodeLock>, u8> {
        lock::acquire(&opts.root, mode, timeout, create).map_err(|e| lock_failed(&e))
    };
    let prepare = || -> Result<Prepared, u8> {
        engine::prepare(&loaded.spec, &opts).map_err(|e| {
            eprintln!("error: {e}; nothing was written");
            exit::FAILED
        })
    };
    // Without a lock file no run holds the lock. A run that only reads never creates it; one
    // that writes creates it only once it knows it has something to write (so a refused or
    // idle run leaves the root untouched), then takes it and looks at the node again.
    let mut held = match take(false) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let mut prepared = match prepare() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if writes && held.is_none() && !prepared.changes.is_empty() {
        held = match take(true) {
            Ok(l) => l,
            Err(code) => return code,
        };
        prepared = match prepare() {
            Ok(p) => p,
            Err(code) => return code,
        };
    }
    let code = finish(a, &prepared);
    drop(held);
    code
}

fn finish(a: &ApplyArgs, prepared: &Prepared) -> u8 {
    if a.check {
        print!("{}", engine::report(prepared, false));
        return if prepared.changes.is_empty() {
            exit::OK
        } else {
            exit::DRIFT
        };
    }
    if a.dry_run {
        print!("{}", engine::diff(prepared));
        print!("{}", engine::report(prepared, false));
        return exit::OK;
    }
    if let Err(e) = engine::execute(prepared) {
        eprintln!("error: {e}");
        return exit::FAILED;
    }
    print!("{}", engine::report(prepared, true));
    exit::OK
}

fn lock_failed(e: &LockError) -> u8 {
    eprintln!("error: {e}; nothing was written");
    exit::FAILED
}
