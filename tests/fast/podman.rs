//! `regtrust apply` for containers-image (Podman, CRI-O, Buildah, Skopeo) on scratch roots: the
//! drop-in's shape (read back as TOML), certs.d files and modes, auth.json (0600, merged with
//! other entries, never printed), pruning of what an earlier run wrote, the runtime names and
//! detection, one transaction with containerd's part, and the report.
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::{mode_of, snapshot, text};

const DROP_IN: &str = "/etc/containers/registries.conf.d/50-regtrust.conf";

const SPEC: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: docker.io
    endpoints:
      - url: http://cache.registry.test:5000
      - url: https://mirror.registry.test
        ca_pem: |
          -----BEGIN CERTIFICATE-----
          MAA=
          -----END CERTIFICATE-----
        client:
          cert_pem: |
            -----BEGIN CERTIFICATE-----
            MAA=
            -----END CERTIFICATE-----
          key_pem: |
            -----BEGIN PRIVATE KEY-----
            MAA=
            -----END PRIVATE KEY-----
      - url: https://cache.registry.test/with/path
  - host: quay.io
    fallback: false
    endpoints:
      - url: https://first.registry.test
      - url: http://last.registry.test:5000
  - host: secure.registry.test:5443
    skip_verify: true
    headers:
      X-Team: a
  - host: renamed.registry.test
    server: https://real.registry.test:8443
    ca_pem: |
      -----BEGIN CERTIFICATE-----
      MAA=
      -----END CERTIFICATE-----
  - host: \"*\"
    endpoints:
      - url: https://catch.registry.test
";

fn spec() -> String {
    SPEC.to_string()
}

struct Root {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Root {
    fn new(dirs: &[&str]) -> Root {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(&root).unwrap();
        for d in dirs {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        Root { root, dir }
    }

    fn apply(&self, spec: &str, extra: &[&str]) -> Output {
        let spec_path = self.dir.path().join("spec.yaml");
        fs::write(&spec_path, spec).unwrap();
        Command::new(env!("CARGO_BIN_EXE_regtrust"))
            .arg("apply")
            .arg("--spec")
            .arg(&spec_path)
            .arg("--root")
            .arg(&self.root)
            .args(extra)
            .env("REGTRUST_TEST_PASSWORD", "s3cret-pa55")
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

/// The drop-in's `[[registry]]` tables as (prefix or location, location, insecure, mirrors as
/// (location, insecure)), read with a TOML parser.
type Entry = (String, String, bool, Vec<(String, bool)>);
fn registries(text: &str) -> Vec<Entry> {
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    let s = |t: &toml_edit::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let b = |t: &toml_edit::Table, k: &str| t.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    doc["registry"]
        .as_array_of_tables()
        .unwrap()
        .iter()
        .map(|t| {
            let location = s(t, "location").unwrap();
            let mirrors = t
                .get("mirror")
                .and_then(|m| m.as_array_of_tables())
                .map(|ms| {
                    ms.iter()
                        .map(|m| (s(m, "location").unwrap(), b(m, "insecure")))
                        .collect()
                })
                .unwrap_or_default();
            (
                s(t, "prefix").unwrap_or_else(|| location.clone()),
                location,
                b(t, "insecure"),
                mirrors,
            )
        })
        .collect()
}

fn e(prefix: &str, location: &str, insecure: bool, mirrors: &[(&str, bool)]) -> Entry {
    (
        prefix.into(),
        location.into(),
        insecure,
        mirrors.iter().map(|(l, i)| (l.to_string(), *i)).collect(),
    )
}

#[test]
fn the_drop_in_says_what_the_spec_says_and_the_certs_are_in_certs_d() {
    let r = Root::new(&[]);
    let o = r.apply(&spec(), &["--runtime", "podman"]);
    assert!(o.status.success(), "{}", text(&o));
    let drop_in = r.read(DROP_IN);
    assert!(drop_in.starts_with("# Managed by regtrust."), "{drop_in}");
    assert_eq!(
        registries(&drop_in),
        vec![
            e(
                "my.private.registry:5000",
                "my.private.registry:5000",
                true,
                &[]
            ),
            // Mirrors in the spec's order, each with its own `insecure`; the one with a path is
            // left out.
            e(
                "docker.io",
                "docker.io",
                false,
                &[
                    ("cache.registry.test:5000", true),
                    ("mirror.registry.test", false)
                ]
            ),
            // fallback: false: the last endpoint takes the upstream's place.
            e(
                "quay.io",
                "last.registry.test:5000",
                true,
                &[("first.registry.test", false)]
            ),
            // skip_verify maps to `insecure` (which allows plain HTTP too).
            e(
                "secure.registry.test:5443",
                "secure.registry.test:5443",
                true,
                &[]
            ),
            e(
                "renamed.registry.test",
                "real.registry.test:8443",
                false,
                &[]
            ),
        ]
    );
    let certs = "/etc/containers/certs.d";
    for (p, m) in [
        ("mirror.registry.test/ca.crt", 0o644),
        ("mirror.registry.test/client.cert", 0o644),
        ("mirror.registry.test/client.key", 0o600),
        ("real.registry.test:8443/ca.crt", 0o644),
    ] {
        let path = r.path(&format!("{certs}/{p}"));
        assert_eq!(mode_of(&path), m, "{p}");
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .starts_with("-----BEGIN "),
            "{p}"
        );
    }
    // Every file written: the drop-in, the four certs.d files and the lock; nothing else (no
    // auth.json without credentials, the packaged registries.conf untouched, no containerd).
    let files: Vec<String> = snapshot(&r.root).into_keys().collect();
    assert_eq!(files.len(), 6, "{files:?}");
    let report = text(&o);
    assert!(
        report.starts_with("runtimes: podman (--runtime)\n"),
        "{report}"
    );
    for note in [
        "note: podman: host \"*\" has no containers-image equivalent",
        "note: podman: endpoint https://cache.registry.test/with/path of docker.io has a path",
        "note: podman: for secure.registry.test:5443 containers-image has no equivalent of `headers`",
    ] {
        assert!(report.contains(note), "{note}\n{report}");
    }
    assert!(
        report.contains(
            "CRI-O on that system must reload registries.conf (systemctl reload crio; an image: \
             nothing to do until its first boot); Podman, Buildah and Skopeo: nothing"
        ),
        "{report}"
    );
    // A second run changes nothing.
    let before = snapshot(&r.root);
    let o = r.apply(&spec(), &["--runtime", "podman"]);
    assert!(
        text(&o).contains("nothing to do: the node matches the spec"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&r.root), before);
}

#[test]
fn what_left_the_spec_is_removed_and_nothing_else() {
    let r = Root::new(&[]);
    assert!(r.apply(&spec(), &["--runtime", "podman"]).status.success());
    // The operator's own files beside regtrust's.
    let theirs = r.path("/etc/containers/certs.d/mirror.registry.test/extra.crt");
    fs::write(&theirs, "theirs\n").unwrap();
    let own_conf = r.path("/etc/containers/registries.conf.d/10-own.conf");
    fs::write(&own_conf, "[[registry]]\nlocation = \"own.test\"\n").unwrap();
    let o = r.apply(
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
        &["--runtime", "podman", "--format", "json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut removed: Vec<&str> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == "remove")
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    removed.sort();
    assert_eq!(
        removed,
        [
            "/etc/containers/certs.d/mirror.registry.test/ca.crt",
            "/etc/containers/certs.d/mirror.registry.test/client.cert",
            "/etc/containers/certs.d/mirror.registry.test/client.key",
            "/etc/containers/certs.d/real.registry.test:8443/ca.crt",
        ]
    );
    assert_eq!(v["reload_crio"], true);
    assert!(
        !r.path("/etc/containers/certs.d/real.registry.test:8443")
            .exists()
    );
    assert_eq!(fs::read_to_string(&theirs).unwrap(), "theirs\n");
    assert!(own_conf.exists());
    assert_eq!(
        registries(&r.read(DROP_IN)),
        vec![e(
            "my.private.registry:5000",
            "my.private.registry:5000",
            true,
            &[]
        )]
    );
    // A drop-in regtrust did not write names nothing regtrust may remove.
    fs::write(
        r.path(DROP_IN),
        "# regtrust-file: /etc/containers/certs.d/mirror.registry.test/extra.crt\n",
    )
    .unwrap();
    let o = r.apply(
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
        &["--runtime", "podman"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("replaced /etc/containers/registries.conf.d/50-regtrust.conf, which regtrust did not write"), "{}", text(&o));
    assert_eq!(fs::read_to_string(&theirs).unwrap(), "theirs\n");
}

const AUTH_SPEC: &str = "registries:
  - host: auth.registry.test:5000
    http: true
    auth:
      username: alice
      password_env: REGTRUST_TEST_PASSWORD
  - host: docker.io
    endpoints:
      - url: https://mirror.registry.test
        auth:
          username: bob
          password_env: REGTRUST_TEST_PASSWORD
";

#[test]
fn auth_json_is_0600_merged_and_never_printed() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let r = Root::new(&["etc/containers"]);
    let seed =
        "{\"auths\":{\"quay.io\":{\"auth\":\"cXVheTp4\"}},\"credHelpers\":{\"gcr.io\":\"gcloud\"}}";
    fs::write(r.path("/etc/containers/auth.json"), seed).unwrap();
    let dry = r.apply(AUTH_SPEC, &["--runtime", "podman", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("(credentials, not shown)"),
        "{}",
        text(&dry)
    );
    assert_eq!(
        r.read("/etc/containers/auth.json"),
        seed,
        "--dry-run writes nothing"
    );
    let o = r.apply(AUTH_SPEC, &["--runtime", "podman"]);
    assert!(o.status.success(), "{}", text(&o));
    for printed in [text(&dry), text(&o)] {
        assert!(!printed.contains("s3cret-pa55"), "{printed}");
        assert!(!printed.contains(&b64("alice:s3cret-pa55")), "{printed}");
        assert!(!printed.contains(&b64("bob:s3cret-pa55")), "{printed}");
    }
    let path = r.path("/etc/containers/auth.json");
    assert_eq!(mode_of(&path), 0o600);
    let v: serde_json::Value = serde_json::from_str(&r.read("/etc/containers/auth.json")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "auths": {
                "quay.io": {"auth": "cXVheTp4"},
                "auth.registry.test:5000": {"auth": b64("alice:s3cret-pa55")},
                "mirror.registry.test": {"auth": b64("bob:s3cret-pa55")},
            },
            "credHelpers": {"gcr.io": "gcloud"},
        })
    );
    assert!(
        text(&o).contains("note: podman: /etc/containers/auth.json holds the credentials"),
        "{}",
        text(&o)
    );
    // Idempotent, then the entries that left the spec go, the operator's stay.
    let o = r.apply(AUTH_SPEC, &["--runtime", "podman"]);
    assert!(text(&o).contains("nothing to do"), "{}", text(&o));
    let o = r.apply(
        "registries:\n  - host: auth.registry.test:5000\n    http: true\n",
        &["--runtime", "podman"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_str(&r.read("/etc/containers/auth.json")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "auths": {"quay.io": {"auth": "cXVheTp4"}},
            "credHelpers": {"gcr.io": "gcloud"},
        })
    );
}

#[test]
fn an_unparsable_auth_json_writes_nothing_at_all() {
    let r = Root::new(&["etc/containers", "etc/containerd"]);
    fs::write(r.path("/etc/containers/auth.json"), "{\"auths\": ").unwrap();
    let before = snapshot(&r.root);
    let o = r.apply(
        AUTH_SPEC,
        &["--runtime", "containerd,cri-o", "--containerd", "1.7"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("/etc/containers/auth.json: not valid JSON"),
        "{}",
        text(&o)
    );
    assert_eq!(
        snapshot(&r.root),
        before,
        "no hosts.toml, no drop-in, no lock"
    );
}

#[test]
fn runtime_names_and_detection() {
    // cri-o is another name for podman, in the spec and on the command line.
    let r = Root::new(&[]);
    let o = r.apply(
        "runtimes: [cri-o]\nregistries:\n  - host: r.test:5000\n    http: true\n",
        &["--check"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).starts_with("runtimes: podman (the spec's runtimes)\n"),
        "{}",
        text(&o)
    );
    let o = r.apply(
        "runtimes: [podman, cri-o]\nregistries:\n  - host: r.test:5000\n    http: true\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("runtime `podman` is listed twice"),
        "{}",
        text(&o)
    );
    for (dirs, file, found) in [
        (
            vec!["usr/bin"],
            Some("usr/bin/podman"),
            "podman (/usr/bin/podman)",
        ),
        (
            vec!["usr/local/bin"],
            Some("usr/local/bin/crio"),
            "podman (/usr/local/bin/crio)",
        ),
        (
            vec!["usr/bin"],
            Some("usr/bin/skopeo"),
            "podman (/usr/bin/skopeo)",
        ),
        (vec!["etc/containers"], None, "podman (/etc/containers)"),
    ] {
        let r = Root::new(&dirs);
        if let Some(f) = file {
            fs::write(r.path(f), "").unwrap();
        }
        let o = r.apply(
            "registries:\n  - host: r.test:5000\n    http: true\n",
            &["--check"],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).starts_with(&format!("runtimes: podman (found {found})\n")),
            "{}",
            text(&o)
        );
    }
}

/// The drop-in's list of managed files is text on the node: an entry that leads through a
/// symlink, outside certs.d, or to a name regtrust does not write is never removed.
#[test]
fn the_managed_list_cannot_remove_anything_else() {
    let r = Root::new(&[
        "etc/other",
        "etc/containers/certs.d",
        "etc/containers/registries.conf.d",
    ]);
    fs::write(r.path("/etc/other/ca.crt"), "keep\n").unwrap();
    fs::write(r.path("/etc/other/client.key"), "keep\n").unwrap();
    std::os::unix::fs::symlink("/etc/other", r.path("/etc/containers/certs.d/evil")).unwrap();
    fs::create_dir_all(r.path("/etc/containers/certs.d/h.test")).unwrap();
    fs::write(r.path("/etc/containers/certs.d/h.test/notes.txt"), "keep\n").unwrap();
    fs::write(r.path("/etc/containers/certs.d/h.test/ca.crt"), "stale\n").unwrap();
    fs::write(
        r.path(DROP_IN),
        "# Managed by regtrust. forged\n\
         # regtrust-file: /etc/containers/certs.d/evil/ca.crt\n\
         # regtrust-file: /etc/containers/certs.d/../../other/client.key\n\
         # regtrust-file: /etc/other/ca.crt\n\
         # regtrust-file: /etc/containers/certs.d/h.test/notes.txt\n\
         # regtrust-file: /etc/containers/certs.d/h.test/ca.crt\n",
    )
    .unwrap();
    let o = r.apply(
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
        &["--runtime", "podman"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(r.read("/etc/other/ca.crt"), "keep\n");
    assert_eq!(r.read("/etc/other/client.key"), "keep\n");
    assert_eq!(r.read("/etc/containers/certs.d/h.test/notes.txt"), "keep\n");
    // The one entry that is regtrust's shape is removed.
    assert!(
        !r.path("/etc/containers/certs.d/h.test/ca.crt").exists(),
        "{}",
        text(&o)
    );
}
