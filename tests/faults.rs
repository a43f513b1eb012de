//! Faults: `apply` killed at every write step leaves each file either old or new (never partial),
//! keeps the backup intact, and the next run completes the change; a read-only or full target,
//! and a directory where a file belongs, give a clear error and change nothing.
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{in_namespace, run, snapshot};

const CONFIG: &str = "# hand-tuned\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";
const SPEC_A: &str = "registries:\n  - host: a.example:5000\n    http: true\n  - host: gone.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MIIA\n      -----END CERTIFICATE-----\n";
const SPEC_B: &str = "registries:\n  - host: a.example:5000\n    http: true\n    headers:\n      X-Changed: \"yes\"\n  - host: new.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MIIB\n      -----END CERTIFICATE-----\n    client:\n      cert_pem: |\n        -----BEGIN CERTIFICATE-----\n        MIIC\n        -----END CERTIFICATE-----\n      key_pem: |\n        -----BEGIN PRIVATE KEY-----\n        MIID\n        -----END PRIVATE KEY-----\n";

fn apply(root: &Path, spec: &Path, failpoint: Option<usize>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regtrust"));
    c.args(["apply", "--containerd", "1.7", "--spec"])
        .arg(spec)
        .arg("--root")
        .arg(root);
    if let Some(n) = failpoint {
        c.env("REGTRUST_FAILPOINT", n.to_string());
    }
    c.output().unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    assert!(
        run(Command::new("cp").arg("-a").arg(from).arg(to))
            .status
            .success()
    );
}

/// For a change from `old_spec` (None: a node without regtrust) to `new_spec`: kill apply at
/// each write step in turn and check what is left.
fn interrupted_everywhere(name: &str, old_spec: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    fs::create_dir_all(base.join("etc/containerd")).unwrap();
    fs::write(base.join("etc/containerd/config.toml"), CONFIG).unwrap();
    let spec_old = dir.path().join("old.yaml");
    let spec_new = dir.path().join("new.yaml");
    fs::write(&spec_new, SPEC_B).unwrap();
    if let Some(s) = old_spec {
        fs::write(&spec_old, s).unwrap();
        assert!(apply(&base, &spec_old, None).status.success());
    }
    let old = snapshot(&base);
    let done = dir.path().join("done");
    copy_tree(&base, &done);
    assert!(apply(&done, &spec_new, None).status.success());
    let new = snapshot(&done);
    assert_ne!(old, new);

    let mut step = 1;
    loop {
        let root: PathBuf = dir.path().join(format!("step-{step}"));
        copy_tree(&base, &root);
        let o = apply(&root, &spec_new, Some(step));
        let finished = o.status.success();
        let after = snapshot(&root);
        for (path, content) in &after {
            if path.ends_with(".regtrust-tmp") {
                continue; // a temp file is not read by containerd; the next run removes it
            }
            let ok = old.get(path) == Some(content) || new.get(path) == Some(content);
            assert!(
                ok,
                "{name} step {step}: {path} is neither old nor new:\n{content}"
            );
        }
        if let Some(bak) = after.get("etc/containerd/config.toml.bak") {
            assert_eq!(
                bak, CONFIG,
                "{name} step {step}: the backup is not the original"
            );
        }
        assert!(
            after.contains_key("etc/containerd/config.toml"),
            "{name} step {step}: config.toml lost"
        );
        // The next run completes the change.
        let again = apply(&root, &spec_new, None);
        assert!(
            again.status.success(),
            "{name} step {step}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(
            snapshot(&root),
            new,
            "{name} step {step}: the next run did not converge"
        );
        let _ = fs::remove_dir_all(&root);
        if finished {
            break;
        }
        step += 1;
        assert!(step < 100, "{name}: apply never finished");
    }
    assert!(step > 5, "{name}: expected several write steps, saw {step}");
}

#[test]
fn apply_killed_at_every_write_step_on_a_fresh_node() {
    interrupted_everywhere("fresh", None);
}

#[test]
fn apply_killed_at_every_write_step_while_changing_registries() {
    interrupted_everywhere("update", Some(SPEC_A));
}

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

fn node(spec: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), CONFIG).unwrap();
    let spec_path = dir.path().join("spec.yaml");
    fs::write(&spec_path, spec).unwrap();
    (dir, root, spec_path)
}

#[test]
fn read_only_target() {
    let (_d, root, spec) = node(SPEC_B);
    let before = snapshot(&root);
    let o = apply_in_namespace(
        &root,
        &spec,
        "mount --bind \"$ROOT\" \"$ROOT\"\nmount -o remount,bind,ro \"$ROOT\"",
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Read-only file system"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(snapshot(&root), before);
}

#[test]
fn full_target() {
    let big_ca = format!(
        "-----BEGIN CERTIFICATE-----\n{}-----END CERTIFICATE-----\n",
        "QUFB"
            .repeat(16)
            .repeat(4096)
            .as_bytes()
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

#[test]
fn a_directory_where_a_file_belongs() {
    let (_d, root, spec) = node(SPEC_B);
    fs::create_dir_all(root.join("etc/containerd/certs.d/a.example:5000/hosts.toml")).unwrap();
    let before = snapshot(&root);
    let o = apply(&root, &spec, None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(snapshot(&root), before);

    let (_d2, root2, spec2) = node(SPEC_B);
    fs::remove_file(root2.join("etc/containerd/config.toml")).unwrap();
    fs::create_dir_all(root2.join("etc/containerd/config.toml")).unwrap();
    let o = apply(&root2, &spec2, None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
