//! HTTPS end to end (issue #14): real containerd 1.6.20, 1.7.24 and 2.1.9 pull over CRI through
//! hosts.toml files that `regtrust apply` wrote from specs using `ca_pem`, `ca` (a node path),
//! `client` (inline PEM, key written 0600; and node paths), `skip_verify`, `headers`, a mirror
//! with its own CA, `fallback: false` and `host: "*"` (`_default`). Every positive pull has a
//! negative control in the same run that fails for the stated reason (x509, no or wrong client
//! certificate, 403 without the header, the registry itself without `_default`), and which
//! server was asked is read from that server's own request log, never assumed.
//!
//! The servers (TLS docker-registries, a header-checking proxy) are started once and serve the
//! three versions in turn; hosts.toml is re-read on every pull, so each version needs a single
//! containerd start. Names exist only in containerd's namespace (its own /etc/hosts), on
//! per-process loopback addresses (`tls_servers::Net`).
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::*;
use crate::system::*;
use crate::tls_servers::*;

/// The registries as containerd knows them (its /etc/hosts maps them to `Net` addresses).
const TLS: &str = "tls.corp.example:5000";
const MTLS: &str = "mtls.corp.example:5000";
const MIRROR: &str = "mirror.corp.example:5000";
const HUB: &str = "hub.corp.example:5000";
const HDR: &str = "hdr.corp.example:5000";
/// Named on an address where nothing listens: only `_default`'s mirror can serve it.
const ELSEWHERE: &str = "elsewhere.corp.example:5000";

/// Node paths (inside containerd's namespace, /etc/containerd is the root's etc/containerd).
const NODE_PKI: &str = "/etc/containerd/test-pki";

const PROOF_HEADER: &str = "X-Regtrust-Proof";

const X509_UNKNOWN: &str = "x509: certificate signed by unknown authority";

/// Everything started once for all versions.
struct Fx {
    work: PathBuf,
    hosts: PathBuf,
    site_ca: CertFiles,
    other_ca: CertFiles,
    mirror_ca: CertFiles,
    client: CertFiles,
    stranger_client: CertFiles,
    token: String,
    servers: Vec<Server>,
}

impl Fx {
    fn new() -> Fx {
        require_e2e_prerequisites();
        let work = work_dir("https");
        let net = Net::for_test(0);
        let pki = Pki::new(&work.join("pki"));
        let site_ca = pki.ca("site-ca", "regtrust test site CA");
        // Same subject as the site CA, another key: trust must follow the key, not the name.
        let other_ca = pki.ca("other-ca", "regtrust test site CA");
        let mirror_ca = pki.ca("mirror-ca", "regtrust test mirror CA");
        let clients_ca = pki.ca("clients-ca", "regtrust test clients CA");
        let host = |a: &str| a.split(':').next().unwrap().to_string();
        let site_names = [host(TLS), host(MTLS), host(HUB), host(HDR)];
        let site_refs: Vec<&str> = site_names.iter().map(String::as_str).collect();
        let site_leaf = pki.leaf("site-server", &site_ca, &site_refs);
        let mirror_leaf = pki.leaf("mirror-server", &mirror_ca, &[&host(MIRROR)]);
        let client = pki.leaf("node-client", &clients_ca, &[]);
        let stranger_client = pki.leaf("stranger-client", &other_ca, &[]);

        let addr = |n: u8| format!("{}:5000", net.ip(n));
        let https = |ca: &CertFiles| Access {
            ca: Some(ca.cert.clone()),
            ..Access::default()
        };
        let dir = |n: &str| work.join("servers").join(n);
        let tls = Server::registry(
            &dir("tls"),
            "tls",
            &addr(1),
            Some(&site_leaf),
            None,
            https(&site_ca),
        );
        let mtls = Server::registry(
            &dir("mtls"),
            "mtls",
            &addr(2),
            Some(&site_leaf),
            Some(&clients_ca.cert),
            Access {
                client: Some(client.clone()),
                ..https(&site_ca)
            },
        );
        let mirror = Server::registry(
            &dir("mirror"),
            "mirror",
            &addr(3),
            Some(&mirror_leaf),
            None,
            https(&mirror_ca),
        );
        let hub = Server::registry(
            &dir("hub"),
            "hub",
            &addr(4),
            Some(&site_leaf),
            None,
            https(&site_ca),
        );
        let backend = Server::registry(
            &dir("backend"),
            "backend",
            &addr(6),
            None,
            None,
            Access::default(),
        );
        let token = format!(
            "proof-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let proxy = Server::header_proxy(
            &dir("hdr"),
            "hdr",
            &addr(5),
            &backend,
            &site_leaf,
            &site_ca.cert,
            (PROOF_HEADER, &token),
        );

        // One image per positive pull, so each pull fetches manifest and blobs afresh.
        let image = |repo: &str| make_image(&work.join("images").join(repo), repo);
        for (repo, to) in [
            ("ca-pem", vec![&tls]),
            ("ca-path", vec![&tls]),
            ("skip", vec![&tls]),
            ("own-dir", vec![&tls]),
            ("client-pem", vec![&mtls]),
            ("client-path", vec![&mtls]),
            ("mirrored", vec![&mirror, &hub]),
            ("only-upstream", vec![&hub]),
            ("default", vec![&mirror]),
            ("headers", vec![&backend]),
        ] {
            let layout = image(repo);
            for s in to {
                s.push(&layout, &format!("demo/{repo}:1"));
            }
        }

        let hosts = work.join("hosts");
        fs::write(
            &hosts,
            format!(
                "127.0.0.1 localhost\n{} {}\n{} {}\n{} {}\n{} {}\n{} {}\n{} {}\n",
                net.ip(1),
                host(TLS),
                net.ip(2),
                host(MTLS),
                net.ip(3),
                host(MIRROR),
                net.ip(4),
                host(HUB),
                net.ip(5),
                host(HDR),
                net.ip(7),
                host(ELSEWHERE),
            ),
        )
        .unwrap();
        Fx {
            work,
            hosts,
            site_ca,
            other_ca,
            mirror_ca,
            client,
            stranger_client,
            token,
            servers: vec![tls, mtls, mirror, hub, backend, proxy],
        }
    }
}

/// A PEM as a YAML block scalar whose lines are indented by `indent` spaces.
fn block(pem: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut s = String::from("|\n");
    for l in pem.lines() {
        s.push_str(&format!("{pad}{l}\n"));
    }
    s
}

#[derive(Debug)]
enum Expect {
    Pulls,
    /// Fails with an error containing one of these.
    Fails(&'static [&'static str]),
}

/// Evidence read from a server's own logs, between the start and the end of the pull.
enum Check {
    /// containerd fetched this repository's manifest and blobs from the server.
    Served(&'static str, &'static str),
    /// containerd asked the server for this repository's manifest (whatever the answer).
    Asked(&'static str, &'static str),
    /// Nothing reached the server: no request line, no TLS handshake.
    Silent(&'static str),
    /// The server's error log says this (e.g. why it refused a TLS handshake).
    Logged(&'static str, &'static str),
    /// Every containerd request the proxy saw carried the proof header with the right value.
    HeaderSent(&'static str),
    /// containerd asked the proxy, without the header.
    HeaderMissing(&'static str),
}

struct Case {
    name: &'static str,
    spec: String,
    image: String,
    expect: Expect,
    checks: Vec<Check>,
}

fn cases(fx: &Fx) -> Vec<Case> {
    use Check::*;
    use Expect::*;
    let site = fx.site_ca.cert_pem();
    let reg = |host: &str, body: &str| format!("  - host: {host}\n{body}");
    let spec = |regs: &[String]| format!("registries:\n{}", regs.concat());
    let tls_with = |body: &str| spec(&[reg(TLS, body)]);
    let mtls_with =
        |body: &str| spec(&[reg(MTLS, &format!("    ca_pem: {}{body}", block(&site, 6)))]);
    let hub_with = |mirror_body: &str, fallback: bool| {
        spec(&[reg(
            HUB,
            &format!(
                "    ca_pem: {}{}    endpoints:\n      - url: https://{MIRROR}\n{mirror_body}",
                block(&site, 6),
                if fallback {
                    ""
                } else {
                    "    fallback: false\n"
                },
            ),
        )])
    };
    let mirror_ca = format!("        ca_pem: {}", block(&fx.mirror_ca.cert_pem(), 10));
    let default_reg = reg(
        "\"*\"",
        &format!("    endpoints:\n      - url: https://{MIRROR}\n{mirror_ca}"),
    );
    let img = |host: &str, repo: &str| format!("{host}/demo/{repo}:1");
    let case = |name, spec, image, expect, checks| Case {
        name,
        spec,
        image,
        expect,
        checks,
    };
    const CLIENT_MISSING: &[&str] = &["certificate required", "bad certificate"];
    vec![
        // A private CA: without it, and with a wrong CA of the same name, x509 fails.
        case(
            "tls: no CA (control)",
            tls_with(""),
            img(TLS, "ca-pem"),
            Fails(&[X509_UNKNOWN]),
            vec![Logged("tls", "TLS handshake error")],
        ),
        case(
            "tls: wrong CA, same subject (control)",
            tls_with(&format!(
                "    ca_pem: {}",
                block(&fx.other_ca.cert_pem(), 6)
            )),
            img(TLS, "ca-pem"),
            Fails(&[X509_UNKNOWN]),
            vec![Logged("tls", "TLS handshake error")],
        ),
        case(
            "tls: ca_pem",
            tls_with(&format!("    ca_pem: {}", block(&site, 6))),
            img(TLS, "ca-pem"),
            Pulls,
            vec![Served("tls", "ca-pem")],
        ),
        case(
            "tls: ca (node path)",
            tls_with(&format!("    ca: {NODE_PKI}/site-ca.pem\n")),
            img(TLS, "ca-path"),
            Pulls,
            vec![Served("tls", "ca-path")],
        ),
        case(
            "tls: skip_verify",
            tls_with("    skip_verify: true\n"),
            img(TLS, "skip"),
            Pulls,
            vec![Served("tls", "skip")],
        ),
        // A registry that demands a client certificate.
        case(
            "mtls: CA but no client certificate (control)",
            mtls_with(""),
            img(MTLS, "client-pem"),
            Fails(CLIENT_MISSING),
            vec![Logged("mtls", "client didn't provide a certificate")],
        ),
        case(
            "mtls: client certificate from another CA (control)",
            mtls_with(&format!(
                "    client:\n      cert_pem: {}      key_pem: {}",
                block(&fx.stranger_client.cert_pem(), 8),
                block(&fx.stranger_client.key_pem(), 8)
            )),
            img(MTLS, "client-pem"),
            // Go's TLS client sends only a certificate the server's CA list accepts: none here.
            Fails(CLIENT_MISSING),
            vec![Logged("mtls", "client didn't provide a certificate")],
        ),
        case(
            "mtls: client cert_pem + key_pem",
            mtls_with(&format!(
                "    client:\n      cert_pem: {}      key_pem: {}",
                block(&fx.client.cert_pem(), 8),
                block(&fx.client.key_pem(), 8)
            )),
            img(MTLS, "client-pem"),
            Pulls,
            vec![Served("mtls", "client-pem")],
        ),
        case(
            "mtls: client cert + key (node paths)",
            mtls_with(&format!(
                "    client:\n      cert: {NODE_PKI}/node-client.pem\n      key: {NODE_PKI}/node-client.key\n"
            )),
            img(MTLS, "client-path"),
            Pulls,
            vec![Served("mtls", "client-path")],
        ),
        // A mirror with its own CA, in front of a listening, trusted upstream.
        case(
            "mirror: without its CA, fallback: false (control)",
            hub_with("", false),
            img(HUB, "mirrored"),
            Fails(&[X509_UNKNOWN]),
            vec![Logged("mirror", "TLS handshake error"), Silent("hub")],
        ),
        case(
            "mirror: its own CA (ca_pem), fallback: false",
            hub_with(&mirror_ca, false),
            img(HUB, "mirrored"),
            Pulls,
            vec![Served("mirror", "mirrored"), Silent("hub")],
        ),
        // fallback: false — the upstream listens and has the image; it must never be asked.
        case(
            "fallback: false, image only upstream",
            hub_with(&mirror_ca, false),
            img(HUB, "only-upstream"),
            Fails(&["not found"]),
            vec![Asked("mirror", "only-upstream"), Silent("hub")],
        ),
        case(
            "fallback: true, image only upstream (control: the upstream's log sees contact)",
            hub_with(&mirror_ca, true),
            img(HUB, "only-upstream"),
            Pulls,
            vec![
                Asked("mirror", "only-upstream"),
                Served("hub", "only-upstream"),
            ],
        ),
        // headers: a proxy that refuses requests without the header.
        case(
            "headers: none (control)",
            spec(&[reg(HDR, &format!("    ca_pem: {}", block(&site, 6)))]),
            img(HDR, "headers"),
            Fails(&["403"]),
            vec![HeaderMissing("hdr")],
        ),
        case(
            "headers",
            spec(&[reg(
                HDR,
                &format!(
                    "    ca_pem: {}    headers:\n      {PROOF_HEADER}: {}\n",
                    block(&site, 6),
                    fx.token
                ),
            )]),
            img(HDR, "headers"),
            Pulls,
            vec![HeaderSent("hdr"), Served("backend", "headers")],
        ),
        // _default: a registry without its own directory goes to the catch-all's mirror.
        case(
            "_default: absent (control)",
            spec(&[reg(TLS, "    skip_verify: true\n")]),
            img(ELSEWHERE, "default"),
            Fails(&["connection refused"]),
            vec![Silent("mirror")],
        ),
        case(
            "_default: mirror with its own CA",
            spec(std::slice::from_ref(&default_reg)),
            img(ELSEWHERE, "default"),
            Pulls,
            vec![Served("mirror", "default")],
        ),
        case(
            "_default does not apply to a registry with its own directory",
            spec(&[
                default_reg,
                reg(TLS, &format!("    ca_pem: {}", block(&site, 6))),
            ]),
            img(TLS, "own-dir"),
            Pulls,
            vec![Served("tls", "own-dir"), Silent("mirror")],
        ),
    ]
}

/// Checks one piece of evidence; `Err` says what the log shows instead.
fn check(fx: &Fx, c: &Check, windows: &[(String, Window)]) -> Result<(), String> {
    let w = |name: &str| &windows.iter().find(|(n, _)| n == name).unwrap().1;
    let manifests = |repo: &str| format!("/v2/demo/{repo}/manifests/");
    let blobs = |repo: &str| format!("/v2/demo/{repo}/blobs/");
    let asked = |name: &str, what: &str| {
        w(name)
            .containerd_requests()
            .iter()
            .any(|l| l.contains(what))
    };
    let show = |name: &str| format!("{name} logged: {:#?} {}", w(name).requests, w(name).errors);
    let ok = match c {
        Check::Served(s, repo) => asked(s, &manifests(repo)) && asked(s, &blobs(repo)),
        Check::Asked(s, repo) => asked(s, &manifests(repo)),
        Check::Silent(s) => w(s).requests.is_empty() && !w(s).errors.contains("TLS handshake"),
        Check::Logged(s, what) => w(s).errors.contains(what),
        Check::HeaderSent(s) => {
            let reqs = w(s).containerd_requests();
            let proof = format!(" header={} ", fx.token);
            !reqs.is_empty()
                && reqs.iter().any(|l| l.contains("/manifests/"))
                && reqs.iter().all(|l| l.contains(&proof))
        }
        Check::HeaderMissing(s) => {
            let reqs = w(s).containerd_requests();
            !reqs.is_empty() && reqs.iter().all(|l| l.contains(" header=- "))
        }
    };
    let name = match c {
        Check::Served(s, _)
        | Check::Asked(s, _)
        | Check::Silent(s)
        | Check::Logged(s, _)
        | Check::HeaderSent(s)
        | Check::HeaderMissing(s) => s,
    };
    if ok { Ok(()) } else { Err(show(name)) }
}

fn describe(c: &Check) -> String {
    match c {
        Check::Served(s, r) => format!("{s} served demo/{r} (manifest and blobs) to containerd"),
        Check::Asked(s, r) => format!("containerd asked {s} for demo/{r}"),
        Check::Silent(s) => format!("{s} was never contacted"),
        Check::Logged(s, w) => format!("{s}'s log says `{w}`"),
        Check::HeaderSent(s) => format!("every containerd request to {s} carried the header"),
        Check::HeaderMissing(s) => format!("containerd asked {s} without the header"),
    }
}

/// Runs every case on one containerd version; returns the failures.
fn on_version(fx: &Fx, version: &str) -> Vec<String> {
    let dir = fx.work.join(format!("containerd-{version}"));
    let root = dir.join("root");
    let etc = root.join("etc/containerd");
    fs::create_dir_all(etc.join("test-pki")).unwrap();
    let short = &version[..3];
    fs::write(etc.join("config.toml"), default_config(short)).unwrap();
    for (f, to, mode) in [
        (&fx.site_ca.cert, "site-ca.pem", 0o644),
        (&fx.client.cert, "node-client.pem", 0o644),
        (&fx.client.key, "node-client.key", 0o600),
    ] {
        let p = etc.join("test-pki").join(to);
        fs::copy(f, &p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    let spec_path = dir.join("spec.yaml");
    let apply = |spec: &str| {
        fs::write(&spec_path, spec).unwrap();
        regtrust(&[
            "apply",
            "--spec",
            spec_path.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            version,
        ])
    };
    let all = cases(fx);
    // The first apply sets config_path; containerd reads config.toml only at start.
    let first = apply(&all[0].spec);
    assert!(first.status.success(), "{version}: apply: {}", text(&first));
    let config = fs::read_to_string(etc.join("config.toml")).unwrap();
    assert_eq!(
        config_path_of(&config).as_deref(),
        Some("/etc/containerd/certs.d"),
        "{config}"
    );
    let ctrd = Containerd::start(&containerd_bin(short), &root, &fx.hosts, &dir.join("state"));

    let mut failures = Vec::new();
    for c in &all {
        let o = apply(&c.spec);
        assert!(
            o.status.success(),
            "{version} {}: apply failed: {}\nspec:\n{}",
            c.name,
            text(&o),
            c.spec
        );
        assert_eq!(
            fs::read_to_string(etc.join("config.toml")).unwrap(),
            config,
            "{version} {}: config.toml changed (containerd would need a restart)",
            c.name
        );
        let marks: Vec<_> = fx.servers.iter().map(|s| s.mark()).collect();
        let got = ctrd.cri_pull(&c.image);
        // A server logs a request after answering it: let the last line land.
        std::thread::sleep(Duration::from_millis(150));
        let windows: Vec<(String, Window)> = fx
            .servers
            .iter()
            .zip(marks)
            .map(|(s, m)| (s.name.clone(), s.since(m)))
            .collect();
        let outcome = match &got {
            Ok(_) => "pulled".to_string(),
            Err(e) => {
                let e = e.trim();
                let tail: String = e
                    .chars()
                    .skip(e.chars().count().saturating_sub(110))
                    .collect();
                format!("failed: …{tail}")
            }
        };
        eprintln!("https: containerd {version} | {} | {outcome}", c.name);
        let mut wrong = Vec::new();
        match (&c.expect, &got) {
            (Expect::Pulls, Ok(_)) => {}
            (Expect::Fails(any), Err(e)) if any.iter().any(|a| e.contains(a)) => {}
            _ => wrong.push(format!("expected {:?}, got {got:?}", c.expect)),
        }
        for ch in &c.checks {
            if let Err(e) = check(fx, ch, &windows) {
                wrong.push(format!("expected: {}; {e}", describe(ch)));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "containerd {version}, {}: pull {}:\n  {}\ncontainerd log:\n{}",
                c.name,
                c.image,
                wrong.join("\n  "),
                ctrd.log_tail()
            ));
        }
        if c.name == "mtls: client cert_pem + key_pem" {
            let key = etc.join(format!("certs.d/{MTLS}/client.key"));
            let mode = fs::metadata(&key)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            if mode != 0o600 {
                failures.push(format!(
                    "{version}: {} has mode {mode:o}, not 600",
                    key.display()
                ));
            }
        }
    }
    failures
}

#[test]
fn https_trust_client_certs_headers_default_and_fallback_on_every_version() {
    let start = Instant::now();
    let fx = Fx::new();
    let setup = start.elapsed();
    let mut failures = Vec::new();
    let mut times = Vec::new();
    for version in ["1.6.20", "1.7.24", "2.1.9"] {
        let t = Instant::now();
        failures.extend(on_version(&fx, version));
        times.push(format!("{version}: {:.1?}", t.elapsed()));
    }
    eprintln!("https: setup {setup:.1?}, {}", times.join(", "));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
