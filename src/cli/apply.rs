//! `regtrust apply`: sync a node or image root; `--dry-run` shows a diff, `--check` detects drift.
use super::args::ApplyArgs;
use super::{exit, load};
use crate::node::{self, NodeOptions};

pub fn run(a: &ApplyArgs) -> u8 {
    let (loaded, containerd) = match load(&a.spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let opts = NodeOptions {
        root: a.node.root.clone(),
        config_file: a.node.config.clone(),
        containerd,
    };
    let prepared = match node::prepare(&loaded.spec, &opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}; nothing was written");
            return exit::FAILED;
        }
    };
    if a.check {
        print!("{}", node::report(&prepared, false));
        return if prepared.changes.is_empty() {
            exit::OK
        } else {
            exit::DRIFT
        };
    }
    if a.dry_run {
        print!("{}", node::diff(&prepared));
        print!("{}", node::report(&prepared, false));
        return exit::OK;
    }
    if let Err(e) = node::execute(&prepared) {
        eprintln!("error: {e}");
        return exit::FAILED;
    }
    print!("{}", node::report(&prepared, true));
    exit::OK
}
