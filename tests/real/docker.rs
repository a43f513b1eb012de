//! Docker Engine — dockerd 20.10 (Debian 12's docker.io), 26.1 (trixie) and 28.5 (sid), the
//! latter two unpacked from their .debs — pulling through the Engine API, before and after
//! `regtrust apply --runtime docker`, with a SIGHUP in between (what `systemctl reload docker`
//! sends): from a plain-HTTP docker-registry; from an HTTPS registry whose CA only the spec's
//! `ca_pem` names (certs.d: works right after apply, before the reload); from docker.io through
//! a registry mirror; and from an htpasswd registry with the credentials regtrust writes into
//! root's config.json (sent as the docker CLI sends them; dockerd itself does not read the file:
//! measured). Then a spec without the HTTP registry, the TLS registry and the credentials:
//! regtrust removes what it had added (and only that) and the pulls fail again.
//!
//! Docker trusts every registry on 127.0.0.0/8 as insecure by default, so a loopback test proves
//! nothing. Everything runs inside a private network and mount namespace (`unshare --net
//! --mount`): the registries listen on 192.0.2.10-12 (TEST-NET-1), addresses put on that
//! namespace's own loopback, so no packet leaves it; /etc/docker and /etc/hosts are scratch
//! files. One set of registries serves the three versions. Each dockerd runs with its own data
//! root, exec root, pid file and socket, the vfs storage driver, without a bridge or iptables
//! rules. The steps are in tests/e2e/docker_pull.sh, which prints one `step:` line each.
use std::fs;
use std::path::PathBuf;
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

/// root's config.json as the docker CLI leaves it after a `docker login` elsewhere.
const CONFIG_SEED: &str = "{\n\t\"auths\": {\n\t\t\"other.registry.test\": {\n\t\t\t\"auth\": \"b3RoZXI6c2VjcmV0\"\n\t\t}\n\t}\n}";

const SPEC_HEAD: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: docker.io
    endpoints:
      - url: http://my.private.registry:5000
";

const AUTH_PART: &str = "  - host: auth.registry.test:5000
    http: true
    auth:
      username: puller
      password_file: password
";

const USER: &str = "puller";
const PASSWORD: &str = "pw-for-docker-9f3";

/// The dockerd versions, and where each binary is.
fn versions() -> Vec<(&'static str, PathBuf)> {
    let mut v = vec![("20.10", PathBuf::from("/usr/sbin/dockerd"))];
    for name in ["26.1", "28.5"] {
        v.push((
            name,
            cache_dir().join(format!("docker-{name}/usr/sbin/dockerd")),
        ));
    }
    for (name, bin) in &v {
        assert!(
            bin.is_file(),
            "dockerd {name} is missing at {}: run .ci/install-deps (as root)",
            bin.display()
        );
    }
    v
}

#[test]
fn dockerd_pulls_through_what_apply_writes() {
    require_root("dockerd and a private network namespace need root");
    for tool in [
        "docker",
        "docker-registry",
        "skopeo",
        "unshare",
        "ip",
        "curl",
        "htpasswd",
    ] {
        require_tool(
            tool,
            "run .ci/install-deps (as root): docker.io, docker-registry, skopeo, iproute2, curl, \
             apache2-utils",
        );
    }
    let versions = versions();
    let work = work_dir("docker");
    fs::write(
        work.join("hosts"),
        "127.0.0.1 localhost\n192.0.2.10 my.private.registry\n192.0.2.11 secure.registry.test\n\
         192.0.2.12 auth.registry.test\n",
    )
    .unwrap();
    for (v, _) in &versions {
        let root = work.join(format!("root-{v}"));
        fs::create_dir_all(root.join("etc/docker")).unwrap();
        fs::write(root.join("etc/docker/daemon.json"), SEED).unwrap();
        fs::create_dir_all(root.join("root/.docker")).unwrap();
        fs::write(root.join("root/.docker/config.json"), CONFIG_SEED).unwrap();
    }
    // A CA made here, known to nothing but the spec's ca_pem.
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust docker test CA");
    let leaf = pki.leaf("secure", &ca, &["secure.registry.test"]);
    let ca_pem: String = ca
        .cert_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let htpasswd = work.join("htpasswd");
    let o = run(Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&htpasswd)
        .args([USER, PASSWORD]));
    assert!(o.status.success(), "htpasswd: {}", text(&o));
    fs::write(work.join("password"), format!("{PASSWORD}\n")).unwrap();
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        format!(
            "{SPEC_HEAD}{AUTH_PART}  - host: secure.registry.test:5443\n    ca_pem: |\n{ca_pem}"
        ),
    )
    .unwrap();
    // The HTTP registry, the TLS registry and the credentials leave the spec.
    let pruned = work.join("spec-pruned.yaml");
    fs::write(
        &pruned,
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://my.private.registry:5000\n",
    )
    .unwrap();
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
        .arg(&work)
        .arg(&oci)
        .arg(&spec)
        .arg(&pruned)
        .arg(sockdir.path())
        .args(
            versions
                .iter()
                .map(|(v, bin)| format!("{v}={}", bin.display())),
        )
        .env("TLS_CERT", &leaf.cert)
        .env("TLS_KEY", &leaf.key)
        .env("HTPASSWD", &htpasswd)
        .env("AUTH_USER", USER)
        .env("AUTH_PASS", PASSWORD));
    let log = text(&out);
    eprintln!("{log}");
    let dockerd_logs: String = versions
        .iter()
        .map(|(v, _)| {
            format!(
                "\n--- dockerd-{v}.log (tail)\n{}",
                tail(&work.join(format!("dockerd-{v}.log")))
            )
        })
        .collect();
    let ctx = format!("{log}{dockerd_logs}");
    // No password, and not its base64, in anything regtrust printed.
    let b64 = base64_of(&format!("{USER}:{PASSWORD}"));
    assert!(
        !log.contains(PASSWORD) && !log.contains(&b64),
        "a credential was printed: {ctx}"
    );
    let step = |prefix: &str| crate::support::step(&log, prefix, &ctx);
    const X509: &str = "x509: certificate signed by unknown authority";
    assert_eq!(
        step("registry http://my.private.registry:5000/v2/"),
        "200",
        "{ctx}"
    );
    assert_eq!(
        step("registry https://secure.registry.test:5443/v2/"),
        "200",
        "{ctx}"
    );
    assert_eq!(
        step("registry http://auth.registry.test:5000/v2/"),
        "401",
        "the htpasswd registry must demand credentials: {ctx}"
    );
    for dest in [
        "my.private.registry:5000",
        "secure.registry.test:5443",
        "auth.registry.test:5000",
    ] {
        assert_eq!(step(&format!("pushed to {dest}")), "", "{ctx}");
    }
    for (v, _) in &versions {
        let vs = |p: &str| step(&format!("[{v}] {p}"));
        assert!(vs("dockerd").starts_with(&format!("{v}.")), "{v}: {ctx}");
        // The negative controls: the seed's own insecure registry is read, ours is not trusted.
        // doctor, checking daemon.json against the spec, names the two registries dockerd
        // then refuses; after apply it finds nothing.
        assert_eq!(
            vs("doctor before apply:"),
            "docker-insecure-missing@/etc/docker/daemon.json \
             docker-insecure-missing@/etc/docker/daemon.json",
            "{v}: {ctx}"
        );
        let (insecure, mirrors) = info_lists(&vs("info before:"));
        assert_eq!(insecure, ["old.registry.test:5000"], "{v}: {ctx}");
        assert!(mirrors.is_empty(), "{v}: {ctx}");
        assert!(
            vs("before apply:").contains("server gave HTTP response to HTTPS client"),
            "{v}: without regtrust the pull must fail on HTTPS: {ctx}"
        );
        assert!(vs("hub before apply:").starts_with("failed"), "{v}: {ctx}");
        assert!(
            vs("tls before apply:").contains("x509: certificate signed by unknown authority"),
            "{v}: without the CA the HTTPS pull must fail verification: {ctx}"
        );
        assert!(
            vs("auth before apply:").contains("server gave HTTP response to HTTPS client"),
            "{v}: {ctx}"
        );
        assert_eq!(vs("apply first exit"), "0", "{v}: {ctx}");
        assert!(
            log.contains(&format!(
                "[{v}] apply first: dockerd on that system must reload daemon.json"
            )),
            "{v}: {ctx}"
        );
        // The CA in certs.d works at once, before any reload.
        assert_eq!(
            vs("tls after apply, before the reload:"),
            "pulled",
            "{v}: {ctx}"
        );
        // What doctor says about certs.d is what dockerd does with the same files.
        assert!(
            // "Missing" on 20.10, "missing" from 26.1 on.
            vs("tls with a key without its cert:")
                .to_lowercase()
                .contains("missing client certificate extra.cert for key extra.key"),
            "{v}: {ctx}"
        );
        assert_eq!(
            vs("doctor with a key without its cert:"),
            "docker-client-pair-incomplete@/etc/docker/certs.d/secure.registry.test:5443/extra.key",
            "{v}: {ctx}"
        );
        assert!(vs("tls with ca.pem:").contains(X509), "{v}: {ctx}");
        assert_eq!(
            vs("doctor with ca.pem:"),
            "docker-ca-not-crt@/etc/docker/certs.d/secure.registry.test:5443/ca.pem",
            "{v}: {ctx}"
        );
        assert!(
            vs("tls with certs.d/https://host:").contains(X509),
            "{v}: {ctx}"
        );
        assert_eq!(
            vs("doctor with certs.d/https://host:"),
            "docker-certs-dir-is-url@/etc/docker/certs.d/https:",
            "{v}: {ctx}"
        );
        assert_eq!(vs("reloaded first"), "", "{v}: {ctx}");
        assert_eq!(vs("alive after reload first"), "", "{v}: {ctx}");
        let (insecure, mirrors) = info_lists(&vs("info after:"));
        assert_eq!(
            insecure,
            [
                "auth.registry.test:5000",
                "my.private.registry:5000",
                "old.registry.test:5000"
            ],
            "{v}: {ctx}"
        );
        assert_eq!(mirrors, ["http://my.private.registry:5000/"], "{v}: {ctx}");
        assert_eq!(vs("after apply:"), "pulled", "{v}: {ctx}");
        assert_eq!(vs("hub after apply:"), "pulled", "{v}: the mirror: {ctx}");
        assert!(vs("image id").starts_with("sha256:"), "{v}: {ctx}");
        // dockerd does not read config.json: without the header the pull is refused…
        let bare = vs("auth without a header:");
        assert!(
            bare.starts_with("failed") && bare.contains("no basic auth credentials"),
            "{v}: {ctx}"
        );
        // …and with what config.json holds, sent as the CLI sends it, it pulls.
        assert_eq!(
            vs("auth with config.json's credentials:"),
            "pulled",
            "{v}: {ctx}"
        );
        assert!(
            log.contains(&format!(
                "[{v}] apply second: nothing to do: the node matches the spec"
            )),
            "{v}: a second apply must change nothing: {ctx}"
        );
        assert_eq!(vs("doctor after apply:"), "", "{v}: {ctx}");
        // Pruning: what regtrust added is gone, the operator's own entry stays.
        assert_eq!(vs("apply pruned exit"), "0", "{v}: {ctx}");
        assert_eq!(vs("reloaded pruned"), "", "{v}: {ctx}");
        let (insecure, mirrors) = info_lists(&vs("info pruned:"));
        assert_eq!(insecure, ["old.registry.test:5000"], "{v}: {ctx}");
        assert_eq!(mirrors, ["http://my.private.registry:5000/"], "{v}: {ctx}");
        assert!(
            vs("after pruning:").contains("server gave HTTP response to HTTPS client"),
            "{v}: once the entry is removed the pull fails again: {ctx}"
        );
        assert!(
            vs("tls after pruning:").contains("x509: certificate signed by unknown authority"),
            "{v}: once the CA is removed the pull fails again: {ctx}"
        );

        let root = work.join(format!("root-{v}"));
        // After the first apply: the seed's keys all survive, in their order and as written;
        // the original is the .bak.
        assert_eq!(
            fs::read_to_string(work.join(format!("daemon-{v}.json"))).unwrap(),
            "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"old.registry.test:5000\",\n        \"my.private.registry:5000\",\n        \"auth.registry.test:5000\"\n    ],\n    \"registry-mirrors\": [\n        \"http://my.private.registry:5000\"\n    ]\n}\n"
        );
        assert_eq!(
            fs::read_to_string(root.join("etc/docker/daemon.json.bak")).unwrap(),
            SEED
        );
        // After the first apply, config.json: the CLI's own login kept, regtrust's entry
        // added, mode 0600.
        assert_eq!(vs("config.json mode"), "600", "{v}: {ctx}");
        let first: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(work.join(format!("config-{v}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            first,
            serde_json::json!({"auths": {
                "other.registry.test": {"auth": "b3RoZXI6c2VjcmV0"},
                "auth.registry.test:5000": {"auth": b64},
            }}),
            "{v}"
        );
        // After pruning: only the operator's entry and the mirror the spec still has.
        assert_eq!(
            fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap(),
            "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"old.registry.test:5000\"\n    ],\n    \"registry-mirrors\": [\n        \"http://my.private.registry:5000\"\n    ]\n}\n"
        );
        assert!(
            !root
                .join("etc/docker/certs.d/secure.registry.test:5443")
                .exists(),
            "{v}: the CA's directory must be gone"
        );
        // config.json keeps the CLI's own login, and lost regtrust's entry.
        let config: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(root.join("root/.docker/config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            config,
            serde_json::json!({"auths": {"other.registry.test": {"auth": "b3RoZXI6c2VjcmV0"}}}),
            "{v}"
        );
    }
    // Debian 12's docker CLI (20.10) reads root's config.json and sends its credentials.
    assert!(
        step("[20.10] cli without config.json:").contains("no basic auth credentials"),
        "{ctx}"
    );
    assert_eq!(step("[20.10] cli with config.json:"), "pulled", "{ctx}");
}

/// engine_api.py's `info` line → (the insecure registries, sorted, without dockerd's default
/// CIDRs: 127.0.0.0/8, and ::1/128 from 28.x; the mirrors).
pub(crate) fn info_lists(line: &str) -> (Vec<String>, Vec<String>) {
    let rest = line
        .strip_prefix("insecure ")
        .unwrap_or_else(|| panic!("info: {line}"));
    let (insecure, mirrors) = rest
        .split_once("mirrors")
        .unwrap_or_else(|| panic!("info: {line}"));
    let mut insecure: Vec<String> = insecure
        .split_whitespace()
        .filter(|e| !["127.0.0.0/8", "::1/128"].contains(e))
        .map(str::to_string)
        .collect();
    insecure.sort();
    (
        insecure,
        mirrors.split_whitespace().map(str::to_string).collect(),
    )
}

fn base64_of(s: &str) -> String {
    let o = run(Command::new("sh").args(["-c", "printf %s \"$1\" | base64 -w0", "sh", s]));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The containerd image store (`"features": {"containerd-snapshotter": true}`), measured on
/// dockerd 28.5 with its own managed containerd: which registry settings dockerd still honours.
/// What regtrust writes (insecure-registries, registry-mirrors, certs.d/<host>/ca.crt) works
/// there as with the classic store, and pruning takes it away again; containerd's own
/// /etc/containerd/certs.d is not read; a hosts.toml in /etc/docker/certs.d/<host>/ is read with
/// the containerd store and ignored by the classic one. Each pull follows the deletion of the
/// image, so it fetches from the registry again. doctor's `docker` summary says the same.
#[test]
fn the_containerd_image_store_honours_what_apply_writes() {
    require_root("dockerd and a private network namespace need root");
    for tool in ["docker-registry", "skopeo", "unshare", "ip", "curl"] {
        require_tool(tool, "run .ci/install-deps (as root)");
    }
    let dockerd = cache_dir().join("docker-28.5/usr/sbin/dockerd");
    assert!(
        dockerd.is_file(),
        "dockerd 28.5 is missing at {}: run .ci/install-deps (as root)",
        dockerd.display()
    );
    let work = work_dir("docker-store");
    fs::write(
        work.join("hosts"),
        "127.0.0.1 localhost\n192.0.2.10 my.private.registry\n192.0.2.11 secure.registry.test\n",
    )
    .unwrap();
    let root = work.join("root");
    fs::create_dir_all(root.join("etc/docker")).unwrap();
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("ca", "regtrust docker store test CA");
    let leaf = pki.leaf("secure", &ca, &["secure.registry.test"]);
    let ca_pem: String = ca
        .cert_pem()
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        format!("{SPEC_HEAD}  - host: secure.registry.test:5443\n    ca_pem: |\n{ca_pem}"),
    )
    .unwrap();
    let pruned = work.join("spec-pruned.yaml");
    fs::write(&pruned, "registries: []\n").unwrap();
    let oci = make_image(&work, "hello from the containerd store test");
    let sockdir = tempfile::Builder::new()
        .prefix("rts")
        .tempdir_in("/tmp")
        .unwrap();
    let out = run(Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash"])
        .arg(manifest_dir().join("tests/e2e/docker_store.sh"))
        .arg(regtrust_bin())
        .arg(&work)
        .arg(&oci)
        .arg(&spec)
        .arg(&pruned)
        .arg(sockdir.path())
        .arg(&dockerd)
        .env("TLS_CERT", &leaf.cert)
        .env("TLS_KEY", &leaf.key));
    let log = text(&out);
    eprintln!("{log}");
    let ctx = format!(
        "{log}\n--- dockerd.log (tail)\n{}",
        tail(&work.join("dockerd.log"))
    );
    let step = |prefix: &str| crate::support::step(&log, prefix, &ctx);
    const HTTP_ERROR: &str = "server gave HTTP response to HTTPS client";
    const X509: &str = "x509: certificate signed by unknown authority";
    assert!(step("classic store").starts_with("vfs "), "{ctx}");
    assert!(
        step("classic, hosts.toml in /etc/docker/certs.d:").contains(HTTP_ERROR),
        "the classic store ignores hosts.toml: {ctx}"
    );
    assert!(
        step("containerd store").contains("io.containerd.snapshotter.v1"),
        "{ctx}"
    );
    assert!(step("store, nothing:").contains(HTTP_ERROR), "{ctx}");
    assert!(
        step("store, hosts.toml in /etc/containerd/certs.d:").contains(HTTP_ERROR),
        "containerd's own certs.d is not dockerd's: {ctx}"
    );
    assert_eq!(
        step("store, hosts.toml in /etc/docker/certs.d:"),
        "pulled",
        "{ctx}"
    );
    assert!(step("store, removed again:").contains(HTTP_ERROR), "{ctx}");
    assert!(step("store, tls before apply:").contains(X509), "{ctx}");
    assert!(
        step("store, hub before apply:").starts_with("failed"),
        "{ctx}"
    );
    assert_eq!(step("apply exit"), "0", "{ctx}");
    assert_eq!(
        step("store, tls after apply, before the reload:"),
        "pulled",
        "{ctx}"
    );
    assert_eq!(step("reloaded first"), "", "{ctx}");
    assert_eq!(step("store, after apply:"), "pulled", "{ctx}");
    assert_eq!(step("store, hub after apply:"), "pulled", "{ctx}");
    assert_eq!(step("store, tls after apply:"), "pulled", "{ctx}");
    assert_eq!(step("apply pruned exit"), "0", "{ctx}");
    assert_eq!(step("reloaded pruned"), "", "{ctx}");
    assert!(step("store, after pruning:").contains(HTTP_ERROR), "{ctx}");
    assert!(step("store, tls after pruning:").contains(X509), "{ctx}");
    // The reload emptied dockerd's lists: the emptied keys stay in the file as `[]` (with
    // the keys gone, a SIGHUP keeps the old entries: measured while building this).
    let (insecure, mirrors) = info_lists(&step("info after pruning:"));
    assert!(insecure.is_empty() && mirrors.is_empty(), "{ctx}");
    assert_eq!(
        fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap(),
        "{\n  \"features\": {\"containerd-snapshotter\": true},\n  \"insecure-registries\": [],\n  \"registry-mirrors\": []\n}\n"
    );
}
