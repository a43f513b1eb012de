//! `doctor` for containers-image on scratch roots: each registries.conf, drop-in and certs.d
//! shape Podman 4.3.1 was measured on (tests/real/podman.rs proves what Podman does with each)
//! gives its code at its file (and line); a root where regtrust applied both runtimes is clean;
//! a root without Podman, CRI-O, Buildah, Skopeo or /etc/containers gets no such check.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn regtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .unwrap()
}

/// "severity code file[:line]" of every containers-image finding.
fn findings(root: &Path) -> Vec<String> {
    let o = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "1.7",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("containers-"))
        .map(|f| {
            let line = f["line"]
                .as_u64()
                .filter(|l| *l > 0)
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!(
                "{} {} {}{line}",
                f["severity"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
                f["file"].as_str().unwrap()
            )
        })
        .collect()
}

fn write(root: &Path, p: &str, text: &str) {
    let p = root.join(p.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

const V1: &str = "[registries.search]\nregistries = ['docker.io']\n\n[registries.insecure]\nregistries = ['old.test:5000']\n";
const V2: &str = "[[registry]]\nlocation = \"own.test:5000\"\ninsecure = true\n";

#[test]
fn registries_conf_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    // No containers-image under the root: not checked at all.
    write(r, "/etc/containers-not/registries.conf", "[[registry]\n");
    assert!(findings(r).is_empty());
    // v1 main file beside a v2 drop-in: a warning (both apply on 4.3.1).
    write(r, "/etc/containers/registries.conf", V1);
    assert!(findings(r).is_empty(), "v1 alone is not flagged");
    write(r, "/etc/containers/registries.conf.d/10-own.conf", V2);
    assert_eq!(
        findings(r),
        ["warning containers-conf-v1 /etc/containers/registries.conf:1"]
    );
    // v1 and v2 in one file; a v1 drop-in; a drop-in that does not parse: each refused.
    write(
        r,
        "/etc/containers/registries.conf",
        &format!("unqualified-search-registries = ['docker.io']\n{V1}"),
    );
    write(r, "/etc/containers/registries.conf.d/20-old.conf", V1);
    write(
        r,
        "/etc/containers/registries.conf.d/30-bad.conf",
        "[[registry]\n",
    );
    write(
        r,
        "/etc/containers/registries.conf.d/40-not-read.toml",
        "[[registry]\n",
    );
    assert_eq!(
        findings(r),
        [
            "error containers-conf-mixed /etc/containers/registries.conf:2",
            "error containers-drop-in-v1 /etc/containers/registries.conf.d/20-old.conf:1",
            "error containers-conf-invalid /etc/containers/registries.conf.d/30-bad.conf",
        ]
    );
}

#[test]
fn certs_d_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "/etc/containers/certs.d/a.test:5443/ca.pem", "x");
    write(r, "/etc/containers/certs.d/b.test/client.key", "x");
    write(r, "/etc/containers/certs.d/c.test/client.cert", "x");
    write(r, "/etc/containers/certs.d/d.test/ca.crt", "x");
    write(r, "/etc/containers/certs.d/d.test/client.cert", "x");
    write(r, "/etc/containers/certs.d/d.test/client.key", "x");
    write(r, "/etc/containers/certs.d/https:/e.test/ca.crt", "x");
    assert_eq!(
        findings(r),
        [
            "warning containers-cert-ignored /etc/containers/certs.d/a.test:5443/ca.pem",
            "error containers-client-pair-incomplete /etc/containers/certs.d/b.test/client.key",
            "error containers-client-pair-incomplete /etc/containers/certs.d/c.test/client.cert",
            "warning containers-cert-ignored /etc/containers/certs.d/https:",
        ]
    );
}

/// containerd pulls a registry over plain HTTP (what `apply --runtime containerd` wrote), Podman
/// would not: flagged until `apply --runtime containerd,podman` adds the drop-in.
#[test]
fn a_plain_http_registry_without_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    fs::create_dir_all(r.join("etc/containers")).unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n  - host: docker.io\n    endpoints:\n      - url: http://cache.test:5000\n",
    )
    .unwrap();
    let apply = |runtimes: &str| {
        let o = regtrust(&[
            "apply",
            "--spec",
            spec.to_str().unwrap(),
            "--root",
            r.to_str().unwrap(),
            "--containerd",
            "1.7",
            "--runtime",
            runtimes,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    apply("containerd");
    assert_eq!(
        findings(r),
        [
            "error containers-http-not-insecure /etc/containerd/certs.d/docker.io/hosts.toml",
            "error containers-http-not-insecure /etc/containerd/certs.d/my.private.registry:5000/hosts.toml",
        ]
    );
    apply("containerd,podman");
    assert!(findings(r).is_empty(), "{:?}", findings(r));
}

/// A node with Podman and no containerd at all: doctor checks containers-image alone (no
/// `--containerd` needed) and says so; a node with neither still needs `--containerd` (exit 3).
#[test]
fn a_node_without_containerd() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "/usr/bin/podman", "");
    write(r, "/etc/containers/registries.conf.d/20-old.conf", V1);
    let o = regtrust(&["doctor", "--root", r.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("containerd none (not installed under the root, no config.toml: only"),
        "{out}"
    );
    assert!(out.contains("error[containers-drop-in-v1]"), "{out}");
    assert!(
        out.contains(" = note: Podman, CRI-O, Buildah, Skopeo: the drop-in is refused"),
        "{out}"
    );
    fs::remove_file(r.join("usr/bin/podman")).unwrap();
    fs::remove_dir_all(r.join("etc/containers")).unwrap();
    let o = regtrust(&["doctor", "--root", r.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
}
