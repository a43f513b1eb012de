//! `regtrust doctor` on a corpus of broken nodes (tests/doctor/<case>/: a root tree and
//! case.toml with the expected findings and what containerd does). For every case the diagnosis
//! is checked, then real containerd is started on the same root to check that it behaves as
//! doctor says; then `regtrust apply` fixes the node, doctor reports it clean and the pull works.
//! (The fast suite checks the diagnosis of every case that needs no probe, without containerd.)
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::doctor_corpus::{Case, apply_fixes_or_refuses, cases, copy_root, findings};
use crate::support::*;
use crate::system::*;

/// Runs regtrust inside a private mount namespace where `hosts` is /etc/hosts.
fn regtrust_ns(hosts: &Path, args: &[&str]) -> Output {
    run(
        in_namespace("mount --bind \"$E2E_HOSTS\" /etc/hosts && exec \"$0\" \"$@\"")
            .arg(regtrust_bin())
            .args(args)
            .env("E2E_HOSTS", hosts),
    )
}

fn doctor(fx: &Fixture, root: &Path, c: &Case) -> Output {
    let mut args = vec![
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        &c.containerd,
        "--format",
        "json",
    ];
    if c.probe {
        args.push("--probe");
    }
    regtrust_ns(&fx.hosts, &args)
}

/// `containerd config dump` on the root, in a namespace where it is the node's /etc/containerd.
fn config_dump(version: &str, root: &Path) -> String {
    let script = "mount --bind \"$E2E_ROOT/etc/containerd\" /etc/containerd && exec \"$E2E_BIN\" --config /etc/containerd/config.toml config dump";
    let o = run(in_namespace(script)
        .env("E2E_ROOT", root)
        .env("E2E_BIN", containerd_bin(version)));
    assert!(
        o.status.success(),
        "config dump: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `SystemdCgroup` of the runc runtime in a `config dump` (1.x and 2.x plugin names), read as
/// TOML: not a substring that could match another runtime's table.
fn runc_systemd_cgroup(dump: &str) -> Option<bool> {
    let doc: toml_edit::DocumentMut = dump.parse().expect("config dump is TOML");
    let plugins = doc.get("plugins")?;
    [
        ("io.containerd.grpc.v1.cri", &["containerd", "runtimes"][..]),
        (
            "io.containerd.cri.v1.runtime",
            &["containerd", "runtimes"][..],
        ),
    ]
    .iter()
    .find_map(|(plugin, path)| {
        let mut t = plugins.get(plugin)?;
        for k in *path {
            t = t.get(k)?;
        }
        t.get("runc")?
            .get("options")?
            .get("SystemdCgroup")?
            .as_bool()
    })
}

#[test]
fn doctor_diagnoses_what_containerd_really_does() {
    let fx = Fixture::new("doctor", 110);
    let mut failures = Vec::new();
    let mut refused = Vec::new();
    for c in cases() {
        let root = fx.work.join(&c.name).join("root");
        copy_root(&c, &root, &fx.spec);

        // 1. The diagnosis.
        let o = doctor(&fx, &root, &c);
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

        // 2. What containerd really does.
        match c.behaviour.as_str() {
            "systemdcgroup-reset" => {
                let dump = config_dump(&c.containerd, &root);
                let control = fx.work.join(&c.name).join("control");
                copy_root(&c, &control, &fx.spec);
                fs::remove_dir_all(control.join("etc/containerd/conf.d")).unwrap();
                let control_dump = config_dump(&c.containerd, &control);
                if !(runc_systemd_cgroup(&dump) == Some(false)
                    && runc_systemd_cgroup(&control_dump) == Some(true))
                {
                    failures.push(format!(
                        "{}: expected the drop-in to reset SystemdCgroup",
                        c.name
                    ));
                }
            }
            "no-start" => {
                if let Ok(ctrd) = Containerd::try_start(
                    &containerd_bin(&c.containerd),
                    &root,
                    &fx.hosts,
                    &fx.work.join(&c.name).join("state"),
                ) {
                    failures.push(format!(
                        "{}: containerd started, expected it to refuse the config\n{}",
                        c.name,
                        ctrd.log_tail()
                    ));
                }
            }
            expect => {
                let ctrd = Containerd::start(
                    &containerd_bin(&c.containerd),
                    &root,
                    &fx.hosts,
                    &fx.work.join(&c.name).join("state"),
                );
                let got = ctrd.cri_pull(PRIVATE_IMAGE);
                let ok = match expect {
                    "cri-down" => got
                        .as_ref()
                        .is_err_and(|e| e.contains("unknown service runtime.v1.ImageService")),
                    "pull-fails" if !c.pull_error.is_empty() => {
                        got.as_ref().is_err_and(|e| e.contains(&c.pull_error))
                    }
                    "pull-fails" => got.as_ref().is_err_and(|e| e.contains(HTTP_ERROR)),
                    "pulls" => got.is_ok(),
                    other => panic!("{}: unknown behaviour {other}", c.name),
                };
                // doctor --probe asks the running containerd whether CRI loaded.
                let r = root.to_str().unwrap();
                let sock = ctrd.socket.to_str().unwrap();
                let p = regtrust_ns(
                    &fx.hosts,
                    &[
                        "doctor",
                        "--root",
                        r,
                        "--containerd",
                        &c.containerd,
                        "--probe",
                        "--address",
                        sock,
                        "--format",
                        "json",
                    ],
                );
                let said_down =
                    findings(&p).contains("error cri-not-loaded /etc/containerd/config.toml");
                if said_down != (expect == "cri-down") {
                    failures.push(format!(
                        "{}: doctor --probe said cri-not-loaded = {said_down}",
                        c.name
                    ));
                }
                if !ok {
                    failures.push(format!(
                        "{}: expected `{expect}`, containerd gave {got:?}\n{}",
                        c.name,
                        ctrd.log_tail()
                    ));
                }
            }
        }

        // 3. After `regtrust apply`: doctor is clean and the pull works.
        // (A refusal — exit 3, the file named, the root unchanged — is the other allowed end.)
        let fixed = fx.work.join(&c.name).join("fixed");
        copy_root(&c, &fixed, &fx.spec);
        match apply_fixes_or_refuses(&c, &fixed, &fx.spec) {
            Ok(true) => {
                let o = doctor(&fx, &fixed, &c);
                if o.status.code() != Some(0) {
                    failures.push(format!(
                        "{}: doctor after apply: {:?}",
                        c.name,
                        findings(&o)
                    ));
                }
                let ctrd = Containerd::start(
                    &containerd_bin(&c.containerd),
                    &fixed,
                    &fx.hosts,
                    &fx.work.join(&c.name).join("state-fixed"),
                );
                if let Err(e) = ctrd.cri_pull(PRIVATE_IMAGE) {
                    failures.push(format!("{}: pull after apply: {e}", c.name));
                }
                if c.name == "v2-file-2x-names-2.1" {
                    // What containerd really loaded: config_path and the file's own headers,
                    // both in the 2.x registry table.
                    let dump: toml_edit::DocumentMut =
                        config_dump(&c.containerd, &fixed).parse().unwrap();
                    let reg = &dump["plugins"]["io.containerd.cri.v1.images"]["registry"];
                    if reg["config_path"].as_str() != Some("/etc/containerd/certs.d")
                        || reg["headers"]["X-Node-Pool"].as_array().is_none()
                    {
                        failures.push(format!(
                            "{}: after apply containerd loaded registry = {reg}",
                            c.name
                        ));
                    }
                }
                if c.behaviour == "systemdcgroup-reset" {
                    // The drop-in no longer resets the main file's runc options.
                    let dump = config_dump(&c.containerd, &fixed);
                    if runc_systemd_cgroup(&dump) != Some(true) {
                        failures.push(format!(
                            "{}: after apply, runc's SystemdCgroup is {:?}",
                            c.name,
                            runc_systemd_cgroup(&dump)
                        ));
                    }
                }
            }
            Ok(false) => refused.push(c.name.clone()),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Refusing is for what apply cannot decide for the user: a config containerd itself refuses
    // (invalid TOML, here or in a drop-in), a version 1 file on 2.x, a URL-named host directory.
    assert_eq!(
        refused,
        [
            "config-invalid-toml-1.7",
            "config-version-1-2.1",
            "import-invalid-toml-2.1",
            "url-as-directory-1.7"
        ],
        "cases apply refused"
    );
}

#[test]
fn image_resolution_and_probe_against_real_registries() {
    let fx = Fixture::new("doctor-probe", 140);
    let root = fx.work.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), "version = 2\n").unwrap();
    let spec = fx.spec.to_str().unwrap();
    assert!(
        regtrust(&[
            "apply",
            "--spec",
            spec,
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            "1.7"
        ])
        .status
        .success()
    );

    // An HTTPS registry with a certificate from a CA made here, for the probe.
    let secure = loopback_ip(143);
    let tls = fx.work.join("tls");
    fs::create_dir_all(&tls).unwrap();
    let openssl = |args: &[&str]| {
        let o = run(Command::new("openssl").current_dir(&tls).args(args));
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=regtrust test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=secure.corp.example",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    fs::write(
        tls.join("san.ext"),
        "subjectAltName=DNS:secure.corp.example,DNS:secure2.corp.example,DNS:secure3.corp.example\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "cert.pem",
    ]);
    fs::write(
        tls.join("config.yml"),
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {secure}:5000\n  tls:\n    certificate: {}\n    key: {}\n",
            tls.join("data").display(),
            tls.join("cert.pem").display(),
            tls.join("key.pem").display()
        ),
    )
    .unwrap();
    /// Kills the HTTPS registry even when an assertion fails.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let log = tls.join("registry.log");
    let logf = fs::File::create(&log).unwrap();
    let mut reg = Killed(
        Command::new("docker-registry")
            .arg("serve")
            .arg(tls.join("config.yml"))
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .unwrap(),
    );
    let ca_file = tls.join("ca.pem");
    wait_for_v2(
        &mut reg.0,
        &format!("https://{secure}:5000"),
        &["--ca", ca_file.to_str().unwrap()],
        &log,
    );
    let hosts = fx.work.join("hosts-probe");
    let names = "secure.corp.example secure2.corp.example secure3.corp.example";
    // Docker Hub (nginx:1's registry) is named on a loopback address where nothing listens: the
    // probe finds it unreachable without any traffic leaving the machine.
    fs::write(
        &hosts,
        format!(
            "{}{secure} {names}\n{} registry-1.docker.io\n",
            fs::read_to_string(&fx.hosts).unwrap(),
            loopback_ip(199)
        ),
    )
    .unwrap();
    let host_dir = |name: &str, extra: &str| {
        let dir = root.join(format!("etc/containerd/certs.d/{name}:5000"));
        fs::create_dir_all(&dir).unwrap();
        let toml = format!(
            "server = \"https://{name}:5000\"\n\n[host.\"https://{name}:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n{extra}"
        );
        fs::write(dir.join("hosts.toml"), toml).unwrap();
    };
    // skip_verify without the CA: accepted, and the probe says why.
    host_dir("secure.corp.example", "  skip_verify = true\n");
    // The CA as a node path: verified.
    fs::create_dir_all(root.join("etc/pki")).unwrap();
    fs::copy(
        tls.join("ca.pem"),
        root.join("etc/pki/regtrust-test-ca.pem"),
    )
    .unwrap();
    host_dir(
        "secure3.corp.example",
        "  ca = \"/etc/pki/regtrust-test-ca.pem\"\n",
    );

    let r = root.to_str().unwrap();
    let o = regtrust_ns(
        &hosts,
        &[
            "doctor",
            "--root",
            r,
            "--containerd",
            "1.7",
            "--probe",
            "--image",
            PRIVATE_IMAGE,
            "--image",
            MIRRORED_IMAGE,
            "--image",
            "nginx:1",
            "--format",
            "json",
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The one problem: nginx:1's registry (Docker Hub) cannot be reached from this sandbox, and
    // an unreachable endpoint is a problem, not "no problems found".
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["endpoint-unreachable"],
        "{}",
        serde_json::to_string_pretty(&report).unwrap()
    );
    assert!(
        report["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("https://registry-1.docker.io"),
        "{}",
        report["findings"]
    );
    assert_eq!(o.status.code(), Some(1));
    let images = report["images"].as_array().unwrap();
    let urls = |i: usize| -> Vec<String> {
        images[i]["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["url"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        urls(0),
        [
            "http://my.private.registry:5000",
            "http://my.private.registry:5000"
        ]
    );
    assert_eq!(
        urls(1),
        [
            "http://cache.corp.example:5000",
            "http://cache.corp.example:5000"
        ],
        "fallback: false: the last endpoint is also the server, the upstream is left out"
    );
    assert_eq!(urls(2), ["https://registry-1.docker.io"]);
    let probe = |endpoint: &str| -> (String, String) {
        report["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["endpoint"] == endpoint)
            .map(|p| {
                (
                    p["speaks"].as_str().unwrap().to_string(),
                    p["verdict"].as_str().unwrap().to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no probe of {endpoint}: {}", report["probes"]))
    };
    assert_eq!(probe("my.private.registry:5000").0, "plain-http");
    assert!(
        probe("my.private.registry:5000")
            .1
            .contains("GET /v2/ answers `HTTP/1.1 200 OK`"),
        "{:?}",
        probe("my.private.registry:5000")
    );
    assert_eq!(probe("cache.corp.example:5000").0, "plain-http");
    assert_eq!(probe("secure.corp.example:5000").0, "tls");
    assert_eq!(
        probe("https://secure3.corp.example:5000").1,
        "certificate verified"
    );
    assert!(
        probe("https://secure.corp.example:5000")
            .1
            .contains("accepted only because of skip_verify")
    );

    let text = regtrust_ns(
        &hosts,
        &[
            "doctor",
            "--root",
            r,
            "--containerd",
            "1.7",
            "--image",
            PRIVATE_IMAGE,
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("1. http://my.private.registry:5000: plain HTTP"),
        "{text}"
    );

    // Without the CA and without skip_verify: containerd would reject the certificate.
    host_dir("secure2.corp.example", "");
    let o = regtrust_ns(
        &hosts,
        &[
            "doctor",
            "--root",
            r,
            "--containerd",
            "1.7",
            "--probe",
            "--format",
            "json",
        ],
    );
    drop(reg);
    assert_eq!(o.status.code(), Some(1));
    let got = findings(&o);
    let rejected = "error tls-certificate-rejected /etc/containerd/certs.d/secure2.corp.example:5000/hosts.toml";
    assert!(got.contains(rejected), "{got:?}");
}

/// The popular recipe (`insecure_skip_verify` for a registry that speaks only plain HTTP) through
/// `migrate` and `import k3s`: they ask the registry (inside a namespace whose /etc/hosts names
/// it), write `http: true`, and the node pulls after `apply`. The negative control: the same with
/// `--no-probe` keeps `skip_verify`, warns, and the pull fails with the HTTP error.
#[test]
fn migrate_and_import_k3s_then_apply_pull() {
    let fx = Fixture::new("migrate", 130);
    let legacy = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors]\n    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"legacy.corp.example:5000\"]\n      endpoint = [\"http://cache.corp.example:5000\"]\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"my.private.registry:5000\".tls]\n    insecure_skip_verify = true\n";
    let k3s = "mirrors:\n  legacy.corp.example:5000:\n    endpoint:\n      - http://cache.corp.example:5000\nconfigs:\n  my.private.registry:5000:\n    tls:\n      insecure_skip_verify: true\n    auth:\n      username: robot\n      password: secret\n";
    let cases = [
        ("1.7", "migrate", true),
        ("2.1", "migrate", true),
        ("1.7", "k3s", true),
        ("2.1", "k3s", true),
        ("2.1", "migrate", false),
        ("1.7", "k3s", false),
    ];
    for (version, source, probe) in cases {
        let name = format!(
            "{source}-{version}-{}",
            if probe { "probe" } else { "no-probe" }
        );
        let dir = fx.work.join(&name);
        let root = dir.join("root");
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), legacy).unwrap();
        let spec = dir.join("spec.yaml");
        let yaml = dir.join("registries.yaml");
        fs::write(&yaml, k3s).unwrap();
        let (root_s, spec_s, yaml_s) = (
            root.to_str().unwrap(),
            spec.to_str().unwrap(),
            yaml.to_str().unwrap(),
        );
        let mut args = if source == "migrate" {
            vec!["migrate", "--root", root_s, "--emit-spec", spec_s]
        } else {
            vec!["import", "k3s", yaml_s, "--emit-spec", spec_s]
        };
        if !probe {
            args.push("--no-probe");
        }
        let o = regtrust_ns(&fx.hosts, &args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "{name}: {err}");
        if source == "k3s" {
            // The credentials come along in a 0600 file the spec names (never in the spec).
            assert!(
                err.contains(
                    "carried the credentials of configs.\"my.private.registry:5000\".auth"
                ),
                "{name}: {err}"
            );
            let text = fs::read_to_string(&spec).unwrap();
            assert!(
                text.contains("password_file:") && !text.contains("secret\n"),
                "{name}: {text}"
            );
        }
        let text = fs::read_to_string(&spec).unwrap();
        assert!(
            text.contains("http://cache.corp.example:5000"),
            "{name}: {text}"
        );
        if probe {
            assert!(
                err.contains("my.private.registry:5000 speaks plain HTTP")
                    && err.contains("written as `http: true` on my.private.registry:5000"),
                "{name}: the decision and why are said: {err}"
            );
            assert!(
                text.contains("http: true") && !text.contains("skip_verify"),
                "{name}: {text}"
            );
        } else {
            assert!(
                err.contains("warning: my.private.registry:5000 was not probed (--no-probe)"),
                "{name}: {err}"
            );
            assert!(
                text.contains("skip_verify: true") && !text.contains("http: true"),
                "{name}: {text}"
            );
        }
        let a = regtrust(&[
            "apply",
            "--spec",
            spec_s,
            "--root",
            root_s,
            "--containerd",
            version,
        ]);
        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
        let cfg = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
        assert!(
            !cfg.contains("endpoint") && !cfg.contains("insecure_skip_verify"),
            "{name}: legacy settings left:\n{cfg}"
        );
        // The migrated hosts are now managed by the spec.
        let hosts = fs::read_to_string(
            root.join("etc/containerd/certs.d/legacy.corp.example:5000/hosts.toml"),
        )
        .unwrap();
        assert!(hosts.starts_with("# Managed by regtrust."), "{hosts}");
        let ctrd = Containerd::start(
            &containerd_bin(version),
            &root,
            &fx.hosts,
            &dir.join("state"),
        );
        if let Err(e) = ctrd.cri_pull(LEGACY_IMAGE) {
            panic!("{name}: {LEGACY_IMAGE}: {e}\n{}", ctrd.log_tail());
        }
        match (probe, ctrd.cri_pull(PRIVATE_IMAGE)) {
            (true, Err(e)) => panic!("{name}: {PRIVATE_IMAGE}: {e}\n{}", ctrd.log_tail()),
            (false, Ok(_)) => panic!("{name}: the control pulled: the probe proves nothing"),
            (false, Err(e)) => assert!(e.contains(HTTP_ERROR), "{name}: {e}"),
            (true, Ok(_)) => {}
        }
    }
}
