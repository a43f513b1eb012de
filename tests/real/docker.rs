//! Docker Engine (Debian's docker.io, dockerd 20.10) pulling from a plain-HTTP docker-registry,
//! before and after `regtrust apply --runtime docker`, with a SIGHUP in between (what
//! `systemctl reload docker` sends); from an HTTPS registry whose CA only the spec's `ca_pem`
//! names (certs.d: works right after apply, before the reload); and from docker.io through a
//! registry mirror.
//!
//! Docker trusts every registry on 127.0.0.0/8 as insecure by default, so a loopback test proves
//! nothing. Everything runs inside a private network and mount namespace (`unshare --net
//! --mount`): the registry listens on 192.0.2.10 (TEST-NET-1), an address put on that
//! namespace's own loopback, so no packet leaves it; /etc/docker and /etc/hosts are the scratch
//! root's own (the registry is `my.private.registry`). dockerd runs with its own data root, exec
//! root, pid file and socket, without a bridge or iptables rules. The steps are in
//! tests/e2e/docker_pull.sh, which prints one `step:` line each.
use std::fs;
use std::process::Command;

use crate::support::*;
use crate::system::*;
use crate::tls_servers::Pki;

/// A daemon.json as an operator leaves it: its own log settings and an insecure registry of its
/// own, indented with four spaces. All of it must survive the edit.
const SEED: &str = r#"{
    "log-driver": "json-file",
    "log-opts": {
        "max-size": "10m",
        "max-file": "3"
    },
    "insecure-registries": ["old.registry.test:5000"]
}
"#;

const SPEC: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: docker.io
    endpoints:
      - url: http://my.private.registry:5000
  - host: secure.registry.test:5443
    ca_pem: |
";

#[test]
fn dockerd_pulls_through_what_apply_writes() {
    require_root("dockerd and a private network namespace need root");
    for tool in [
        "dockerd",
        "docker",
        "docker-registry",
        "skopeo",
        "unshare",
        "ip",
        "curl",
    ] {
        require_tool(
            tool,
            "run .ci/install-deps (as root): docker.io, docker-registry, skopeo, iproute2, curl",
        );
    }
    let work = work_dir("docker");
    let root = work.join("root");
    fs::create_dir_all(root.join("etc/docker")).unwrap();
    fs::write(root.join("etc/docker/daemon.json"), SEED).unwrap();
    fs::write(
        root.join("etc/hosts"),
        "127.0.0.1 localhost\n192.0.2.10 my.private.registry\n192.0.2.11 secure.registry.test\n",
    )
    .unwrap();
    // A CA made here, known to nothing but the spec's ca_pem.
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust docker test CA");
    let leaf = pki.leaf("secure", &ca, &["secure.registry.test"]);
    let ca_pem: String = ca
        .cert_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let spec = work.join("spec.yaml");
    fs::write(&spec, format!("{SPEC}{ca_pem}")).unwrap();
    let oci = make_image(&work, "hello from the docker test");
    // unix socket paths stop at 104 bytes: a short directory under /tmp, not the work dir.
    let sockdir = tempfile::Builder::new()
        .prefix("rtd")
        .tempdir_in("/tmp")
        .unwrap();
    let out = run(Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash"])
        .arg(manifest_dir().join("tests/e2e/docker_pull.sh"))
        .arg(regtrust_bin())
        .arg(&root)
        .arg(&oci)
        .arg(&spec)
        .arg(sockdir.path())
        .env("TLS_CERT", &leaf.cert)
        .env("TLS_KEY", &leaf.key));
    let log = text(&out);
    let dockerd_log = tail(&work.join("dockerd.log"));
    let ctx = format!("{log}\n--- dockerd.log (tail)\n{dockerd_log}");
    eprintln!("{log}");
    let step = |prefix: &str| -> String {
        log.lines()
            .find_map(|l| l.strip_prefix(&format!("step: {prefix}")))
            .unwrap_or_else(|| panic!("no `step: {prefix}` line:\n{ctx}"))
            .trim()
            .to_string()
    };
    assert_eq!(step("registry"), "200", "{ctx}");
    assert_eq!(step("tls registry"), "200", "{ctx}");
    assert_eq!(step("pushed to my.private.registry:5000"), "", "{ctx}");
    assert_eq!(step("pushed to secure.registry.test:5443"), "", "{ctx}");
    assert!(step("dockerd").starts_with("20.10"), "{ctx}");
    // The negative control: the seed's own insecure registry is read, ours is not trusted.
    let before = step("info before:");
    assert!(before.contains("old.registry.test:5000"), "{ctx}");
    assert!(!before.contains("my.private.registry"), "{ctx}");
    let failed = step("before apply:");
    assert!(
        failed.contains("server gave HTTP response to HTTPS client"),
        "without regtrust the pull must fail on HTTPS: {ctx}"
    );
    assert!(step("hub before apply:").starts_with("failed"), "{ctx}");
    assert!(
        step("tls before apply:").contains("x509: certificate signed by unknown authority"),
        "without the CA the HTTPS pull must fail verification: {ctx}"
    );
    assert_eq!(step("apply exit"), "0", "{ctx}");
    assert!(
        log.contains("apply: dockerd on that system must reload daemon.json"),
        "{ctx}"
    );
    // The CA in certs.d works at once, before any reload.
    assert_eq!(
        step("tls after apply, before the reload:"),
        "pulled",
        "{ctx}"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/docker/certs.d/secure.registry.test:5443/ca.crt"))
            .unwrap(),
        ca.cert_pem()
    );
    assert_eq!(step("reloaded"), "", "{ctx}");
    assert_eq!(step("dockerd alive after reload"), "", "{ctx}");
    let after = step("info after:");
    assert!(
        after.contains("my.private.registry:5000") && after.contains("old.registry.test:5000"),
        "{ctx}"
    );
    assert!(
        after.contains("mirrors http://my.private.registry:5000"),
        "{ctx}"
    );
    assert_eq!(step("after apply:"), "pulled", "{ctx}");
    assert_eq!(
        step("hub after apply:"),
        "pulled",
        "the docker.io mirror: {ctx}"
    );
    assert!(step("image id").starts_with("sha256:"), "{ctx}");

    // The seed's keys all survive, in their order and as written; the original is the .bak.
    let daemon = fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap();
    assert_eq!(
        daemon,
        "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"old.registry.test:5000\",\n        \"my.private.registry:5000\"\n    ],\n    \"registry-mirrors\": [\n        \"http://my.private.registry:5000\"\n    ]\n}\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/docker/daemon.json.bak")).unwrap(),
        SEED
    );
    // A second apply changes nothing.
    let again = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--runtime",
        "docker",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("nothing to do: the node matches the spec"),
        "{}",
        text(&again)
    );
}
