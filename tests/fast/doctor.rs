//! `regtrust doctor` without containerd: the diagnosis of every case of the corpus of broken nodes
//! (tests/doctor/<case>/) that needs no probe of a registry, then `regtrust apply` on a copy and
//! doctor reports it clean; and the 2.2+ default `config_path` list. The real suite starts real
//! containerd on every case to check that it behaves as doctor says.
use std::fs;

use crate::support::doctor_corpus::{apply_fixes_or_refuses, cases, copy_root, findings};
use crate::support::{E2E_SPEC, regtrust};

#[test]
fn doctor_diagnoses_the_corpus_and_apply_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for c in cases().into_iter().filter(|c| !c.probe) {
        checked += 1;
        let doctor = |root: &std::path::Path| {
            regtrust(&[
                "doctor",
                "--root",
                root.to_str().unwrap(),
                "--containerd",
                &c.containerd,
                "--format",
                "json",
            ])
        };
        let root = dir.path().join(&c.name).join("root");
        copy_root(&c, &root, &spec);
        let o = doctor(&root);
        assert_eq!(
            o.status.code(),
            Some(c.doctor_exit),
            "{}: doctor must report problems",
            c.name
        );
        let got = findings(&o);
        if got != c.expected {
            failures.push(format!(
                "{}: doctor said\n  {:?}\nexpected\n  {:?}",
                c.name, got, c.expected
            ));
        }
        let fixed = dir.path().join(&c.name).join("fixed");
        copy_root(&c, &fixed, &spec);
        match apply_fixes_or_refuses(&c, &fixed, &spec) {
            Ok(true) => {
                let o = doctor(&fixed);
                if o.status.code() != Some(0) {
                    failures.push(format!(
                        "{}: doctor after apply: {:?}",
                        c.name,
                        findings(&o)
                    ));
                }
            }
            Ok(false) => {}
            Err(e) => failures.push(e),
        }
    }
    assert!(checked >= 10, "only {checked} cases without a probe");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// containerd 2.2+ defaults config_path to a list its CRI pulls do not split (measured on 2.3.4;
/// no 2.2/2.3 binary is installed here, so this one is checked by doctor alone).
#[test]
fn doctor_flags_the_2_2_default_list() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc/containerd/certs.d/a.example:5000")).unwrap();
    fs::write(
        root.join("etc/containerd/certs.d/a.example:5000/hosts.toml"),
        "server = \"http://a.example:5000\"\n[host.\"http://a.example:5000\"]\n",
    )
    .unwrap();
    fs::write(root.join("etc/containerd/config.toml"), "version = 3\n").unwrap();
    let o = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "2.2",
        "--format",
        "json",
    ]);
    let got = findings(&o);
    assert!(
        got.contains("error config-path-default-list /etc/containerd/config.toml"),
        "{got:?}"
    );
    fs::remove_file(root.join("etc/containerd/config.toml")).unwrap();
    let o = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "2.3",
        "--format",
        "json",
    ]);
    let got = findings(&o);
    assert!(
        got.contains("warning config-missing /etc/containerd/config.toml"),
        "{got:?}"
    );
    // The same node on 2.1 (empty default): hosts.toml simply not read.
    fs::write(root.join("etc/containerd/config.toml"), "version = 3\n").unwrap();
    let o = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "2.1",
        "--format",
        "json",
    ]);
    let got = findings(&o);
    assert!(
        got.contains("warning config-path-unset /etc/containerd/config.toml"),
        "{got:?}"
    );
    assert_eq!(o.status.code(), Some(1));
    let missing = regtrust(&["doctor", "--root", "/nonexistent-root", "--format", "json"]);
    assert_eq!(
        missing.status.code(),
        Some(3),
        "no version, no config: the node could not be read"
    );
}

/// A hosts.toml that names a CA file the node does not have (as `import k3s` of a k3s
/// `ca_file` gives): doctor reports it (it is not "no problems found"), and apply warns; once the
/// file is there, both are quiet.
#[test]
fn ca_and_client_files_missing_on_the_node_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), "version = 2\n").unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: harbor.corp.example\n    ca: /etc/ssl/certs/harbor-ca.crt\n    client:\n      cert: /etc/ssl/harbor.cert\n      key: /etc/ssl/harbor.key\n",
    )
    .unwrap();
    let apply = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "1.7",
    ]);
    assert!(apply.status.success());
    let out = String::from_utf8_lossy(&apply.stdout).to_string();
    for f in ["harbor-ca.crt", "harbor.cert", "harbor.key"] {
        assert!(
            out.contains(&format!(
                "/etc/ssl/{}",
                if f.ends_with(".crt") {
                    format!("certs/{f}")
                } else {
                    f.to_string()
                }
            )) && out.contains("does not exist or cannot be read"),
            "{f}: {out}"
        );
    }
    let doctor = |root: &std::path::Path| {
        regtrust(&[
            "doctor",
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            "1.7",
            "--format",
            "json",
        ])
    };
    let o = doctor(&root);
    let got = findings(&o);
    let hosts = "/etc/containerd/certs.d/harbor.corp.example/hosts.toml";
    assert!(
        got.iter()
            .any(|f| f.starts_with(&format!("error tls-file-missing {hosts}"))),
        "{got:?}"
    );
    assert_eq!(o.status.code(), Some(1));
    fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
    for f in [
        "etc/ssl/certs/harbor-ca.crt",
        "etc/ssl/harbor.cert",
        "etc/ssl/harbor.key",
    ] {
        fs::write(root.join(f), "x").unwrap();
    }
    let got = findings(&doctor(&root));
    assert!(
        !got.iter().any(|f| f.contains("tls-file-missing")),
        "{got:?}"
    );
}

/// `doctor --probe` on loopback only: an endpoint that does not answer is a problem (not "no
/// problems found"); a mirror endpoint written https:// for a server that speaks plain HTTP gets
/// a fix naming that endpoint's own URL (not the registry's `http: true`); a registry named only
/// by `--image` is probed too; the skipped CRI check (no socket) is said.
#[test]
fn probe_reports_unreachable_endpoints_and_fixes_the_right_setting() {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    // A plain-HTTP server on loopback that answers anything with an HTTP response.
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let http_port = http.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in http.incoming().take(16).flatten() {
            let mut s = s;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    // A port that nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Every name here is a loopback address: nothing the probe does leaves the machine.
    let dir_name = format!("127.0.0.1:{closed_port}");
    fs::create_dir_all(root.join(format!("etc/containerd/certs.d/{dir_name}"))).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n",
    )
    .unwrap();
    fs::write(
        root.join(format!("etc/containerd/certs.d/{dir_name}/hosts.toml")),
        format!("server = \"https://127.0.0.1:{closed_port}\"\n[host.\"https://127.0.0.1:{http_port}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"),
    )
    .unwrap();
    // An image of a registry with no hosts.toml, on another unused loopback port.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    drop(other);
    let o = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "1.7",
        "--probe",
        "--image",
        &format!("127.0.0.1:{other_port}/app:1"),
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let find = |code: &str| {
        findings
            .iter()
            .find(|f| f["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {report:#}"))
    };
    let mirror = find("https-to-http-registry");
    assert!(
        mirror["help"]
            .as_str()
            .unwrap()
            .contains(&format!("`url: http://127.0.0.1:{http_port}`")),
        "{mirror:#}"
    );
    let unreachable: Vec<String> = findings
        .iter()
        .filter(|f| f["code"] == "endpoint-unreachable")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    // The hosts.toml's server, and the --image registry that has no hosts.toml.
    for port in [closed_port, other_port] {
        assert!(
            unreachable
                .iter()
                .any(|m| m.contains(&format!("127.0.0.1:{port} "))),
            "{port}: {unreachable:#?}"
        );
    }
    assert_eq!(o.status.code(), Some(1));
    let probes = report["probes"].to_string();
    assert!(probes.contains("CRI check skipped"), "{probes}");
}

/// Every code doctor can report is expected by at least one case of the corpus (whose behaviour
/// the real suite checks against real containerd), or is listed here with where it is proven.
#[test]
fn every_doctor_code_fires_in_the_corpus() {
    use std::collections::BTreeSet;
    let root = crate::support::manifest_dir();
    // The codes doctor's sources emit.
    let mut emitted = BTreeSet::new();
    for f in fs::read_dir(root.join("src/doctor")).unwrap().flatten() {
        let text = fs::read_to_string(f.path()).unwrap();
        for part in text.split("Code::").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            emitted.insert(name);
        }
    }
    let diag = fs::read_to_string(root.join("src/diag.rs")).unwrap();
    let kebab = |name: &str| -> String {
        let at = diag
            .find(&format!("    {name} = \""))
            .unwrap_or_else(|| panic!("{name} not in src/diag.rs"));
        let rest = &diag[at..];
        rest.split('"').nth(1).unwrap().to_string()
    };
    let expected: BTreeSet<String> = cases()
        .iter()
        .flat_map(|c| c.expected.iter())
        .filter_map(|f| f.split(' ').nth(1).map(str::to_string))
        .collect();
    // Proven elsewhere, and why not in the corpus.
    let elsewhere = [
        // Needs containerd 2.2+ (not installed here): `doctor_flags_the_2_2_default_list` above.
        "config-path-default-list",
        // Needs containerd older than 1.6.17: `default_dir_needs_1_6_17` below.
        "default-dir-unsupported",
        // Asked of a running containerd: the real corpus test checks it on every `cri-down` case.
        "cri-not-loaded",
        // Needs a TLS registry: the real `image_resolution_and_probe_against_real_registries`.
        "tls-certificate-rejected",
        // Credentials (file modes, no secret printed):
        // `doctor_reports_credential_problems_without_printing_them` below.
        "credentials-readable",
        "config-auth-deprecated",
        "credentials-not-for-mirror",
        // `--probe` with credentials: `probe_tries_the_nodes_credentials` below (a loopback
        // registry), and against real docker-registry token auth in tests/real/auth_token.rs.
        "credentials-missing",
        "credentials-rejected",
        "header-cannot-do-token",
        // containers-image (no containerd behaviour to check): the shapes in
        // tests/fast/podman_doctor.rs, what Podman does with each in the real
        // `podman::doctor_findings_are_what_podman_does`.
        "containers-conf-invalid",
        "containers-conf-mixed",
        "containers-drop-in-v1",
        "containers-conf-v1",
        "containers-http-not-insecure",
        "containers-cert-ignored",
        "containers-client-pair-incomplete",
        // Docker Engine (the corpus runner starts containerd): `docker::doctor_checks_docker_
        // against_the_spec_and_certs_d` (fast), and tests/real/docker.rs, where dockerd itself
        // refuses, ignores or takes the same files.
        "docker-config-invalid",
        "docker-insecure-missing",
        "docker-mirror-not-hub",
        "docker-certs-dir-is-url",
        "docker-ca-not-crt",
        "docker-client-pair-incomplete",
        "docker-hosts-toml-ignored",
    ];
    let missing: Vec<String> = emitted
        .iter()
        .map(|n| kebab(n))
        .filter(|k| !expected.contains(k) && !elsewhere.contains(&k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "doctor codes no corpus case expects: {missing:?}"
    );
}

/// `_default` needs containerd 1.6.17+ (no older binary is installed here, so this is doctor's
/// reading of the version alone).
#[test]
fn default_dir_needs_1_6_17() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("etc/containerd/certs.d/_default")).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/containerd/certs.d/_default/hosts.toml"),
        "[host.\"https://mirror.example\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
    )
    .unwrap();
    let doctor = |v: &str| {
        findings(&regtrust(&[
            "doctor",
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            v,
            "--format",
            "json",
        ]))
    };
    assert!(
        doctor("1.6.16")
            .contains("error default-dir-unsupported /etc/containerd/certs.d/_default/hosts.toml"),
        "{:?}",
        doctor("1.6.16")
    );
    assert!(
        !doctor("1.6.17")
            .iter()
            .any(|f| f.contains("default-dir-unsupported"))
    );
}

/// Credentials: config.toml and a hosts.toml holding them while others can read the file
/// (`credentials-readable`), `configs.*.auth` on 2.x (`config-auth-deprecated`), credentials for
/// the upstream while pulls go first to a mirror that has none (`credentials-not-for-mirror`);
/// none of them once the files are 0600, the mirror has its own and the version is 1.x. No
/// secret in doctor's output.
#[test]
fn doctor_reports_credential_problems_without_printing_them() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let certs = root.join("etc/containerd/certs.d");
    fs::create_dir_all(certs.join("reg.example:5000")).unwrap();
    fs::create_dir_all(certs.join("hdr.example")).unwrap();
    let cfg = root.join("etc/containerd/config.toml");
    fs::write(
        &cfg,
        "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"reg.example:5000\".auth]\n  username = \"alice\"\n  password = \"doc-Secret-5Jx\"\n",
    )
    .unwrap();
    let reg_hosts = certs.join("reg.example:5000/hosts.toml");
    fs::write(
        &reg_hosts,
        "server = \"https://reg.example:5000\"\n\n[host.\"https://mirror.example:5001\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
    )
    .unwrap();
    let hdr_hosts = certs.join("hdr.example/hosts.toml");
    fs::write(
        &hdr_hosts,
        "server = \"https://hdr.example\"\n\n[host.\"https://hdr.example\"]\n  [host.\"https://hdr.example\".header]\n    Authorization = \"Basic Ym9iOmRvYy1Ib3N0cy03Wnc=\"\n",
    )
    .unwrap();
    for f in [&cfg, &reg_hosts, &hdr_hosts] {
        fs::set_permissions(f, fs::Permissions::from_mode(0o644)).unwrap();
    }
    let doctor = |version: &str| {
        let o = regtrust(&[
            "doctor",
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            version,
            "--format",
            "json",
        ]);
        let out =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        for s in ["doc-Secret-5Jx", "Ym9iOmRvYy1Ib3N0cy03Wnc="] {
            assert!(!out.contains(s), "doctor printed {s}: {out}");
        }
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let codes: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["code"].as_str().unwrap().to_string(),
                    f["file"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (o.status.code(), codes)
    };
    let (code, found) = doctor("2.1");
    let has = |c: &str, file: &str| found.iter().any(|(k, f)| k == c && f.ends_with(file));
    assert!(has("credentials-readable", "config.toml"), "{found:?}");
    assert!(
        has("credentials-readable", "hdr.example/hosts.toml"),
        "{found:?}"
    );
    assert!(
        !has("credentials-readable", "reg.example:5000/hosts.toml"),
        "{found:?}"
    );
    assert!(has("config-auth-deprecated", "config.toml"), "{found:?}");
    assert!(
        has("credentials-not-for-mirror", "config.toml"),
        "{found:?}"
    );
    assert_eq!(code, Some(1));
    // Fixed: 0600 files, the mirror with its own credentials, containerd 1.7.
    for f in [&cfg, &hdr_hosts] {
        fs::set_permissions(f, fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"mirror.example:5001\".auth]\n  username = \"bob\"\n  password = \"doc-Mirror-8Kd\"\n");
    fs::write(&cfg, text).unwrap();
    let (code, found) = doctor("1.7");
    assert!(
        !found
            .iter()
            .any(|(c, _)| c.starts_with("credentials") || c.starts_with("config-auth")),
        "{found:?}"
    );
    assert_eq!(code, Some(0), "{found:?}");
}

/// A loopback registry that wants credentials: `GET /v2/` answers 401 with a Basic challenge
/// unless the request carries `Authorization: <good>`; with `bearer`, the challenge is Bearer
/// and the realm (`/token` on the same server) grants a token only to `<good>`. Returns its port.
fn login_registry(good: &'static str, bearer: bool) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            // A TLS ClientHello (the probe's first question) gets a plain-HTTP 400, as
            // docker-registry answers.
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
                if !req.starts_with(b"GET") {
                    break;
                }
            }
            if !req.starts_with(b"GET") {
                let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                continue;
            }
            let text = String::from_utf8_lossy(&req).to_string();
            let first = text.lines().next().unwrap_or("").to_string();
            let auth = text
                .lines()
                .find_map(|h| h.strip_prefix("Authorization: "))
                .unwrap_or("")
                .trim()
                .to_string();
            let path = first.split(' ').nth(1).unwrap_or("").to_string();
            let ok = auth == good;
            let reply = if path.starts_with("/token") {
                if ok {
                    "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"token\":\"t1\"}\n".to_string()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_string()
                }
            } else if bearer {
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"svc\"\r\nContent-Length: 0\r\n\r\n"
                )
            } else if ok {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}".to_string()
            } else {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n".to_string()
            };
            let _ = s.write_all(reply.as_bytes());
        }
    });
    port
}

/// `doctor --probe` tries the node's credentials: accepted or refused (`credentials-rejected`),
/// by the registry (Basic) or its token service (Bearer); a header for a token registry on
/// containerd before 2.1 (`header-cannot-do-token`), not on 2.1; a registry that asks for a
/// login the node does not have (`credentials-missing`). Nothing printed carries a credential.
/// (Against real docker-registry token auth: tests/real/auth_token.rs.)
#[test]
fn probe_tries_the_nodes_credentials() {
    use std::os::unix::fs::PermissionsExt;
    const GOOD: &str = "Basic YWxpY2U6cHJvYmUtR29vZC0x"; // alice:probe-Good-1
    const WRONG: &str = "Basic YWxpY2U6cHJvYmUtV3Jvbmc="; // alice:probe-Wrong
    let basic = login_registry(GOOD, false);
    let bearer = login_registry(GOOD, true);
    let doctor = |hosts: &[(u16, Option<&str>)], configs: &[(u16, &str)], version: &str| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut cfg = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n".to_string();
        for (port, pw) in configs {
            let login = match pw.strip_prefix("identitytoken:") {
                Some(t) => format!("  identitytoken = \"{t}\"\n"),
                None => format!("  username = \"alice\"\n  password = \"{pw}\"\n"),
            };
            cfg.push_str(&format!("\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"127.0.0.1:{port}\".auth]\n{login}"));
        }
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), cfg).unwrap();
        for (port, header) in hosts {
            let d = root.join(format!("etc/containerd/certs.d/127.0.0.1:{port}"));
            fs::create_dir_all(&d).unwrap();
            let mut t = format!(
                "server = \"http://127.0.0.1:{port}\"\n\n[host.\"http://127.0.0.1:{port}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
            );
            if let Some(h) = header {
                t.push_str(&format!(
                    "  [host.\"http://127.0.0.1:{port}\".header]\n    Authorization = [\"{h}\"]\n"
                ));
            }
            fs::write(d.join("hosts.toml"), t).unwrap();
        }
        for f in walk(root) {
            fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let o = regtrust(&[
            "doctor",
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            version,
            "--probe",
            "--format",
            "json",
        ]);
        let out =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        for s in [
            "YWxpY2U6cHJvYmUtR29vZC0x",
            "YWxpY2U6cHJvYmUtV3Jvbmc=",
            "probe-Good-1",
            "probe-Wrong",
            "probe-idt-1",
            "OnByb2JlLWlkdC0x",
        ] {
            assert!(!out.contains(s), "doctor printed {s}: {out}");
        }
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let codes: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        let verdicts: Vec<String> = v["probes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["verdict"].as_str().unwrap().to_string())
            .collect();
        (codes, verdicts)
    };
    let has = |c: &[String], code: &str| c.iter().any(|x| x == code);
    // Basic with the right header: accepted; a wrong one: refused.
    let (c, v) = doctor(&[(basic, Some(GOOD))], &[], "1.7");
    assert!(
        !has(&c, "credentials-rejected")
            && v.iter().any(
                |x| x.contains("Basic credentials; the ones in hosts.toml header are accepted")
            ),
        "{c:?} {v:?}"
    );
    let (c, _) = doctor(&[(basic, Some(WRONG))], &[], "1.7");
    assert!(has(&c, "credentials-rejected"), "{c:?}");
    // Bearer with a header: the token service accepts it, but 1.7 would not send it.
    let (c, v) = doctor(&[(bearer, Some(GOOD))], &[], "1.7");
    assert!(
        has(&c, "header-cannot-do-token")
            && v.iter()
                .any(|x| x.contains("accepted by the token service")),
        "{c:?} {v:?}"
    );
    let (c, _) = doctor(&[(bearer, Some(GOOD))], &[], "2.1");
    assert!(
        !has(&c, "header-cannot-do-token") && !has(&c, "credentials-rejected"),
        "{c:?}"
    );
    // Bearer with config.toml's credentials: right, then wrong.
    let (c, v) = doctor(&[(bearer, None)], &[(bearer, "probe-Good-1")], "1.7");
    assert!(
        !has(&c, "credentials-rejected")
            && !has(&c, "header-cannot-do-token")
            && v.iter().any(|x| x.contains("config.toml are accepted")),
        "{c:?} {v:?}"
    );
    let (c, _) = doctor(&[(bearer, None)], &[(bearer, "probe-Wrong")], "1.7");
    assert!(has(&c, "credentials-rejected"), "{c:?}");
    // No credentials at all.
    let (c, _) = doctor(&[(basic, None)], &[], "1.7");
    assert!(has(&c, "credentials-missing"), "{c:?}");
    // An identity token: this token service has no OAuth2 POST (it answers 400), so the probe
    // falls back as containerd does, the token as Basic `:token` on a GET: accepted; a wrong
    // token is refused both ways. On a Basic registry containerd cannot use one: said.
    let idt = login_registry("Basic OnByb2JlLWlkdC0x", true); // `:probe-idt-1`
    let (c, v) = doctor(&[(idt, None)], &[(idt, "identitytoken:probe-idt-1")], "1.7");
    assert!(
        !has(&c, "credentials-rejected")
            && v.iter().any(|x| {
                x.contains(
                    "the ones in config.toml (an identity token) are accepted by the token service",
                )
            }),
        "{c:?} {v:?}"
    );
    let (c, _) = doctor(&[(idt, None)], &[(idt, "identitytoken:probe-Wrong")], "1.7");
    assert!(has(&c, "credentials-rejected"), "{c:?}");
    let (c, v) = doctor(
        &[(basic, None)],
        &[(basic, "identitytoken:probe-idt-1")],
        "1.7",
    );
    assert!(
        has(&c, "credentials-missing")
            && v.iter()
                .any(|x| x.contains("(an identity token) cannot answer Basic")),
        "{c:?} {v:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
