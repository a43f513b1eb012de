//! `regtrust render`: the certs.d tree and the config.toml fragment, checked by parsing them.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use toml_edit::DocumentMut;

fn regtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .unwrap()
}

fn write_spec(dir: &Path, text: &str) -> String {
    let p = dir.join("spec.yaml");
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn toml(path: &Path) -> DocumentMut {
    fs::read_to_string(path).unwrap().parse().unwrap()
}

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";

#[test]
fn http_registry_gets_an_explicit_http_host_table() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    );
    let out = dir.path().join("certs.d");
    let r = regtrust(&[
        "render",
        "--spec",
        &spec,
        "--target",
        "hosts",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let text = fs::read_to_string(out.join("my.private.registry:5000/hosts.toml")).unwrap();
    // The layout containerd documents for a plain-HTTP registry, plus regtrust's header.
    let expected = "\
# Managed by regtrust. `regtrust apply` rewrites this file, and removes it when
# my.private.registry:5000 leaves the spec: edit the spec, not this file.

server = \"http://my.private.registry:5000\"

[host.\"http://my.private.registry:5000\"]
capabilities = [\"pull\", \"resolve\", \"push\"]
";
    assert_eq!(text, expected);
}

#[test]
fn ca_client_headers_and_mirrors_land_where_containerd_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = r#"containerd:
  version: "2.1"
  config_path: /etc/ctrd/hosts
registries:
  - host: harbor.corp.example
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
    headers:
      X-Note: "a: b # c \"q\" ${x} ünï"
  - host: docker.io
    fallback: false
    endpoints:
      - url: http://cache.corp.example:5000
      - url: https://mirror.corp.example/v2/hub
        override_path: true
        skip_verify: true
        dial_timeout: 3s
        capabilities: [pull]
"#;
    let spec = write_spec(dir.path(), spec);
    let out = dir.path().join("out");
    let r = regtrust(&[
        "render",
        "--spec",
        &spec,
        "--target",
        "hosts",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));

    let harbor = toml(&out.join("harbor.corp.example/hosts.toml"));
    assert_eq!(
        harbor["server"].as_str(),
        Some("https://harbor.corp.example")
    );
    let table = &harbor["host"]["https://harbor.corp.example"];
    // Absolute node paths under the spec's config_path, never relative ones.
    assert_eq!(
        table["ca"].as_str(),
        Some("/etc/ctrd/hosts/harbor.corp.example/ca.crt")
    );
    let client = table["client"]
        .as_array()
        .unwrap()
        .get(0)
        .unwrap()
        .as_array()
        .unwrap();
    let pair: Vec<_> = client.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(
        pair,
        [
            "/etc/ctrd/hosts/harbor.corp.example/client.cert",
            "/etc/ctrd/hosts/harbor.corp.example/client.key"
        ]
    );
    let header = table["header"]["X-Note"]
        .as_array()
        .unwrap()
        .get(0)
        .unwrap()
        .as_str();
    assert_eq!(header, Some("a: b # c \"q\" ${x} ünï"));
    assert_eq!(
        fs::read_to_string(out.join("harbor.corp.example/ca.crt")).unwrap(),
        CERT
    );
    assert_eq!(
        fs::read_to_string(out.join("harbor.corp.example/client.key")).unwrap(),
        KEY
    );
    let mode = |p: &str| fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("harbor.corp.example/client.key"), 0o600);
    assert_eq!(mode("harbor.corp.example/client.cert"), 0o644);
    assert_eq!(mode("harbor.corp.example/hosts.toml"), 0o644);

    let hub = toml(&out.join("docker.io/hosts.toml"));
    // fallback: false → the last endpoint is also the server (containerd reads
    // `capabilities = []` as every capability, so the upstream cannot stay the server).
    assert_ne!(hub["server"].as_str(), Some("https://registry-1.docker.io"));
    let hosts = hub["host"].as_table().unwrap();
    let order: Vec<&str> = hosts.iter().map(|(k, _)| k).collect();
    assert_eq!(
        order,
        [
            "http://cache.corp.example:5000",
            "https://mirror.corp.example/v2/hub"
        ]
    );
    let caps = |url: &str| -> Vec<String> {
        hosts[url]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(caps("http://cache.corp.example:5000"), ["pull", "resolve"]);
    assert_eq!(caps("https://mirror.corp.example/v2/hub"), ["pull"]);
    let m = &hosts["https://mirror.corp.example/v2/hub"];
    assert_eq!(m["override_path"].as_bool(), Some(true));
    assert_eq!(m["skip_verify"].as_bool(), Some(true));
    assert_eq!(m["dial_timeout"].as_str(), Some("3s"));
}

/// The hosts containerd tries for a pull of `registry`, in order, as containerd reads a hosts.toml
/// (remotes/docker/config/hosts.go, the same in 1.6 to 2.x): every `[host."url"]` table in file
/// order, then the root (`server` and the root keys); a host whose `capabilities` is missing *or
/// empty* gets pull, resolve and push; a root without `server` becomes `https://<registry>`.
/// Only the hosts that can resolve take part in a pull.
fn hosts_a_pull_tries(doc: &DocumentMut, registry: &str) -> Vec<String> {
    let can_resolve = |t: &dyn toml_edit::TableLike| match t.get("capabilities") {
        Some(c) => {
            let caps: Vec<&str> = c
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            caps.is_empty() || caps.contains(&"resolve")
        }
        None => true,
    };
    let mut tried = Vec::new();
    if let Some(hosts) = doc.get("host").and_then(|h| h.as_table_like()) {
        for (url, t) in hosts.iter() {
            if can_resolve(t.as_table_like().unwrap()) {
                tried.push(url.to_string());
            }
        }
    }
    if can_resolve(doc.as_table()) || doc.get("server").is_none() {
        tried.push(match doc.get("server").and_then(|s| s.as_str()) {
            Some(s) => s.to_string(),
            None => format!("https://{registry}"),
        });
    }
    tried
}

#[test]
fn fallback_false_leaves_the_upstream_out_of_the_hosts_a_pull_tries() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "registries:
  - host: hub.corp.example:5000
    fallback: false
    endpoints:
      - url: https://mirror.corp.example:5000
  - host: two.corp.example
    fallback: false
    endpoints:
      - url: http://cache.corp.example:5000
      - url: https://mirror.corp.example/v2/two
        override_path: true
        skip_verify: true
        capabilities: [pull, resolve]
  - host: \"*\"
    fallback: false
    endpoints:
      - url: https://mirror.corp.example:5000
",
    );
    let out = dir.path().join("out");
    let r = regtrust(&[
        "render",
        "--spec",
        &spec,
        "--target",
        "hosts",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for (dir_name, registry, endpoints) in [
        (
            "hub.corp.example:5000",
            "hub.corp.example:5000",
            &["https://mirror.corp.example:5000"][..],
        ),
        (
            "two.corp.example",
            "two.corp.example",
            &[
                "http://cache.corp.example:5000",
                "https://mirror.corp.example/v2/two",
            ][..],
        ),
        // `_default` stands for any registry: one named here stands for them all.
        (
            "_default",
            "other.corp.example",
            &["https://mirror.corp.example:5000"][..],
        ),
    ] {
        let doc = toml(&out.join(dir_name).join("hosts.toml"));
        let tried = hosts_a_pull_tries(&doc, registry);
        let upstream = format!("https://{registry}");
        assert!(
            !tried.contains(&upstream),
            "{dir_name}: containerd would try the upstream {upstream}: {tried:?}\n{doc}"
        );
        assert!(
            tried.iter().all(|t| endpoints.contains(&t.as_str())),
            "{dir_name}: {tried:?}"
        );
        assert_eq!(
            tried[0], endpoints[0],
            "{dir_name}: the endpoints come first"
        );
    }
    // The last endpoint is also the root, with its own settings.
    let two = toml(&out.join("two.corp.example/hosts.toml"));
    assert_eq!(
        two["server"].as_str(),
        Some("https://mirror.corp.example/v2/two")
    );
    assert_eq!(two["override_path"].as_bool(), Some(true));
    assert_eq!(two["skip_verify"].as_bool(), Some(true));
}

#[test]
fn default_host_goes_to_the_default_directory_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "registries:\n  - host: \"*\"\n    endpoints:\n      - url: http://cache.corp.example:5000\n",
    );
    let out = dir.path().join("out");
    assert!(
        regtrust(&[
            "render",
            "--spec",
            &spec,
            "--target",
            "hosts",
            "--out",
            out.to_str().unwrap()
        ])
        .status
        .success()
    );
    let doc = toml(&out.join("_default/hosts.toml"));
    assert!(doc.get("server").is_none());
    assert!(doc["host"].get("http://cache.corp.example:5000").is_some());
}

#[test]
fn config_fragment_per_containerd_version() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "registries:\n  - host: a.example\n    http: true\n",
    );
    for (v, file_version, plugin) in [
        ("1.6", 2, "io.containerd.grpc.v1.cri"),
        ("1.7", 2, "io.containerd.grpc.v1.cri"),
        ("2.0", 3, "io.containerd.cri.v1.images"),
        ("2.1", 3, "io.containerd.cri.v1.images"),
        ("2.2", 3, "io.containerd.cri.v1.images"),
        ("2.3", 4, "io.containerd.cri.v1.images"),
    ] {
        let r = regtrust(&[
            "render",
            "--spec",
            &spec,
            "--target",
            "containerd-config",
            "--containerd",
            v,
        ]);
        assert!(r.status.success());
        let text = String::from_utf8(r.stdout).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["version"].as_integer(), Some(file_version), "{v}");
        assert_eq!(
            doc["plugins"][plugin]["registry"]["config_path"].as_str(),
            Some("/etc/containerd/certs.d"),
            "{v}"
        );
        assert_eq!(
            doc["plugins"].as_table().unwrap().len(),
            1,
            "{v}: only the registry table"
        );
    }
}

#[test]
fn config_fragment_needs_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "registries: []\n");
    let r = regtrust(&["render", "--spec", &spec, "--target", "containerd-config"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("pass --containerd"));
}

#[test]
fn hosts_target_needs_out() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "registries: []\n");
    let r = regtrust(&["render", "--spec", &spec, "--target", "hosts"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--out DIR"));
}

#[test]
fn cli_version_overrides_the_spec_for_feature_gates() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "containerd:\n  version: \"2.1\"\nregistries:\n  - host: a.example\n    dial_timeout: 2s\n",
    );
    let ok = regtrust(&["check", "--spec", &spec]);
    assert!(ok.status.success());
    let r = regtrust(&["check", "--spec", &spec, "--containerd", "1.7"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("dial_timeout needs containerd 2.0.7"));
}

#[test]
fn relative_out_dir_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), HTTP_SPEC_TEXT);
    let r = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .current_dir(dir.path())
        .args([
            "render", "--spec", &spec, "--target", "hosts", "--out", "certs.d",
        ])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        dir.path()
            .join("certs.d/a.example:5000/hosts.toml")
            .is_file()
    );
}

const HTTP_SPEC_TEXT: &str = "registries:\n  - host: a.example:5000\n    http: true\n";

/// Every output file that carries a private key is created 0600 (also over an existing 0644
/// file); one without a key stays 0644.
#[test]
fn out_files_with_a_private_key_are_private_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let with_key = write_spec(
        dir.path(),
        "containerd:\n  version: \"1.7\"\nregistries:\n  - host: h.example\n    client:\n      cert_pem: |\n        -----BEGIN CERTIFICATE-----\n        MAA=\n        -----END CERTIFICATE-----\n      key_pem: |\n        -----BEGIN PRIVATE KEY-----\n        MAA=\n        -----END PRIVATE KEY-----\n",
    );
    let without = dir.path().join("plain.yaml");
    fs::write(
        &without,
        "containerd:\n  version: \"1.7\"\nregistries:\n  - host: h.example\n    http: true\n",
    )
    .unwrap();
    for target in ["cloud-init", "script", "json"] {
        for (spec, want) in [
            (with_key.as_str(), 0o600),
            (without.to_str().unwrap(), 0o644),
        ] {
            let out = dir.path().join(format!("{target}-{want:o}.out"));
            // An existing world-readable file must not keep its mode.
            fs::write(&out, "old").unwrap();
            fs::set_permissions(&out, fs::Permissions::from_mode(0o644)).unwrap();
            let r = regtrust(&[
                "render",
                "--spec",
                spec,
                "--target",
                target,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            let text = fs::read_to_string(&out).unwrap();
            assert_eq!(
                text.contains("PRIVATE KEY") || text.contains("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS"),
                want == 0o600,
                "{target}: the key is where it should be"
            );
            let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, want, "{target} with {spec}: mode {mode:o}");
        }
    }
}
