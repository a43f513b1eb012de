//! Faults that need mount namespaces (root): a read-only or full target gives a clear error and
//! changes nothing; an apply whose removal fails after the new files were renamed into place puts
//! back every file. (The fast suite has the interrupted writes and the failed commits.)
use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::faults::*;
use crate::support::run;
use crate::system::in_namespace;

/// Runs `regtrust apply` inside a private mount namespace after `setup` (sh) ran there.
fn apply_in_namespace(root: &Path, spec: &Path, setup: &str) -> Output {
    let script = format!(
        "set -e\n{setup}\nexec \"$REGTRUST\" apply --containerd 1.7 --spec \"$SPEC\" --root \"$ROOT\"\n"
    );
    run(in_namespace(&script)
        .env("REGTRUST", env!("CARGO_BIN_EXE_regtrust"))
        .env("SPEC", spec)
        .env("ROOT", root))
}

#[test]
fn read_only_target() {
    // Without the lock file (it cannot be created), and with it (flock works on a read-only
    // file system; staging fails).
    for lock_exists in [false, true] {
        let (_d, root, spec) = node(SPEC_B);
        if lock_exists {
            fs::create_dir_all(root.join("run/lock")).unwrap();
            fs::write(root.join("run/lock/regtrust.lock"), "").unwrap();
        }
        let before = snapshot_with_modes(&root);
        let o = apply_in_namespace(
            &root,
            &spec,
            "mount --bind \"$ROOT\" \"$ROOT\"\nmount -o remount,bind,ro \"$ROOT\"",
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(err.contains("Read-only file system"), "{err}");
        let said = if lock_exists {
            "nothing was changed"
        } else {
            "nothing was written"
        };
        assert!(err.contains(said), "{err}");
        assert_eq!(snapshot_with_modes(&root), before);
    }
}

/// An apply whose removal of a registry that left the spec fails (its directory is read-only)
/// after the new files were renamed into place: every file goes back, and the error says so.
#[test]
fn apply_whose_removal_fails_puts_back_what_it_replaced() {
    let (_d, root, spec) = node(SPEC_A);
    assert!(apply(&root, &spec, None).status.success());
    fs::write(&spec, SPEC_B).unwrap();
    let before = snapshot_with_modes(&root);
    let gone = "\"$ROOT/etc/containerd/certs.d/gone.example\"";
    let o = apply_in_namespace(
        &root,
        &spec,
        &format!("mount --bind {gone} {gone}\nmount -o remount,bind,ro {gone}"),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("gone.example/ca.crt: Read-only file system")
            && err.contains("the files already replaced were put back: nothing was changed"),
        "{err}"
    );
    assert_eq!(snapshot_with_modes(&root), before);
    // Without the obstacle the same apply goes through.
    let o = apply(&root, &spec, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!root.join("etc/containerd/certs.d/gone.example").exists());
}

#[test]
fn full_target() {
    // 256 KiB of PEM: one DER SEQUENCE (valid structure, as the spec check demands) of zeros.
    let n: usize = 196_603;
    let mut der = vec![0x30, 0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    der.resize(5 + n, 0);
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der)
    };
    let big_ca = format!(
        "-----BEGIN CERTIFICATE-----\n{}-----END CERTIFICATE-----\n",
        b64.as_bytes()
            .chunks(64)
            .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
            .collect::<String>()
    );
    let indented: String = big_ca.lines().map(|l| format!("      {l}\n")).collect();
    let (_d, root, spec) = node(&format!(
        "registries:\n  - host: a.example:5000\n    http: true\n  - host: big.example\n    ca_pem: |\n{indented}"
    ));
    // A 64 KiB tmpfs over /etc/containerd, holding the config: the CA does not fit.
    let setup = "cp -a \"$ROOT/etc/containerd\" \"$ROOT/../seed\"\nmount -t tmpfs -o size=64k regtrust \"$ROOT/etc/containerd\"\ncp -a \"$ROOT/../seed/.\" \"$ROOT/etc/containerd/\"";
    let script_check = format!(
        "{setup}\n\"$REGTRUST\" apply --containerd 1.7 --spec \"$SPEC\" --root \"$ROOT\" || rc=$?\nls -A \"$ROOT/etc/containerd\" \"$ROOT/etc/containerd\"/* 2>/dev/null\nexit ${{rc:-0}}"
    );
    let o = run(in_namespace(&script_check)
        .env("REGTRUST", env!("CARGO_BIN_EXE_regtrust"))
        .env("SPEC", &spec)
        .env("ROOT", &root));
    let err = String::from_utf8_lossy(&o.stderr);
    let listing = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("No space left on device") && err.contains("nothing was changed"),
        "{err}"
    );
    // Inside the namespace, after the failure: only the config, unchanged, and no temp files.
    assert!(
        !listing.contains("regtrust-tmp")
            && !listing.contains("hosts.toml")
            && !listing.contains(".bak"),
        "{listing}"
    );
}
