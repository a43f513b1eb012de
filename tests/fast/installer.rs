//! `--target script`: the POSIX sh installer, run with this machine's `sh` against scratch roots:
//! it removes what left the spec and nothing else, fails loudly on bad arguments and on configs
//! only `apply` can migrate, and writes awkward header values exactly. (The real suite runs it
//! with dash on the configs real containerd ships, compares it with `apply`, checks it with
//! shellcheck, and pulls with real containerd.)
use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::{render_script, run_sh, text};

fn sh(script: &Path, args: &[&str], env_root: Option<&Path>) -> Output {
    run_sh("sh", script, args, env_root)
}

#[test]
fn installer_removes_what_left_the_spec_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd/certs.d/hand.example")).unwrap();
    fs::write(
        root.join("etc/containerd/certs.d/hand.example/hosts.toml"),
        "server = \"https://hand.example\"\n",
    )
    .unwrap();
    let spec = dir.path().join("spec.yaml");
    let two = "registries:\n  - host: a.example:5000\n    http: true\n  - host: b.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n";
    fs::write(&spec, two).unwrap();
    let script = dir.path().join("install.sh");
    fs::write(&script, render_script(&spec, "1.7")).unwrap();
    assert!(sh(&script, &[], Some(&root)).status.success());
    assert!(
        root.join("etc/containerd/certs.d/b.example/ca.crt")
            .exists()
    );

    fs::write(
        &spec,
        "registries:\n  - host: a.example:5000\n    http: true\n",
    )
    .unwrap();
    fs::write(&script, render_script(&spec, "1.7")).unwrap();
    let o = sh(&script, &[], Some(&root));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("removed /etc/containerd/certs.d/b.example/hosts.toml"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("removed /etc/containerd/certs.d/b.example/ca.crt"),
        "{}",
        text(&o)
    );
    assert!(!root.join("etc/containerd/certs.d/b.example").exists());
    assert!(
        root.join("etc/containerd/certs.d/hand.example/hosts.toml")
            .exists()
    );
}

#[test]
fn installer_fails_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: a.example:5000\n    http: true\n",
    )
    .unwrap();
    let script = dir.path().join("install.sh");
    fs::write(&script, render_script(&spec, "1.7")).unwrap();
    let o = sh(&script, &["--bogus"], None);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("unknown argument: --bogus"),
        "{}",
        text(&o)
    );
    let o = sh(&script, &["--root", "/nonexistent/regtrust"], None);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("is not a directory"), "{}", text(&o));
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let legacy = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"http://c:5000\"]\n";
    fs::write(root.join("etc/containerd/config.toml"), legacy).unwrap();
    let o = sh(&script, &[], Some(&root));
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("run regtrust apply"), "{}", text(&o));
    assert_eq!(
        fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap(),
        legacy
    );
}

#[test]
fn installer_with_awkward_content_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: a.example\n    headers:\n      X-Q: \"it's $(rm -rf /) `x` ${HOME} \\\\ %{y}\"\n",
    )
    .unwrap();
    let script = dir.path().join("install.sh");
    fs::write(&script, render_script(&spec, "2.1")).unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(&root).unwrap();
    assert!(sh(&script, &[], Some(&root)).status.success());
    let hosts: toml_edit::DocumentMut =
        fs::read_to_string(root.join("etc/containerd/certs.d/a.example/hosts.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let v = hosts["host"]["https://a.example"]["header"]["X-Q"]
        .as_array()
        .unwrap()
        .get(0)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v, "it's $(rm -rf /) `x` ${HOME} \\ %{y}");
}

/// `sh install.sh --help` says what it does and how to call it, and touches nothing (no lock,
/// no files), even with a root given.
#[test]
fn installer_answers_help_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(&root).unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: a.example:5000\n    http: true\n",
    )
    .unwrap();
    let script = dir.path().join("install.sh");
    fs::write(&script, render_script(&spec, "1.7")).unwrap();
    for flag in ["--help", "-h"] {
        let o = sh(&script, &[flag], Some(&root));
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("Usage: sh install.sh [--root DIR]"), "{out}");
        assert!(out.contains("containerd 1.7"), "{out}");
        assert_eq!(
            fs::read_dir(&root).unwrap().count(),
            0,
            "--help wrote under the root"
        );
    }
}
