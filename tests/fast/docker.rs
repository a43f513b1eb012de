//! `regtrust apply` for Docker Engine on scratch roots: the runtimes chosen (flag, spec,
//! detection), daemon.json edited in place (keys kept, `.bak` once, idempotent), certs.d files,
//! one transaction with containerd's changes (an unparsable daemon.json: nothing written at all),
//! and the report.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::snapshot;

const SEED: &str = "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\"max-size\": \"10m\"},\n  \"insecure-registries\": [\"old.registry.test:5000\"]\n}\n";

const SPEC: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: secure.registry.test
    ca_pem: |
      -----BEGIN CERTIFICATE-----
      MAA=
      -----END CERTIFICATE-----
  - host: docker.io
    endpoints:
      - url: https://mirror.registry.test
  - host: other.registry.test
    endpoints:
      - url: https://mirror.registry.test
";

struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
    spec: PathBuf,
}

impl Root {
    fn new(spec: &str, dirs: &[&str]) -> Root {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let spec_path = dir.path().join("spec.yaml");
        fs::write(&spec_path, spec).unwrap();
        Root {
            root,
            spec: spec_path,
            _dir: dir,
        }
    }

    fn apply(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_regtrust"))
            .arg("apply")
            .arg("--spec")
            .arg(&self.spec)
            .arg("--root")
            .arg(&self.root)
            .args(extra)
            .output()
            .unwrap()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn read(&self, p: &str) -> String {
        fs::read_to_string(self.path(p)).unwrap()
    }
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn daemon_json_keeps_every_other_key_and_is_backed_up_once() {
    let r = Root::new(SPEC, &["etc/docker"]);
    fs::write(r.path("/etc/docker/daemon.json"), SEED).unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(
        r.read("/etc/docker/daemon.json"),
        "{\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\"max-size\": \"10m\"},\n  \"insecure-registries\": [\n    \"old.registry.test:5000\",\n    \"my.private.registry:5000\"\n  ],\n  \"registry-mirrors\": [\n    \"https://mirror.registry.test\"\n  ]\n}\n"
    );
    assert_eq!(r.read("/etc/docker/daemon.json.bak"), SEED);
    let ca = r.path("/etc/docker/certs.d/secure.registry.test/ca.crt");
    assert!(
        fs::read_to_string(&ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert_eq!(mode(&ca), 0o644);
    // containerd is not among the runtimes: nothing of it is written, and no version is needed.
    assert!(!r.path("/etc/containerd").exists(), "{}", out(&o));
    let report = out(&o);
    assert!(
        report.starts_with("runtimes: docker (--runtime)\n"),
        "{report}"
    );
    assert!(
        report.contains(
            "note: docker: the endpoints of other.registry.test are not used by dockerd (Docker \
             uses mirrors only for docker.io)"
        ),
        "{report}"
    );
    assert!(
        report.contains("dockerd on that system must reload daemon.json (systemctl reload docker"),
        "{report}"
    );

    // A second run changes nothing; a third after an edit by hand keeps the first .bak.
    let before = snapshot(&r.root);
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).contains("nothing to do: the node matches the spec"),
        "{}",
        out(&o)
    );
    assert_eq!(snapshot(&r.root), before);
    let by_hand = r.read("/etc/docker/daemon.json").replace(
        "\"old.registry.test:5000\",\n    \"my.private.registry:5000\"",
        "\"old.registry.test:5000\"",
    );
    fs::write(r.path("/etc/docker/daemon.json"), &by_hand).unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        r.read("/etc/docker/daemon.json")
            .contains("\"my.private.registry:5000\"")
    );
    assert_eq!(r.read("/etc/docker/daemon.json.bak"), SEED);
}

#[test]
fn a_client_key_is_0600_and_a_new_daemon_json_is_created() {
    let spec = "registries:
  - host: tls.registry.test
    client:
      cert_pem: |
        -----BEGIN CERTIFICATE-----
        MAA=
        -----END CERTIFICATE-----
      key_pem: |
        -----BEGIN PRIVATE KEY-----
        MAA=
        -----END PRIVATE KEY-----
    skip_verify: true
";
    let r = Root::new(spec, &[]);
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(
        mode(&r.path("/etc/docker/certs.d/tls.registry.test/client.key")),
        0o600
    );
    assert_eq!(
        mode(&r.path("/etc/docker/certs.d/tls.registry.test/client.cert")),
        0o644
    );
    assert_eq!(
        r.read("/etc/docker/daemon.json"),
        "{\n  \"insecure-registries\": [\n    \"tls.registry.test\"\n  ]\n}\n"
    );
    assert!(!r.path("/etc/docker/daemon.json.bak").exists());
}

#[test]
fn an_unparsable_daemon_json_writes_nothing_at_all() {
    let r = Root::new(SPEC, &["etc/docker", "etc/containerd"]);
    let broken = "{\n  \"log-driver\": \"json-file\",\n";
    fs::write(r.path("/etc/docker/daemon.json"), broken).unwrap();
    fs::write(r.path("/etc/containerd/config.toml"), "version = 2\n").unwrap();
    let before = snapshot(&r.root);
    let o = r.apply(&["--runtime", "containerd,docker", "--containerd", "1.7"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    let err = out(&o);
    assert!(
        err.contains("/etc/docker/daemon.json: not valid JSON (EOF while parsing"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    // No hosts.toml, no config.toml change, no lock file: the root is as it was.
    assert_eq!(snapshot(&r.root), before);
    assert!(!r.path("/etc/containerd/certs.d").exists());
}

#[test]
fn containerd_and_docker_in_one_run() {
    let r = Root::new(
        SPEC,
        &[
            "etc/docker/certs.d",
            "etc/docker/registry",
            "etc/containerd",
        ],
    );
    fs::write(r.path("/etc/containerd/config.toml"), "version = 2\n").unwrap();
    // /etc/docker with certs.d (containerd 2.2+ reads it too) and registry (Debian's
    // docker-registry) is not Docker Engine.
    let o = r.apply(&["--containerd", "1.7", "--dry-run"]);
    assert!(
        out(&o).contains("\nruntimes: containerd (found containerd (/etc/containerd))\n"),
        "{}",
        out(&o)
    );
    fs::write(r.path("/etc/docker/daemon.json"), SEED).unwrap();
    let o = r.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", out(&o));
    let report = out(&o);
    assert!(
        report.starts_with(
            "runtimes: containerd, docker (found containerd (/etc/containerd), docker \
             (/etc/docker/daemon.json))\n"
        ),
        "{report}"
    );
    assert!(
        r.path("/etc/containerd/certs.d/my.private.registry:5000/hosts.toml")
            .exists()
    );
    assert!(
        r.read("/etc/docker/daemon.json")
            .contains("my.private.registry:5000")
    );
    assert!(
        report.contains("containerd on that system must restart"),
        "{report}"
    );
    assert!(
        report.contains("dockerd on that system must reload daemon.json"),
        "{report}"
    );
}

#[test]
fn the_runtimes_come_from_the_flag_the_spec_or_the_root() {
    // Only docker's binary under the root: containerd is left alone (no version needed).
    let r = Root::new(SPEC, &["usr/bin"]);
    fs::write(r.path("/usr/bin/dockerd"), "").unwrap();
    let o = r.apply(&[]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        out(&o).starts_with("runtimes: docker (found docker (/usr/bin/dockerd))\n"),
        "{}",
        out(&o)
    );
    assert!(!r.path("/etc/containerd").exists());

    // The spec's runtimes, and the flag over them.
    let spec = format!("runtimes: [docker]\n{SPEC}");
    let r = Root::new(&spec, &[]);
    let o = r.apply(&[]);
    assert!(
        out(&o).starts_with("runtimes: docker (the spec's runtimes)\n"),
        "{}",
        out(&o)
    );
    let o = r.apply(&[
        "--runtime",
        "containerd",
        "--containerd",
        "1.7",
        "--dry-run",
    ]);
    assert!(
        out(&o).contains("runtimes: containerd (--runtime)\n"),
        "{}",
        out(&o)
    );

    // Nothing installed: containerd, as before there was a choice (and it says so).
    let r = Root::new(SPEC, &[]);
    let o = r.apply(&["--containerd", "1.7", "--dry-run"]);
    assert!(
        out(&o).contains("\nruntimes: containerd (found containerd (its version is given))\n"),
        "{}",
        out(&o)
    );
}

#[test]
fn unknown_runtimes_are_refused() {
    let r = Root::new(SPEC, &[]);
    let o = r.apply(&["--runtime", "rkt"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("unknown runtime `rkt`"), "{}", out(&o));
    let r = Root::new(&format!("runtimes: [docker, cri-o, rkt]\n{SPEC}"), &[]);
    let o = r.apply(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let e = out(&o);
    assert!(
        !e.contains("runtime `cri-o`"),
        "cri-o is podman's other name: {e}"
    );
    assert!(e.contains("unknown runtime `rkt`"), "{e}");
    let r = Root::new(&format!("runtimes: []\n{SPEC}"), &[]);
    let o = r.apply(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(out(&o).contains("`runtimes` is empty"), "{}", out(&o));
    // Render targets do not configure Docker yet, and say so.
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--target", "hosts", "--out"])
        .arg(r.path("/out"))
        .arg("--spec")
        .arg(Root::new(&format!("runtimes: [containerd, docker]\n{SPEC}"), &[]).spec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        out(&o).contains("render targets configure containerd only"),
        "{}",
        out(&o)
    );
}
