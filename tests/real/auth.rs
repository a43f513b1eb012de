//! Credentials (#15), end to end: real containerd 1.6.20, 1.7.24 and 2.1.9 pull over CRI from a
//! docker-registry that demands HTTP Basic auth (htpasswd, bcrypt), with the hosts.toml
//! `regtrust apply` writes from a spec whose password is in a `password_file` (`method: header`;
//! the config.toml method and token registries: tests/real/auth_token.rs). Negative
//! controls: no credentials and a wrong password fail with 401. An authenticated mirror (its own
//! registry and user) in front of an upstream with other credentials: each registry's own log
//! shows it received only its own user, and no 401 at all. Every printed output (apply, its
//! dry-run diff, doctor, render json) is checked for the passwords and their base64; the files
//! carrying them are root-owned 0600. The same over HTTPS (a registry whose CA is in the spec),
//! where check has nothing to warn about.
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::auth_servers::*;
use crate::support::*;
use crate::system::*;
use crate::tls_servers::{Net, Pki};

const UPSTREAM: &str = "auth.registry.test:5000";
const MIRROR: &str = "auth-mirror.test:5000";
/// On the upstream only.
const IMAGE: &str = "auth.registry.test:5000/demo/hello:latest";
const UPSTREAM_ONLY: &str = "auth.registry.test:5000/demo/upstream-only:1";
/// On the mirror only.
const MIRRORED: &str = "auth.registry.test:5000/demo/mirrored:1";
const TLS_HOST: &str = "auth-tls.test:5000";
const TLS_IMAGE: &str = "auth-tls.test:5000/demo/tls:1";

const ALICE_PW: &str = "alice-Pw-7QzK9";
const BOB_PW: &str = "bob-Pw-X3mR2";
const WRONG_PW: &str = "wrong-Pw-5tLq8";
const CAROL_PW: &str = "carol-Pw-8Vn4J";

struct World {
    work: PathBuf,
    hosts: PathBuf,
    upstream: AuthRegistry,
    mirror: AuthRegistry,
    /// HTTPS (the proxy), user carol.
    tls: AuthRegistry,
    tls_ca_pem: String,
}

/// Every credential of the test as it must never be printed: the passwords and the base64 of
/// each `user:password`.
fn secrets() -> Vec<String> {
    let token = |u: &str, p: &str| basic(u, p)["Basic ".len()..].to_string();
    vec![
        ALICE_PW.into(),
        BOB_PW.into(),
        WRONG_PW.into(),
        CAROL_PW.into(),
        token("carol", CAROL_PW),
        token("alice", ALICE_PW),
        token("bob", BOB_PW),
        token("alice", WRONG_PW),
    ]
}

fn assert_no_secret(what: &str, out: &str) {
    assert_none_of(what, out, &secrets());
}

/// `regtrust apply` (with `extra`: `--dry-run`…): its output, checked for secrets.
fn apply(spec: &str, root: &Path, version: &str, extra: &[&str]) -> String {
    apply_quietly(spec, root, version, extra, &secrets())
}

enum Spec {
    NoAuth,
    Wrong,
    Upstream,
    Mirror,
    TlsNoAuth,
    Tls,
}

fn spec_text(w: &World, s: Spec) -> String {
    let alice = secret_file(&w.work, "alice.pw", ALICE_PW);
    let wrong = secret_file(&w.work, "wrong.pw", WRONG_PW);
    let bob = secret_file(&w.work, "bob.pw", BOB_PW);
    let carol = secret_file(&w.work, "carol.pw", CAROL_PW);
    let tls_head = format!(
        "registries:\n  - host: {TLS_HOST}\n    ca_pem: |\n{}",
        w.tls_ca_pem
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    );
    let head = format!("registries:\n  - host: {UPSTREAM}\n    http: true\n");
    let auth = |user: &str, file: &str, indent: &str| {
        format!(
            "{indent}auth:\n{indent}  username: {user}\n{indent}  password_file: {file}\n\
             {indent}  method: header\n"
        )
    };
    match s {
        Spec::NoAuth => head,
        Spec::Wrong => head + &auth("alice", &wrong, "    "),
        Spec::Upstream => head + &auth("alice", &alice, "    "),
        Spec::Mirror => {
            head + &auth("alice", &alice, "    ")
                + &format!("    endpoints:\n      - url: http://{MIRROR}\n")
                + &auth("bob", &bob, "        ")
        }
        Spec::TlsNoAuth => tls_head,
        Spec::Tls => tls_head + &auth("carol", &carol, "    "),
    }
}

fn write_spec(w: &World, name: &str, s: Spec) -> String {
    let p = w.work.join(format!("{name}.yaml"));
    fs::write(&p, spec_text(w, s)).unwrap();
    p.display().to_string()
}

fn one_version(w: &World, version: &str) {
    let dir = w.work.join(format!("containerd-{version}"));
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        debian_config(version),
    )
    .unwrap();
    let hosts_toml = root.join(format!("etc/containerd/certs.d/{UPSTREAM}/hosts.toml"));

    // No credentials: the registry refuses (negative control).
    apply(&write_spec(w, "no-auth", Spec::NoAuth), &root, version, &[]);
    let ctd = Containerd::start(
        &containerd_bin(version),
        &root,
        &w.hosts,
        &dir.join("state"),
    );
    let mark = w.upstream.mark();
    let err = ctd
        .cri_pull(IMAGE)
        .expect_err("pulled without credentials from a registry that demands them");
    assert!(unauthorized(&err), "{version}: no auth: {err}");
    let seen = w.upstream.containerd_requests(mark);
    assert!(
        seen.iter().any(|r| r.status == 401 && r.user == "-"),
        "{version}: no auth: {seen:#?}"
    );

    // A wrong password: sent, refused.
    apply(&write_spec(w, "wrong", Spec::Wrong), &root, version, &[]);
    let mark = w.upstream.mark();
    let err = ctd
        .cri_pull(IMAGE)
        .expect_err("pulled with a wrong password");
    assert!(unauthorized(&err), "{version}: wrong password: {err}");
    let seen = w.upstream.containerd_requests(mark);
    assert!(
        !seen.is_empty() && seen.iter().all(|r| r.user == "alice" && r.status == 401),
        "{version}: wrong password: {seen:#?}"
    );

    // The right password, from a password_file: pulls, every request authenticated at once.
    let upstream_spec = write_spec(w, "upstream", Spec::Upstream);
    let dry = apply(&upstream_spec, &root, version, &["--dry-run"]);
    assert!(
        dry.contains("(credentials changed, not shown)"),
        "{version}: {dry}"
    );
    let out = apply(&upstream_spec, &root, version, &[]);
    assert!(out.contains("updated"), "{version}: {out}");
    let meta = fs::metadata(&hosts_toml).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "{version}: hosts.toml mode");
    assert_eq!(meta.uid(), 0, "{version}: hosts.toml owner");
    let written = fs::read_to_string(&hosts_toml).unwrap();
    assert!(
        written.contains(&basic("alice", ALICE_PW)),
        "{version}: {written}"
    );
    let mark = w.upstream.mark();
    ctd.cri_pull(IMAGE)
        .unwrap_or_else(|e| panic!("{version}: pull with credentials: {e}\n{}", ctd.log_tail()));
    let seen = w.upstream.containerd_requests(mark);
    assert!(
        !seen.is_empty() && seen.iter().all(|r| r.user == "alice" && r.status != 401),
        "{version}: with credentials: {seen:#?}"
    );

    // An authenticated mirror with its own user in front of the upstream.
    let mirror_spec = write_spec(w, "mirror", Spec::Mirror);
    let dry = apply(&mirror_spec, &root, version, &["--dry-run"]);
    assert!(
        dry.contains("Authorization = [\"Basic <redacted>\"]"),
        "{version}: the dry-run shows the header, redacted: {dry}"
    );
    apply(&mirror_spec, &root, version, &[]);
    let written = fs::read_to_string(&hosts_toml).unwrap();
    assert!(written.contains(&basic("bob", BOB_PW)), "{written}");
    let (up_mark, mirror_mark) = (w.upstream.mark(), w.mirror.mark());
    ctd.cri_pull(MIRRORED).unwrap_or_else(|e| {
        panic!(
            "{version}: pull through the mirror: {e}\n{}",
            ctd.log_tail()
        )
    });
    ctd.cri_pull(UPSTREAM_ONLY).unwrap_or_else(|e| {
        panic!(
            "{version}: pull falling back to the upstream: {e}\n{}",
            ctd.log_tail()
        )
    });
    let up = w.upstream.containerd_requests(up_mark);
    let mirror = w.mirror.containerd_requests(mirror_mark);
    let served = |rs: &[Request], repo: &str| {
        rs.iter()
            .any(|r| r.line.starts_with(&format!("GET /v2/{repo}/blobs/")) && r.status == 200)
    };
    assert!(
        served(&mirror, "demo/mirrored"),
        "{version}: the mirror served no blob of its image: {mirror:#?}"
    );
    assert!(
        served(&up, "demo/upstream-only"),
        "{version}: the upstream served no blob of its image: {up:#?}"
    );
    assert!(
        !served(&up, "demo/mirrored"),
        "{version}: the mirror's image came from the upstream: {up:#?}"
    );
    assert!(
        mirror.iter().all(|r| r.user == "bob" && r.status != 401),
        "{version}: the mirror got another user's credentials, or none: {mirror:#?}"
    );
    assert!(
        up.iter().all(|r| r.user == "alice" && r.status != 401),
        "{version}: the upstream got another user's credentials, or none: {up:#?}"
    );

    // Over HTTPS: no warning to give; no credentials → 401, carol's → pulls.
    let tls_hosts_toml = root.join(format!("etc/containerd/certs.d/{TLS_HOST}/hosts.toml"));
    apply(
        &write_spec(w, "tls-no-auth", Spec::TlsNoAuth),
        &root,
        version,
        &[],
    );
    let mark = w.tls.mark();
    let err = ctd
        .cri_pull(TLS_IMAGE)
        .expect_err("pulled over HTTPS without credentials");
    assert!(unauthorized(&err), "{version}: https, no auth: {err}");
    assert!(
        w.tls
            .containerd_requests(mark)
            .iter()
            .any(|r| r.status == 401 && r.user == "-"),
        "{version}: https, no auth"
    );
    let out = apply(&write_spec(w, "tls", Spec::Tls), &root, version, &[]);
    assert!(!out.contains("warning"), "{version}: https: {out}");
    assert_eq!(
        fs::metadata(&tls_hosts_toml).unwrap().mode() & 0o7777,
        0o600
    );
    let mark = w.tls.mark();
    ctd.cri_pull(TLS_IMAGE).unwrap_or_else(|e| {
        panic!(
            "{version}: pull over HTTPS with credentials: {e}\n{}",
            ctd.log_tail()
        )
    });
    let seen = w.tls.containerd_requests(mark);
    assert!(
        seen.iter()
            .any(|r| r.line.starts_with("GET /v2/demo/tls/blobs/") && r.status == 200)
            && seen.iter().all(|r| r.user == "carol" && r.status != 401),
        "{version}: https with credentials: {seen:#?}"
    );

    // doctor --probe tries carol's header over HTTPS (the certificate verified with the spec's
    // CA): accepted.
    let (codes, verdicts) = doctor_probe_in(&w.hosts, &root, version, &secrets());
    let url = format!("https://{TLS_HOST}");
    assert!(
        verdicts
            .iter()
            .any(|v| v.starts_with(&format!("{url} (credentials): "))
                && v.contains("Basic credentials; the ones in hosts.toml header are accepted")),
        "{version}: {url}: {verdicts:?}"
    );
    assert!(
        !codes.iter().any(|c| c.starts_with("credentials-")),
        "{version}: {codes:?} {verdicts:?}"
    );
    // doctor on that node, render json: nothing printed carries a credential.
    let root_s = root.to_str().unwrap();
    let doctor = regtrust(&[
        "doctor",
        "--root",
        root_s,
        "--containerd",
        version,
        "--image",
        MIRRORED,
    ]);
    assert_ne!(doctor.status.code(), Some(3), "{}", text(&doctor));
    assert_no_secret(&format!("{version}: doctor"), &text(&doctor));
    drop(ctd);
}

fn world() -> World {
    require_e2e_prerequisites();
    let work = work_dir("auth");
    let net = Net::for_test(3);
    let upstream = AuthRegistry::start(
        &work.join("registry-upstream"),
        "upstream",
        &format!("{}:5000", net.ip(1)),
        &format!("{}:5000", net.ip(3)),
        "alice",
        ALICE_PW,
    );
    let mirror = AuthRegistry::start(
        &work.join("registry-mirror"),
        "mirror",
        &format!("{}:5000", net.ip(2)),
        &format!("{}:5000", net.ip(4)),
        "bob",
        BOB_PW,
    );
    // Three different images (different layers): each pull fetches its own blobs, so the
    // registry that serves one is the one that received its GETs.
    let pki = Pki::new(&work.join("pki"));
    let ca = pki.ca("auth-ca", "regtrust test auth CA");
    let leaf = pki.leaf("auth-tls", &ca, &["auth-tls.test"]);
    let tls = AuthRegistry::start_with_tls(
        &work.join("registry-tls"),
        "tls",
        &format!("{}:5000", net.ip(5)),
        &format!("{}:5000", net.ip(6)),
        "carol",
        CAROL_PW,
        Some((&leaf, &ca.cert)),
    );
    let image = |name: &str| {
        let d = work.join(format!("image-{name}"));
        fs::create_dir_all(&d).unwrap();
        make_image(&d, &format!("{name} from behind a password"))
    };
    upstream.push(&image("hello"), "demo/hello:latest");
    upstream.push(&image("upstream-only"), "demo/upstream-only:1");
    mirror.push(&image("mirrored"), "demo/mirrored:1");
    tls.push(&image("tls"), "demo/tls:1");
    let hosts = work.join("hosts");
    fs::write(
        &hosts,
        format!(
            "127.0.0.1 localhost\n{} auth.registry.test\n{} auth-mirror.test\n{} auth-tls.test\n",
            net.ip(3),
            net.ip(4),
            net.ip(6)
        ),
    )
    .unwrap();
    World {
        work,
        hosts,
        upstream,
        mirror,
        tls_ca_pem: fs::read_to_string(&ca.cert).unwrap(),
        tls,
    }
}

#[test]
fn basic_auth_pulls_on_every_version_and_no_secret_is_printed() {
    let w = world();
    // render json redacts unless asked; the boot-time outputs print no secret on stderr.
    let spec = write_spec(&w, "render", Spec::Mirror);
    let json = regtrust(&["render", "--spec", &spec, "--target", "json"]);
    assert!(json.status.success(), "{}", text(&json));
    assert_no_secret("render --target json", &text(&json));
    let shown = regtrust(&[
        "render",
        "--spec",
        &spec,
        "--target",
        "json",
        "--show-secrets",
    ]);
    assert!(
        text(&shown).contains(&basic("alice", ALICE_PW)["Basic ".len()..]),
        "--show-secrets shows the credential: {}",
        text(&shown)
    );
    for target in ["cloud-init", "script", "ignition"] {
        let o = regtrust(&[
            "render",
            "--spec",
            &spec,
            "--target",
            target,
            "--containerd",
            "1.7",
        ]);
        // They carry the credentials now (tests/real/auth_channels.rs): on stdout only.
        assert!(o.status.success(), "{target}: {}", text(&o));
        assert_no_secret(target, &String::from_utf8_lossy(&o.stderr));
    }
    for version in ["1.6", "1.7", "2.1"] {
        one_version(&w, version);
    }
}
