//! `regtrust apply`: sync a node or image root; `--dry-run` shows a diff, `--check` detects drift,
//! `--watch` keeps the node in line.
//!
//! Runs on one node take turns on the node lock (see `crate::lock`): a run that writes holds it
//! exclusively from before it reads the node until its last write, so what it changes is
//! computed against what the previous run left; `--check` and `--dry-run` hold it shared, so
//! they never look at half a change.
use std::time::{Duration, SystemTime};

use super::args::{ApplyArgs, Format};
use super::{exit, load_with_secrets};
use crate::apply::{self as engine, NodeOptions, Prepared};
use crate::containerd::running;
use crate::error::{Error, Result};
use crate::lock::{self, Mode, NodeLock};
use crate::plan::Action;

/// How long `--restart-containerd` waits for a new containerd on the socket.
const RESTART_WAIT: Duration = Duration::from_secs(60);

pub fn run(a: &ApplyArgs) -> Result<u8> {
    if let Some(secs) = a.watch {
        return watch(a, Duration::from_secs(secs.max(1)));
    }
    let writes = !a.check && !a.dry_run;
    let prepared = sync(a, writes)?;
    let code = finish(a, &prepared);
    if writes && a.restart_containerd {
        say_restart(a, restart_if_needed(&prepared, &mut None));
    }
    code
}

/// Loads the spec (and its passwords), takes the node lock, prepares, and — when `writes` —
/// executes the changes, all under the lock.
fn sync(a: &ApplyArgs, writes: bool) -> Result<Prepared> {
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
    if writes {
        engine::execute(&prepared).map_err(|e| Error::Node(e.to_string()))?;
    }
    drop(held);
    Ok(prepared)
}

fn finish(a: &ApplyArgs, prepared: &Prepared) -> Result<u8> {
    let json = a.format == Format::Json;
    if a.check {
        if json {
            println!("{}", engine::json_report(prepared, "check", false));
        } else {
            print!("{}", engine::report(prepared, false));
        }
        return Ok(if prepared.in_sync() {
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
    if json {
        println!("{}", engine::json_report(prepared, "apply", false));
    } else {
        print!("{}", engine::report(prepared, true));
    }
    Ok(exit::OK)
}

/// `--restart-containerd`: after an apply that changed config.toml, or when the running
/// containerd has not read it, SIGTERM to containerd (see `containerd::running::restart`).
/// `tried` is the config.toml modification time a restart was already tried for: a watch does
/// not signal containerd twice for the same file. None when nothing is to restart.
fn restart_if_needed(
    p: &Prepared,
    tried: &mut Option<SystemTime>,
) -> Option<std::result::Result<String, String>> {
    let c = p.containerd.as_ref()?;
    let r = c.running.as_ref()?;
    let changed_now = !p.changes.is_empty() && c.plan.actions.contains(&Action::RestartContainerd);
    if !changed_now && c.pending_restart.is_none() {
        return None;
    }
    let mtime = running::modified(&c.config_path);
    if mtime.is_some() && *tried == mtime {
        return None;
    }
    *tried = mtime;
    Some(running::restart(&p.root, r, RESTART_WAIT))
}

fn say_restart(a: &ApplyArgs, outcome: Option<std::result::Result<String, String>>) {
    match outcome {
        None => {}
        Some(Ok(done)) if a.format == Format::Text => println!("restart: {done}"),
        Some(Ok(done)) => eprintln!("restart: {done}"),
        Some(Err(why)) => eprintln!("error: could not restart containerd: {why}"),
    }
}

/// `--watch`: apply, then every `interval` read the spec (and its passwords) again and apply
/// what differs — a changed spec (kubelet replaces a mounted ConfigMap's files), or a node
/// changed behind regtrust's back. Prints a report, stamped with the time, only when what it
/// has to say changes. An error (a spec that no longer validates, an unreadable node) is printed
/// and the node left as it is; the next round tries again. Runs until it is stopped.
fn watch(a: &ApplyArgs, interval: Duration) -> Result<u8> {
    let mut last_said = String::new();
    let mut tried = None;
    loop {
        let (said, prepared) = match sync(a, true) {
            Ok(p) => {
                let s = if a.format == Format::Json {
                    engine::json_report(&p, "apply", false) + "\n"
                } else {
                    engine::report(&p, true)
                };
                (s, Some(p))
            }
            Err(e) => (
                format!(
                    "{}\nthe node is left as it is; trying again every {} s\n",
                    e.report().trim_end(),
                    interval.as_secs()
                ),
                None,
            ),
        };
        if said != last_said {
            println!("{} apply --watch:", running::rfc3339(SystemTime::now()));
            print!("{said}");
            last_said = said;
        }
        // The report is out before a restart, which waits for the new containerd.
        if a.restart_containerd
            && let Some(outcome) = prepared.and_then(|p| restart_if_needed(&p, &mut tried))
        {
            let now = running::rfc3339(SystemTime::now());
            match outcome {
                Ok(done) => println!("{now} restart: {done}"),
                Err(why) => println!("{now} error: could not restart containerd: {why}"),
            }
        }
        std::thread::sleep(interval);
    }
}
