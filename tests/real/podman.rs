//! Podman and Skopeo pulling through what `regtrust apply --runtime podman` writes: from a
//! plain-HTTP docker-registry, from an HTTPS registry whose CA only the spec's `ca_pem` names,
//! through a `[[registry.mirror]]` for a registry name that resolves nowhere, and from a registry
//! demanding HTTP Basic credentials (auth.json).
//!
//! Everything runs inside a private network and mount namespace (`unshare --net --mount`): the
//! registries listen on 192.0.2.20-23 (TEST-NET-1) on that namespace's own loopback, so no packet
//! leaves it; /etc/containers and /etc/hosts are the scratch root's own (bind mounts), seeded
//! with this machine's packaged registries.conf and policy.json. Podman runs with its own
//! storage (`--root`, `--runroot`, vfs). The steps are in tests/e2e/podman_pull.sh.
//!
//! The first test pulls with Podman 4.3.1 and Skopeo 1.9.3 (Debian 12's, containers-image 5.23),
//! and with trixie's Podman 5.4.2 and Skopeo 1.18.0 and sid's Podman 5.8.6 and Skopeo 1.22.0
//! (measured 2026-11-26), unpacked by .ci/install-deps into podman-5.4 and podman-5.8 under the
//! e2e cache. Those need glibc 2.38 (Debian 12 has 2.36: `__isoc23_strtol`) and newer libsubid
//! and libgpgme, so each tree holds its suite's libc6 and those libraries, and
//! tests/e2e/suite_libc.sh runs the unmodified binaries with them laid over the system's in a
//! mount namespace of their own; everything else is Debian 12's.
use std::fs;
use std::process::Command;

use crate::support::*;
use crate::system::*;
use crate::tls_servers::Pki;

const SPEC: &str = "runtimes: [cri-o]
registries:
  - host: my.private.registry:5000
    http: true
  - host: unreachable.registry.test
    endpoints:
      - url: http://cache.registry.test:5000
  - host: auth.registry.test:5000
    http: true
    auth:
      username: alice
      password_file: alice.password
  - host: secure.registry.test:5443
    ca_pem: |
";

/// The newer tools: (name in the steps, tree under the e2e cache, what `--version` starts with).
const NEWER: [(&str, &str, &str); 4] = [
    ("podman-5.4", "podman-5.4", "podman version 5.4."),
    ("skopeo-1.18", "podman-5.4", "skopeo version 1.18."),
    ("podman-5.8", "podman-5.8", "podman version 5.8."),
    ("skopeo-1.22", "podman-5.8", "skopeo version 1.22."),
];

const IMAGES: [&str; 4] = [
    "my.private.registry:5000/test/hello:latest",
    "secure.registry.test:5443/test/hello:latest",
    "unreachable.registry.test/test/hello:latest",
    "auth.registry.test:5000/test/hello:latest",
];

#[test]
fn podman_and_skopeo_pull_through_what_apply_writes() {
    require_root("podman in a private network and mount namespace needs root");
    for tool in [
        "podman",
        "skopeo",
        "docker-registry",
        "htpasswd",
        "unshare",
        "ip",
        "curl",
    ] {
        require_tool(
            tool,
            "run .ci/install-deps (as root): podman, skopeo, docker-registry, apache2-utils, \
             iproute2, curl",
        );
    }
    let newer: Vec<String> = NEWER
        .iter()
        .map(|(name, tree, _)| {
            let tree = cache_dir().join(tree);
            let bin = tree.join("usr/bin").join(name.split('-').next().unwrap());
            assert!(
                bin.is_file(),
                "{name} is missing at {}: run .ci/install-deps (as root)",
                bin.display()
            );
            format!("{name}={}", tree.display())
        })
        .collect();
    let work = work_dir("podman");
    let root = work.join("root");
    fs::create_dir_all(root.join("etc/containers")).unwrap();
    // The packaged files, as a node has them; registries.conf must come out unchanged.
    let packaged = fs::read_to_string("/etc/containers/registries.conf")
        .expect("/etc/containers/registries.conf (golang-github-containers-image)");
    fs::write(root.join("etc/containers/registries.conf"), &packaged).unwrap();
    fs::copy(
        "/etc/containers/policy.json",
        root.join("etc/containers/policy.json"),
    )
    .expect("/etc/containers/policy.json (golang-github-containers-common)");
    fs::write(
        root.join("etc/hosts"),
        "127.0.0.1 localhost\n192.0.2.20 my.private.registry\n192.0.2.21 secure.registry.test\n\
         192.0.2.22 cache.registry.test\n192.0.2.23 auth.registry.test\n",
    )
    .unwrap();
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust podman test CA");
    let leaf = pki.leaf("secure", &ca, &["secure.registry.test"]);
    let ca_pem: String = ca
        .cert_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let spec = work.join("spec.yaml");
    fs::write(&spec, format!("{SPEC}{ca_pem}")).unwrap();
    let password = format!("pw-{}", std::process::id());
    fs::write(work.join("alice.password"), format!("{password}\n")).unwrap();
    let htpasswd = work.join("htpasswd");
    let o = run(Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&htpasswd)
        .args(["alice", &password]));
    assert!(o.status.success(), "{}", text(&o));
    let oci = make_image(&work, "hello from the podman test");
    let out = run(Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash"])
        .arg(manifest_dir().join("tests/e2e/podman_pull.sh"))
        .arg(regtrust_bin())
        .arg(&root)
        .arg(&oci)
        .arg(&spec)
        .env("TLS_CERT", &leaf.cert)
        .env("TLS_KEY", &leaf.key)
        .env("HTPASSWD", &htpasswd)
        .env("ALICE_PASSWORD", &password)
        .env("NEWER_TOOLS", newer.join(" ")));
    let log = text(&out);
    eprintln!("{log}");
    let step = |prefix: &str| crate::support::step(&log, prefix, &log);
    for (url, code) in [
        ("http://my.private.registry:5000/v2/", "200"),
        ("https://secure.registry.test:5443/v2/", "200"),
        ("http://cache.registry.test:5000/v2/", "200"),
        ("http://auth.registry.test:5000/v2/", "401"),
    ] {
        assert_eq!(step(&format!("up {url}")), code, "{log}");
    }
    for (name, _, version) in NEWER {
        let v = step(&format!("version {name} "));
        assert!(v.starts_with(version), "{name}: {v}\n{log}");
    }
    let tools: Vec<&str> = ["podman", "skopeo"]
        .into_iter()
        .chain(NEWER.iter().map(|(name, _, _)| *name))
        .collect();
    // Without regtrust, no tool pulls any of the four, each for its own reason.
    let why = [
        "server gave HTTP response to HTTPS client",
        "x509: certificate signed by unknown authority",
        "unreachable.registry.test",
        "server gave HTTP response to HTTPS client",
    ];
    for tool in &tools {
        for (image, why) in IMAGES.iter().zip(why) {
            let s = step(&format!("{tool} before apply {image}:"));
            assert!(
                s.starts_with("failed") && s.contains(why),
                "{tool} {image} before apply must fail with `{why}`: {s}\n{log}"
            );
        }
    }
    assert_eq!(step("apply exit"), "0", "{log}");
    assert!(
        log.contains("apply: runtimes: podman (the spec's runtimes)"),
        "{log}"
    );
    assert!(
        log.contains("apply: CRI-O on that system must reload registries.conf"),
        "{log}"
    );
    for tool in &tools {
        for image in IMAGES {
            assert_eq!(
                step(&format!("{tool} after apply {image}:")),
                "pulled",
                "{log}"
            );
        }
    }
    let denied = step("podman without the auth file auth.registry.test:5000/test/hello:latest:");
    assert!(
        denied.starts_with("failed") && denied.contains("authentication required"),
        "{denied}\n{log}"
    );
    // Every tool pulled the mirrored image from the mirror (the upstream resolves nowhere).
    let mirror_requests: usize = step("mirror requests").parse().unwrap();
    assert!(mirror_requests >= tools.len(), "{log}");
    assert_eq!(step("second apply exit"), "0", "{log}");
    assert!(
        log.contains("apply2: nothing to do: the node matches the spec"),
        "{log}"
    );
    assert!(!log.contains(&password), "the password was printed:\n{log}");

    // What is on the node: the packaged registries.conf unchanged, the drop-in, the CA, and
    // auth.json 0600 holding alice's credential.
    assert_eq!(
        fs::read_to_string(root.join("etc/containers/registries.conf")).unwrap(),
        packaged
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/containers/certs.d/secure.registry.test:5443/ca.crt"))
            .unwrap(),
        ca.cert_pem()
    );
    use std::os::unix::fs::PermissionsExt;
    let auth = root.join("etc/containers/auth.json");
    assert_eq!(
        fs::metadata(&auth).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

/// (case, files under etc/containers, image, doctor's finding, Podman's outcome).
type Case<'a> = (
    &'a str,
    Vec<(&'a str, String)>,
    &'a str,
    Option<&'a str>,
    &'a str,
);

/// Each containers-image shape doctor reports, given to real Podman 4.3.1 with a plain-HTTP and
/// an HTTPS registry at hand: doctor's code for the root, and what Podman does with it — the
/// effect each finding states. The shapes beside a correct control (the CA as `ca.crt`, the
/// registry `insecure`) pull, so each failure is the shape's.
#[test]
fn doctor_findings_are_what_podman_does() {
    require_root("podman in a private network and mount namespace needs root");
    for tool in [
        "podman",
        "skopeo",
        "docker-registry",
        "unshare",
        "ip",
        "curl",
    ] {
        require_tool(
            tool,
            "run .ci/install-deps (as root): podman, skopeo, docker-registry, iproute2, curl",
        );
    }
    let work = work_dir("podman-doctor");
    let cases = work.join("cases");
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust podman doctor CA");
    let leaf = pki.leaf("secure", &ca, &["secure.registry.test"]);
    let plain = "my.private.registry:5000/test/hello:latest";
    let secure = "secure.registry.test:5443/test/hello:latest";
    let v2_insecure = "[[registry]]\nlocation = \"my.private.registry:5000\"\ninsecure = true\n";
    let v1_insecure = "[registries.insecure]\nregistries = ['my.private.registry:5000']\n";
    let usr = "unqualified-search-registries = ['docker.io']\n";
    let table: Vec<Case> = vec![
        (
            "control-insecure",
            vec![("registries.conf.d/50-own.conf", v2_insecure.into())],
            plain,
            None,
            "pulled",
        ),
        (
            "mixed",
            vec![("registries.conf", format!("{usr}{v1_insecure}"))],
            plain,
            Some("error containers-conf-mixed /etc/containers/registries.conf"),
            "mixing sysregistry v1/v2 is not supported",
        ),
        (
            "drop-in-v1",
            vec![
                ("registries.conf", usr.into()),
                ("registries.conf.d/20-old.conf", v1_insecure.into()),
            ],
            plain,
            Some("error containers-drop-in-v1 /etc/containers/registries.conf.d/20-old.conf"),
            "registry must be in v2 format but is in v1",
        ),
        (
            "main-v1",
            vec![
                ("registries.conf", v1_insecure.into()),
                (
                    "registries.conf.d/50-own.conf",
                    "[[registry]]\nlocation = \"other.test\"\n".into(),
                ),
            ],
            plain,
            Some("warning containers-conf-v1 /etc/containers/registries.conf"),
            "pulled",
        ),
        (
            "invalid",
            vec![("registries.conf.d/30-bad.conf", "[[registry]\n".into())],
            plain,
            Some("error containers-conf-invalid /etc/containers/registries.conf.d/30-bad.conf"),
            "loading drop-in registries configuration",
        ),
        (
            "control-ca-crt",
            vec![("certs.d/secure.registry.test:5443/ca.crt", ca.cert_pem())],
            secure,
            None,
            "pulled",
        ),
        (
            "ca-pem",
            vec![("certs.d/secure.registry.test:5443/ca.pem", ca.cert_pem())],
            secure,
            Some(
                "warning containers-cert-ignored \
                 /etc/containers/certs.d/secure.registry.test:5443/ca.pem",
            ),
            "x509: certificate signed by unknown authority",
        ),
        (
            "key-alone",
            vec![
                ("certs.d/secure.registry.test:5443/ca.crt", ca.cert_pem()),
                (
                    "certs.d/secure.registry.test:5443/client.key",
                    leaf.key_pem(),
                ),
            ],
            secure,
            Some(
                "error containers-client-pair-incomplete \
                 /etc/containers/certs.d/secure.registry.test:5443/client.key",
            ),
            "missing client certificate client.cert for key client.key",
        ),
        (
            "http-not-insecure",
            vec![("registries.conf", usr.into())],
            plain,
            Some(
                "error containers-http-not-insecure \
                 /etc/containerd/certs.d/my.private.registry:5000/hosts.toml",
            ),
            "server gave HTTP response to HTTPS client",
        ),
    ];
    let policy = fs::read_to_string("/etc/containers/policy.json")
        .expect("/etc/containers/policy.json (golang-github-containers-common)");
    for (case, files, _, _, _) in &table {
        let etc = cases.join(case).join("etc/containers");
        fs::create_dir_all(&etc).unwrap();
        fs::write(etc.join("policy.json"), &policy).unwrap();
        for (p, text) in files {
            let path = etc.join(p);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }
    // containerd pulls my.private.registry over plain HTTP on this root (regtrust's hosts.toml).
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        cases.join("http-not-insecure").to_str().unwrap(),
        "--runtime",
        "containerd",
        "--containerd",
        "1.7",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    fs::write(
        cases.join("hosts"),
        "127.0.0.1 localhost\n192.0.2.30 my.private.registry\n192.0.2.31 secure.registry.test\n",
    )
    .unwrap();
    let oci = make_image(&work, "hello from the podman doctor test");
    let out = run(Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash"])
        .arg(manifest_dir().join("tests/e2e/podman_cases.sh"))
        .arg(&oci)
        .arg(&cases)
        .args(
            table
                .iter()
                .map(|(c, _, image, _, _)| format!("{c}={image}")),
        )
        .env("TLS_CERT", &leaf.cert)
        .env("TLS_KEY", &leaf.key));
    let log = text(&out);
    eprintln!("{log}");
    for (case, _, _, finding, outcome) in &table {
        let root = cases.join(case);
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
            .unwrap_or_else(|e| panic!("{case}: {e}: {}", text(&o)));
        let found: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"].as_str().unwrap().starts_with("containers-"))
            .map(|f| {
                format!(
                    "{} {} {}",
                    f["severity"].as_str().unwrap(),
                    f["code"].as_str().unwrap(),
                    f["file"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            found,
            finding.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "{case}"
        );
        let pulled = log
            .lines()
            .find_map(|l| l.strip_prefix(&format!("step: {case}: ")))
            .unwrap_or_else(|| panic!("no step for {case}:\n{log}"));
        if *outcome == "pulled" {
            assert_eq!(pulled, "pulled", "{case}\n{log}");
        } else {
            assert!(
                pulled.starts_with("failed") && pulled.contains(outcome),
                "{case}: Podman must fail with `{outcome}`: {pulled}"
            );
        }
    }
}

/// Records every call (arguments joined by spaces) in $LOG; `is-active --quiet UNIT` answers 0
/// when UNIT is in $ACTIVE (space-separated), 3 otherwise.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
: "${LOG:?}" "${ACTIVE?}"
printf '%s\n' "$*" >> "$LOG"
if [ "$1" = is-active ]; then
  for u in $ACTIVE; do [ "$u" = "$3" ] && exit 0; done
  exit 3
fi
exit 0
"#;

/// The installer with podman among the runtimes, run as on a node (no root given) in a private
/// mount namespace where scratch directories are /etc/containerd and /etc/containers and /run is
/// a tmpfs, with a recording `systemctl` first on PATH: a running crio is reloaded once when the
/// drop-in is written, not on the next run, and not when crio is not running.
#[test]
fn the_installer_reloads_a_running_crio_only_when_the_drop_in_changes() {
    require_root("a private mount namespace over /etc needs root");
    require_tool("unshare", "util-linux");
    let work = work_dir("podman-installer");
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        "runtimes: [containerd, podman]\nregistries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let o = regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
        "--target",
        "script",
        "--containerd",
        "1.7",
        "--out",
        work.join("install.sh").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let bin = work.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("systemctl"), FAKE_SYSTEMCTL).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(bin.join("systemctl"), fs::Permissions::from_mode(0o755)).unwrap();
    let run_installer = |case: &str, active: &str| -> Vec<String> {
        let etc = work.join(case);
        for d in ["containerd", "containers"] {
            fs::create_dir_all(etc.join(d)).unwrap();
        }
        let log = work.join(format!("{case}.log"));
        let _ = fs::remove_file(&log);
        let o = run(Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "set -e; mount --bind \"$E/containerd\" /etc/containerd; \
                 mount --bind \"$E/containers\" /etc/containers; mount -t tmpfs t /run; \
                 export PATH=\"$B:$PATH\"; [ \"$(command -v systemctl)\" = \"$B/systemctl\" ]; \
                 exec sh \"$S\"",
            )
            .env("E", &etc)
            .env("B", &bin)
            .env("S", work.join("install.sh"))
            .env("LOG", &log)
            .env("ACTIVE", active));
        assert!(o.status.success(), "{case}: {}", text(&o));
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("crio"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        run_installer("running", "crio containerd"),
        ["is-active --quiet crio", "reload crio"]
    );
    assert_eq!(
        run_installer("running", "crio containerd"),
        Vec::<String>::new(),
        "a second run changes nothing"
    );
    assert_eq!(run_installer("stopped", ""), ["is-active --quiet crio"]);
    let dropin = work.join("running/containers/registries.conf.d/50-regtrust.conf");
    assert!(
        fs::read_to_string(&dropin)
            .unwrap()
            .contains("location = \"my.private.registry:5000\"\ninsecure = true\n")
    );
}

/// Every file (node path → mode, content) under `<root>/etc/containers`.
fn containers_tree(root: &std::path::Path) -> std::collections::BTreeMap<String, (u32, String)> {
    use std::os::unix::fs::PermissionsExt;
    let base = root.join("etc/containers");
    snapshot(&base)
        .into_iter()
        .map(|(rel, content)| {
            let mode = fs::metadata(base.join(&rel)).unwrap().permissions().mode() & 0o777;
            (format!("/etc/containers/{rel}"), (mode, content))
        })
        .collect()
}

/// cloud-init 22.4.2's own `write_files` module, run on `render --target cloud-init` of a spec
/// with podman among the runtimes, in a private mount namespace where scratch directories are
/// /etc/containers, /etc/containerd and /usr/local/sbin: it leaves exactly the containers-image
/// files (contents and modes) that `apply` writes, which `podman_and_skopeo_pull_through_what_apply_writes`
/// proves Podman and Skopeo pull through.
#[test]
fn cloud_init_writes_what_apply_writes_for_podman() {
    require_root("a private mount namespace needs root");
    require_tool(
        "cloud-init",
        "run .ci/install-deps (Debian package cloud-init)",
    );
    let work = work_dir("podman-cloud-init");
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust podman cloud-init CA");
    let ca_pem: String = ca
        .cert_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        format!(
            "runtimes: [containerd, podman]\ncontainerd:\n  version: \"1.7\"\nregistries:\n  \
             - host: my.private.registry:5000\n    http: true\n  - host: docker.io\n    \
             endpoints:\n      - url: http://cache.registry.test:5000\n  \
             - host: secure.registry.test:5443\n    ca_pem: |\n{ca_pem}"
        ),
    )
    .unwrap();
    let applied = work.join("applied");
    fs::create_dir_all(&applied).unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        applied.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let want = containers_tree(&applied);
    assert_eq!(want.len(), 2, "{want:#?}");
    let userdata = work.join("user-data");
    let o = regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
        "--target",
        "cloud-init",
        "--out",
        userdata.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let booted = work.join("booted");
    for d in ["etc/containers", "etc/containerd", "usr/local/sbin"] {
        fs::create_dir_all(booted.join(d)).unwrap();
    }
    let o = run(in_namespace(
        "set -e\n\
         for d in etc/containers etc/containerd usr/local/sbin; do mount --bind \"$R/$d\" \"/$d\"; done\n\
         mount -t tmpfs regtrust-e2e /var/lib\nmount -t tmpfs regtrust-e2e /run\n\
         mkdir -p /var/lib/cloud\n\
         cloud-init --file \"$U\" single --name write_files --frequency always\n",
    )
    .env("R", &booted)
    .env("U", &userdata));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(containers_tree(&booted), want, "{}", text(&o));
}
