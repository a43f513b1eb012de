//! `regtrust apply` for Docker Engine on scratch roots: the runtimes chosen (flag, spec,
//! detection), daemon.json edited in place (keys kept, `.bak` once, idempotent), certs.d files,
//! one transaction with containerd's changes (an unparsable daemon.json: nothing written at all),
//! and the report.
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::{mode_of, snapshot, text};

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

#[test]
fn daemon_json_keeps_every_other_key_and_is_backed_up_once() {
    let r = Root::new(SPEC, &["etc/docker"]);
    fs::write(r.path("/etc/docker/daemon.json"), SEED).unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
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
    assert_eq!(mode_of(&ca), 0o644);
    // containerd is not among the runtimes: nothing of it is written, and no version is needed.
    assert!(!r.path("/etc/containerd").exists(), "{}", text(&o));
    let report = text(&o);
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
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("nothing to do: the node matches the spec"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&r.root), before);
    let by_hand = r.read("/etc/docker/daemon.json").replace(
        "\"old.registry.test:5000\",\n    \"my.private.registry:5000\"",
        "\"old.registry.test:5000\"",
    );
    fs::write(r.path("/etc/docker/daemon.json"), &by_hand).unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
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
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        mode_of(&r.path("/etc/docker/certs.d/tls.registry.test/client.key")),
        0o600
    );
    assert_eq!(
        mode_of(&r.path("/etc/docker/certs.d/tls.registry.test/client.cert")),
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
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = text(&o);
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
        text(&o).contains("\nruntimes: containerd (found containerd (/etc/containerd))\n"),
        "{}",
        text(&o)
    );
    fs::write(r.path("/etc/docker/daemon.json"), SEED).unwrap();
    let o = r.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", text(&o));
    let report = text(&o);
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
    // Debian's docker.io puts dockerd in /usr/sbin.
    let r = Root::new(SPEC, &["usr/sbin"]);
    fs::write(r.path("/usr/sbin/dockerd"), "").unwrap();
    let o = r.apply(&["--dry-run"]);
    assert!(
        text(&o).contains("runtimes: docker (found docker (/usr/sbin/dockerd))\n"),
        "{}",
        text(&o)
    );
    // Only docker's binary under the root: containerd is left alone (no version needed).
    let r = Root::new(SPEC, &["usr/bin"]);
    fs::write(r.path("/usr/bin/dockerd"), "").unwrap();
    let o = r.apply(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).starts_with("runtimes: docker (found docker (/usr/bin/dockerd))\n"),
        "{}",
        text(&o)
    );
    assert!(!r.path("/etc/containerd").exists());

    // The spec's runtimes, and the flag over them.
    let spec = format!("runtimes: [docker]\n{SPEC}");
    let r = Root::new(&spec, &[]);
    let o = r.apply(&[]);
    assert!(
        text(&o).starts_with("runtimes: docker (the spec's runtimes)\n"),
        "{}",
        text(&o)
    );
    let o = r.apply(&[
        "--runtime",
        "containerd",
        "--containerd",
        "1.7",
        "--dry-run",
    ]);
    assert!(
        text(&o).contains("runtimes: containerd (--runtime)\n"),
        "{}",
        text(&o)
    );

    // Nothing installed: containerd, as before there was a choice (and it says so).
    let r = Root::new(SPEC, &[]);
    let o = r.apply(&["--containerd", "1.7", "--dry-run"]);
    assert!(
        text(&o).contains("\nruntimes: containerd (found containerd (its version is given))\n"),
        "{}",
        text(&o)
    );
}

#[test]
fn unknown_runtimes_are_refused() {
    let r = Root::new(SPEC, &[]);
    let o = r.apply(&["--runtime", "rkt"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown runtime `rkt`"), "{}", text(&o));
    let r = Root::new(&format!("runtimes: [docker, cri-o, rkt]\n{SPEC}"), &[]);
    let o = r.apply(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = text(&o);
    assert!(
        !e.contains("runtime `cri-o`"),
        "cri-o is podman's other name: {e}"
    );
    assert!(e.contains("unknown runtime `rkt`"), "{e}");
    let r = Root::new(&format!("runtimes: []\n{SPEC}"), &[]);
    let o = r.apply(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`runtimes` is empty"), "{}", text(&o));
    // The hosts target does not configure Docker (cloud-init and script do), and says so.
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--target", "hosts", "--out"])
        .arg(r.path("/out"))
        .arg("--spec")
        .arg(Root::new(&format!("runtimes: [containerd, docker]\n{SPEC}"), &[]).spec)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("this render target does not configure it"),
        "{}",
        text(&o)
    );
}

/// Entries the owner wrote (before regtrust, or wanted by the spec while already there) are
/// kept when the spec drops them; what regtrust added is removed, with its record.
#[test]
fn what_regtrust_added_is_removed_when_it_leaves_the_spec() {
    // The owner's daemon.json already names secure.registry.test's neighbour and one registry
    // the spec also wants (`both.registry.test:5000`).
    let seed = "{\n  \"debug\": true,\n  \"insecure-registries\": [\"old.registry.test:5000\", \"both.registry.test:5000\"]\n}\n";
    let spec = format!("{SPEC}  - host: both.registry.test:5000\n    http: true\n");
    let r = Root::new(&spec, &["etc/docker/certs.d/users.registry.test"]);
    fs::write(r.path("/etc/docker/daemon.json"), seed).unwrap();
    // A certs.d file of the owner's, beside regtrust's.
    fs::write(
        r.path("/etc/docker/certs.d/users.registry.test/ca.crt"),
        "theirs\n",
    )
    .unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
    let record: serde_json::Value =
        serde_json::from_str(&r.read("/etc/docker/regtrust-managed.json")).unwrap();
    assert_eq!(
        record["insecure-registries"],
        serde_json::json!(["my.private.registry:5000"]),
        "both.registry.test was the owner's before: not regtrust's"
    );
    assert_eq!(
        record["registry-mirrors"],
        serde_json::json!(["https://mirror.registry.test"])
    );
    assert_eq!(
        record["certs.d"],
        serde_json::json!(["/etc/docker/certs.d/secure.registry.test/ca.crt"])
    );
    assert_eq!(mode_of(&r.path("/etc/docker/regtrust-managed.json")), 0o644);

    // Every registry leaves the spec.
    fs::write(&r.spec, "registries: []\n").unwrap();
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
    let report = text(&o);
    for line in [
        "note: docker: /etc/docker/daemon.json: insecure-registries loses my.private.registry:5000 (regtrust added it; it left the spec)",
        "note: docker: /etc/docker/daemon.json: registry-mirrors loses https://mirror.registry.test (regtrust added it; it left the spec)",
        "removed /etc/docker/certs.d/secure.registry.test/ca.crt",
        "removed /etc/docker/regtrust-managed.json",
        "updated /etc/docker/daemon.json",
    ] {
        assert!(report.contains(line), "{line}\n{report}");
    }
    // Back to the owner's entries; the emptied `registry-mirrors` stays as `[]` (dockerd's
    // reload changes only the keys the file has).
    assert_eq!(
        r.read("/etc/docker/daemon.json"),
        "{\n  \"debug\": true,\n  \"insecure-registries\": [\n    \"old.registry.test:5000\",\n    \"both.registry.test:5000\"\n  ],\n  \"registry-mirrors\": []\n}\n"
    );
    assert!(!r.path("/etc/docker/certs.d/secure.registry.test").exists());
    assert_eq!(
        r.read("/etc/docker/certs.d/users.registry.test/ca.crt"),
        "theirs\n"
    );
    assert!(!r.path("/etc/docker/regtrust-managed.json").exists());
    // And then there is nothing to do.
    let before = snapshot(&r.root);
    let o = r.apply(&["--runtime", "docker"]);
    assert!(
        text(&o).contains("nothing to do: the node matches the spec"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&r.root), before);
}

#[test]
fn a_broken_record_is_refused_and_nothing_is_written() {
    let r = Root::new(SPEC, &["etc/docker"]);
    fs::write(
        r.path("/etc/docker/regtrust-managed.json"),
        "{\"insecure\": [1]}",
    )
    .unwrap();
    let before = snapshot(&r.root);
    let o = r.apply(&["--runtime", "docker"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("/etc/docker/regtrust-managed.json: not regtrust's record ("),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&r.root), before);
}

const AUTH_SPEC: &str = "registries:
  - host: auth.registry.test
    auth:
      username: puller
      password_file: password
  - host: docker.io
    auth:
      username: hubuser
      password_env: REGTRUST_TEST_HUB_PASSWORD
";

/// root's config.json: `auths` set for the spec's credentials, 0600, the CLI's own keys and
/// logins kept; no output shows a password or its base64; a credential that leaves the spec is
/// removed, the owner's stay.
#[test]
fn credentials_go_to_roots_config_json_and_are_never_printed() {
    let r = Root::new(AUTH_SPEC, &["root/.docker"]);
    fs::write(r.spec.with_file_name("password"), "s3cret-pw\n").unwrap();
    let theirs = "{\n\t\"auths\": {\n\t\t\"other.registry.test\": {\n\t\t\t\"auth\": \"b3RoZXI6c2VjcmV0\"\n\t\t}\n\t},\n\t\"psFormat\": \"table {{.ID}}\"\n}";
    fs::write(r.path("/root/.docker/config.json"), theirs).unwrap();
    let apply = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_regtrust"))
            .arg("apply")
            .arg("--spec")
            .arg(&r.spec)
            .arg("--root")
            .arg(&r.root)
            .args(["--runtime", "docker"])
            .args(extra)
            .env("REGTRUST_TEST_HUB_PASSWORD", "hub-pw")
            .output()
            .unwrap()
    };
    let secrets = [
        "s3cret-pw",
        "hub-pw",
        "cHVsbGVyOnMzY3JldC1wdw==", // puller:s3cret-pw
        "aHVidXNlcjpodWItcHc=",     // hubuser:hub-pw
        "b3RoZXI6c2VjcmV0",         // the owner's own login
    ];
    let dry = apply(&["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    let json = apply(&["--dry-run", "--format", "json"]);
    for o in [&dry, &json] {
        let t = text(o);
        for s in secrets {
            assert!(!t.contains(s), "{s} printed:\n{t}");
        }
    }
    assert!(
        text(&dry).contains("+\t\t\t\"auth\": \"<redacted>\""),
        "{}",
        text(&dry)
    );
    let o = apply(&[]);
    assert!(o.status.success(), "{}", text(&o));
    for s in secrets {
        assert!(!text(&o).contains(s), "{s} printed:\n{}", text(&o));
    }
    let path = r.path("/root/.docker/config.json");
    assert_eq!(mode_of(&path), 0o600);
    let v: serde_json::Value = serde_json::from_str(&r.read("/root/.docker/config.json")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "auths": {
                "other.registry.test": {"auth": "b3RoZXI6c2VjcmV0"},
                "auth.registry.test": {"auth": "cHVsbGVyOnMzY3JldC1wdw=="},
                "https://index.docker.io/v1/": {"auth": "aHVidXNlcjpodWItcHc="},
            },
            "psFormat": "table {{.ID}}",
        })
    );
    assert_eq!(r.read("/root/.docker/config.json.bak"), theirs);
    assert_eq!(mode_of(&r.path("/root/.docker/config.json.bak")), 0o600);
    // The report says who reads the file; no reload for it.
    assert!(
        text(&o).contains(
            "note: docker: /root/.docker/config.json: credentials for auth.registry.test (read \
             by the docker CLI, which sends them with each pull; dockerd itself does not read \
             this file)"
        ),
        "{}",
        text(&o)
    );
    let again = apply(&[]);
    assert!(text(&again).contains("nothing to do"), "{}", text(&again));
    // A new password: the entry changes, the diff says so without showing either.
    fs::write(r.spec.with_file_name("password"), "n3w-pw\n").unwrap();
    let dry = apply(&["--dry-run"]);
    assert!(!text(&dry).contains("n3w-pw") && !text(&dry).contains("s3cret-pw"));
    assert!(
        text(&dry).contains("(credentials changed, not shown)"),
        "{}",
        text(&dry)
    );
    // An identity token is not written to config.json: said, not pretended.
    let token_spec = r.spec.with_file_name("token.yaml");
    fs::write(
        &token_spec,
        "registries:\n  - host: token.registry.test\n    auth:\n      identity_token_env: REGTRUST_TEST_TOKEN\n      method: config\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["apply", "--dry-run", "--runtime", "docker", "--spec"])
        .arg(&token_spec)
        .arg("--root")
        .arg(&r.root)
        .env("REGTRUST_TEST_TOKEN", "tok-secret")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "note: docker: for token.registry.test dockerd has no equivalent of an identity \
             token in config.json"
        ) && !text(&o).contains("tok-secret")
            && !text(&o).contains("token.registry.test\": {"),
        "{}",
        text(&o)
    );
    // docker.io leaves the spec: regtrust's entry goes, the owner's stays.
    fs::write(
        &r.spec,
        "registries:\n  - host: auth.registry.test\n    auth:\n      username: puller\n      password_file: password\n",
    )
    .unwrap();
    let o = apply(&[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_str(&r.read("/root/.docker/config.json")).unwrap();
    assert_eq!(
        v["auths"],
        serde_json::json!({
            "other.registry.test": {"auth": "b3RoZXI6c2VjcmV0"},
            "auth.registry.test": {"auth": "cHVsbGVyOm4zdy1wdw=="},
        })
    );
}

fn doctor(
    r: &Root,
    spec: bool,
) -> (
    Option<i32>,
    serde_json::Value,
    std::collections::BTreeSet<String>,
) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regtrust"));
    c.arg("doctor")
        .arg("--root")
        .arg(&r.root)
        .args(["--format", "json"]);
    if spec {
        c.arg("--spec").arg(&r.spec);
    }
    let o = c.output().unwrap();
    let found = crate::support::doctor_corpus::findings(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (o.status.code(), report, found)
}

/// doctor on a Docker-only node: daemon.json against the spec, certs.d entries dockerd ignores
/// or refuses, the image store; then `apply` fixes what it can, and doctor says so.
#[test]
fn doctor_checks_docker_against_the_spec_and_certs_d() {
    let spec = "registries:
  - host: my.private.registry:5000
    http: true
  - host: skip.registry.test
    skip_verify: true
  - host: 127.0.0.5:5000
    http: true
  - host: other.registry.test
    endpoints:
      - url: https://mirror.registry.test
";
    let r = Root::new(
        spec,
        &[
            "etc/docker/certs.d/https:/url.registry.test",
            "etc/docker/certs.d/pem.registry.test",
            "etc/docker/certs.d/key.registry.test",
            "etc/docker/certs.d/toml.registry.test",
        ],
    );
    fs::write(r.path("/etc/docker/daemon.json"), SEED).unwrap();
    let certs = |p: &str| r.path(&format!("/etc/docker/certs.d/{p}"));
    fs::write(certs("https:/url.registry.test/ca.crt"), "x").unwrap();
    fs::write(certs("pem.registry.test/ca.pem"), "x").unwrap();
    fs::write(certs("key.registry.test/client.key"), "x").unwrap();
    fs::write(
        certs("toml.registry.test/hosts.toml"),
        "server = \"http://x\"\n",
    )
    .unwrap();
    let (code, report, found) = doctor(&r, true);
    assert_eq!(code, Some(1), "{report}");
    let want: std::collections::BTreeSet<String> = [
        "error docker-insecure-missing /etc/docker/daemon.json:4",
        "error docker-certs-dir-is-url /etc/docker/certs.d/https:",
        "warning docker-ca-not-crt /etc/docker/certs.d/pem.registry.test/ca.pem",
        "error docker-client-pair-incomplete /etc/docker/certs.d/key.registry.test/client.key",
        "warning docker-hosts-toml-ignored /etc/docker/certs.d/toml.registry.test/hosts.toml",
        &format!("warning docker-mirror-not-hub {}", r.spec.display()),
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    // Two registries lack an entry (the loopback one is insecure by default): one finding each.
    let insecure: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "docker-insecure-missing")
        .collect();
    assert_eq!(insecure.len(), 2, "{report}");
    assert!(
        insecure[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("my.private.registry:5000 (http: true in "),
        "{report}"
    );
    assert!(
        insecure[1]["effect"].as_str().unwrap().contains("x509"),
        "{report}"
    );
    assert_eq!(found, want, "{report}");
    assert_eq!(report["containerd"], "none", "{report}");
    assert_eq!(report["docker"]["image_store"], "classic", "{report}");

    // apply writes the insecure entries; the certs.d entries are the owner's to fix.
    let o = r.apply(&["--runtime", "docker"]);
    assert!(o.status.success(), "{}", text(&o));
    fs::remove_dir_all(certs("https:")).unwrap();
    fs::rename(
        certs("pem.registry.test/ca.pem"),
        certs("pem.registry.test/ca.crt"),
    )
    .unwrap();
    fs::write(certs("key.registry.test/client.cert"), "x").unwrap();
    fs::remove_file(certs("toml.registry.test/hosts.toml")).unwrap();
    let (_, report, found) = doctor(&r, true);
    assert_eq!(
        found,
        [format!(
            "warning docker-mirror-not-hub {}",
            r.spec.display()
        )]
        .into_iter()
        .collect(),
        "{report}"
    );
    // Without the spec only the node is checked: clean.
    let (code, report, found) = doctor(&r, false);
    assert!(found.is_empty() && code == Some(0), "{report}");

    // The containerd image store reads hosts.toml in Docker's certs.d: no finding, and the
    // summary says what dockerd reads.
    fs::write(
        r.path("/etc/docker/daemon.json"),
        "{\"features\": {\"containerd-snapshotter\": true}}",
    )
    .unwrap();
    fs::write(
        certs("toml.registry.test/hosts.toml"),
        "server = \"http://x\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["doctor", "--root"])
        .arg(&r.root)
        .output()
        .unwrap();
    let text = text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "docker: /etc/docker/daemon.json, containerd image store: dockerd reads \
             insecure-registries, registry-mirrors (docker.io only)"
        ) && text.contains("never containerd's /etc/containerd/certs.d"),
        "{text}"
    );

    // An unparsable daemon.json: dockerd would not start.
    fs::write(
        r.path("/etc/docker/daemon.json"),
        "{\n  \"debug\": true,\n}\n",
    )
    .unwrap();
    let (code, report, found) = doctor(&r, false);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        found.contains("error docker-config-invalid /etc/docker/daemon.json:3"),
        "{found:?}"
    );
}
