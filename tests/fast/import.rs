//! `migrate` and `import k3s` on the inputs real projects write: endpoints without a scheme,
//! k3s mirrors with nothing under them, and what cannot be carried over said as a warning.
use std::fs;
use std::process::{Command, Output};

fn regtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `endpoint = ["mirror.gcr.io"]` (legacy CRI reads it as https://): migrate and apply both
/// write the explicit https:// endpoint, and doctor is clean of `host-without-scheme` after apply.
#[test]
fn a_legacy_endpoint_without_a_scheme_becomes_https_in_migrate_and_apply() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let config = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"mirror.gcr.io\", \"https://registry-1.docker.io\"]\n";
    fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
    let r = root.to_str().unwrap();
    let o = regtrust(&[
        "migrate",
        "--root",
        r,
        "--containerd",
        "1.7",
        "--emit-spec",
        "-",
    ]);
    let (spec, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(spec.contains("url: https://mirror.gcr.io"), "{spec}");
    assert!(err.contains("has no scheme"), "{err}");
    let spec_path = dir.path().join("spec.yaml");
    fs::write(&spec_path, "registries: []\n").unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec_path.to_str().unwrap(),
        "--root",
        r,
        "--containerd",
        "1.7",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let hosts =
        fs::read_to_string(root.join("etc/containerd/certs.d/docker.io/hosts.toml")).unwrap();
    assert!(
        hosts.contains("[host.\"https://mirror.gcr.io\"]"),
        "{hosts}"
    );
    assert!(!hosts.contains("[host.\"mirror.gcr.io\"]"), "{hosts}");
    let o = regtrust(&["doctor", "--root", r, "--containerd", "1.7"]);
    let (report, _) = text(&o);
    assert!(!report.contains("host-without-scheme"), "{report}");
}

/// k3s's embedded-mirror documentation writes `docker.io:` and `"*":` with nothing under them;
/// `rewrite` cannot be carried over (a warning); `auth` is carried: the password goes to a 0600
/// file in --secrets-dir that the spec names (never into the spec or the output), and an `auth`
/// without credentials is dropped with a warning. With `--emit-spec -` and no --secrets-dir:
/// exit 2, nothing written.
#[test]
fn import_k3s_takes_empty_mirror_entries_carries_auth_and_warns_about_what_it_drops() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("registries.yaml");
    fs::write(
        &yaml,
        "mirrors:\n  docker.io:\n  \"*\":\n  registry.example.com:\n    endpoint:\n      - \"http://mirror.example:5000\"\n    rewrite:\n      \"^library/(.*)\": \"mirrored/$1\"\nconfigs:\n  registry.example.com:\n    auth:\n      username: u\n      password: k3s-Pw-77\n  empty.example.com:\n    auth:\n      username: nobody\n",
    )
    .unwrap();
    let secrets = dir.path().join("secrets");
    let o = regtrust(&["import", "k3s", yaml.to_str().unwrap(), "--emit-spec", "-"]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("pass --secrets-dir DIR"),
        "{:?}",
        text(&o)
    );
    assert!(!secrets.exists());
    let o = regtrust(&[
        "import",
        "k3s",
        yaml.to_str().unwrap(),
        "--emit-spec",
        "-",
        "--secrets-dir",
        secrets.to_str().unwrap(),
    ]);
    let (spec, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(spec.contains("host: \"registry.example.com\""), "{spec}");
    assert!(spec.contains("http://mirror.example:5000"), "{spec}");
    assert!(
        err.contains("warning: mirrors.\"registry.example.com\".rewrite is dropped"),
        "{err}"
    );
    assert!(
        err.contains("warning: configs.\"empty.example.com\".auth is dropped"),
        "{err}"
    );
    let file = secrets.join("registry.example.com.password");
    assert_eq!(fs::read_to_string(&file).unwrap(), "k3s-Pw-77");
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(spec.contains("username: u"), "{spec}");
    assert!(spec.contains("registry.example.com.password"), "{spec}");
    // No secret reaches the output; the spec loads.
    assert!(
        !spec.contains("k3s-Pw-77") && !err.contains("k3s-Pw-77"),
        "{spec}{err}"
    );
    let spec_file = dir.path().join("spec.yaml");
    fs::write(&spec_file, &spec).unwrap();
    let o = regtrust(&["check", "--spec", spec_file.to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
}

/// A loopback server that answers every connection with `reply` (an HTTP response, or a TLS
/// alert record), for the scheme probe of `migrate` / `import k3s`.
fn answering(reply: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().take(8).flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(reply);
        }
    });
    port
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The recipe (`insecure_skip_verify`) on three registries, all on loopback: one speaks plain
/// HTTP (→ `http: true`), one TLS (→ `skip_verify` kept), one is unreachable (→ kept, warned).
/// `--no-probe` keeps all three and warns for each. The same through `import k3s`.
#[test]
fn migrate_and_import_ask_what_a_skip_verify_registry_speaks() {
    let http =
        answering(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let tls = answering(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    let gone = closed_port();
    let hosts = [http, tls, gone].map(|p| format!("127.0.0.1:{p}"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let mut config = "version = 2\n".to_string();
    let mut k3s = "configs:\n".to_string();
    for h in &hosts {
        config.push_str(&format!(
            "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"{h}\".tls]\n  insecure_skip_verify = true\n"
        ));
        k3s.push_str(&format!(
            "  \"{h}\":\n    tls:\n      insecure_skip_verify: true\n"
        ));
    }
    fs::write(root.join("etc/containerd/config.toml"), &config).unwrap();
    let yaml = dir.path().join("registries.yaml");
    fs::write(&yaml, &k3s).unwrap();
    let r = root.to_str().unwrap();
    let y = yaml.to_str().unwrap();
    let migrate = [
        "migrate",
        "--root",
        r,
        "--containerd",
        "1.7",
        "--emit-spec",
        "-",
    ];
    let import = ["import", "k3s", y, "--emit-spec", "-"];
    for args in [&migrate[..], &import[..]] {
        let (spec, err) = text(&regtrust(args));
        let doc: serde_json::Value = serde_saphyr::from_str(&spec).unwrap();
        let reg = |h: &str| {
            doc["registries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["host"] == h)
                .cloned()
                .unwrap_or_else(|| panic!("{h} missing: {spec}"))
        };
        let plain = reg(&hosts[0]);
        assert_eq!(plain["http"], true, "{spec}\n{err}");
        assert!(plain.get("skip_verify").is_none(), "{spec}");
        assert!(
            err.contains(&format!("{} speaks plain HTTP", hosts[0])),
            "{err}"
        );
        let secure = reg(&hosts[1]);
        assert_eq!(secure["skip_verify"], true, "{spec}");
        assert!(secure.get("http").is_none(), "{spec}");
        assert!(
            err.contains(&format!(
                "{} speaks TLS (HTTPS): `skip_verify: true` kept",
                hosts[1]
            )),
            "{err}"
        );
        let unreachable = reg(&hosts[2]);
        assert_eq!(unreachable["skip_verify"], true, "{spec}");
        assert!(
            err.contains(&format!("warning: {}: unreachable", hosts[2]))
                && err.contains("write `http: true` on"),
            "{err}"
        );

        let mut no_probe = args.to_vec();
        no_probe.push("--no-probe");
        let (spec, err) = text(&regtrust(&no_probe));
        assert!(!spec.contains("http: true"), "{spec}");
        assert_eq!(spec.matches("skip_verify: true").count(), 3, "{spec}");
        assert_eq!(
            err.matches("was not probed (--no-probe)").count(),
            3,
            "{err}"
        );
    }
}
