//! The contract of the boot-time config.toml edit (`../shared/contracts.md`, "Outputs that run at
//! boot") on what the fast suite cannot have: the configs containerd 1.6, 1.7 and 2.1 ship
//! (Debian's config.toml and `containerd config default`), the fuzz corpus as CI's fuzz step
//! leaves it, and awks other than this machine's default (gawk, busybox): byte-equal to `apply`,
//! or refused unchanged.
use std::path::Path;

use crate::support::boot_patch::*;
use crate::system::{debian_config, default_config};

fn shipped_seeds() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for ver in ["1.6", "1.7", "2.1"] {
        v.push((format!("debian-{ver}"), debian_config(ver).into_bytes()));
        v.push((format!("default-{ver}"), default_config(ver).into_bytes()));
    }
    v
}

#[test]
fn boot_patch_is_byte_equal_to_apply_on_shipped_configs() {
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    for (name, seed) in shipped_seeds() {
        for version in ["1.6", "1.7", "2.1", "2.3"] {
            let out = check(dir.path(), &name, version, Some(&seed), &path);
            let readable = !name.ends_with("2.1") || version >= "2.0";
            if readable {
                assert!(out.accepted, "{name} on {version} was refused");
            }
        }
    }
}

/// Every input of the config patch target's working fuzz corpus: in CI, the seeds plus what the
/// fuzz step just found (the fast suite runs the seeds alone).
#[test]
fn boot_patch_contract_holds_on_the_fuzz_corpus() {
    let (accepted, total) = check_fuzz_inputs(&fuzz_corpus());
    eprintln!("fuzz corpus: {accepted} of {total} edited, the rest refused unchanged");
}

/// The same shapes with every other awk found here (gawk, busybox): the script runs on nodes
/// whose awk is not Debian's mawk.
#[test]
fn boot_patch_contract_holds_with_other_awks() {
    let dir = tempfile::tempdir().unwrap();
    let mut awks = Vec::new();
    for (awk, probe) in [
        ("/usr/bin/gawk", "/usr/bin/gawk"),
        ("/bin/busybox", "/bin/busybox"),
        ("/usr/bin/original-awk", "/usr/bin/original-awk"),
    ] {
        if Path::new(probe).exists() {
            awks.push(awk);
        }
    }
    assert!(
        awks.len() >= 2,
        "gawk and busybox are needed for this test: run .ci/install-deps"
    );
    for awk in awks {
        let path = bare_path(dir.path(), awk);
        for (name, seed) in hand_seeds() {
            for version in ["1.7", "2.1"] {
                let tag = format!("{}-{name}", awk.replace('/', "_"));
                let out = check(dir.path(), &tag, version, Some(&seed), &path);
                if must_accept(&name, version) {
                    assert!(out.accepted, "{name} on {version} with {awk} was refused");
                }
            }
        }
    }
}
