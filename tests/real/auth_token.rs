//! Credentials for token (Bearer) registries (#15), end to end, and the choice of method: a
//! docker-registry with `auth: token` and the token service of `tests/e2e/token_service.py`
//! (Docker Hub's, Harbor's and GitLab's flow), and a docker-registry with htpasswd (Basic) auth as
//! an authenticated pull-through mirror of it (docker-registry's `proxy`) with its own htpasswd
//! login. On real containerd 1.6.20, 1.7.24 and 2.1.9 over CRI:
//! - `method: header` (a static Basic header in hosts.toml): on 1.6 and 1.7 it cannot pull from
//!   the token registry — containerd's token request carries no credentials (the token service
//!   sees an anonymous request); on 2.1 it pulls — containerd sends the host's headers with the
//!   token request too (the token service sees alice's Basic credentials). Hence the default:
//!   `config` before 2.1, `header` from 2.1 on;
//! - `method: config` (`registry.configs."host".auth` in config.toml, 0600, after a restart)
//!   pulls on every version;
//! - the default pulls from the token registry, and through the pull-through mirror with the
//!   mirror's own user — containerd sends each side only its own credentials;
//! - an identity token (`identity_token_file`) pulls through the OAuth2 refresh-token grant;
//! - a wrong password fails with 401; a re-apply changes nothing; no printed output carries a
//!   secret;
//! - `migrate` (legacy `configs.*.auth`) and `import k3s` (`configs.*.auth`) carry the
//!   credentials into the spec through a 0600 file, and the spec pulls;
//! - the boot outputs with `method: config`: after cloud-init's own modules ran the user-data,
//!   and after the installer, config.toml holds the credentials (0600), a re-run changes
//!   nothing, and containerd pulls.
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::auth_servers::*;
use crate::support::*;
use crate::system::*;
use crate::tls_servers::{Net, Pki};

const TOKEN_HOST: &str = "token.registry.test:5000";
const MIRROR_HOST: &str = "basic-mirror.test:5000";
const IMAGE: &str = "token.registry.test:5000/demo/token:1";
/// Pulled through the mirror (on the token registry, fetched by the mirror).
const MIRRORED: &str = "token.registry.test:5000/demo/mirrored:1";

const ALICE_PW: &str = "alice-Tk-4Pq8Z";
const WRONG_PW: &str = "wrong-Tk-2Hs6W";
const ROBOT_TOKEN: &str = "idt-robot-Rq73LmZx";
const BOB_PW: &str = "bob-Mr-9Ct5V";

struct World {
    work: PathBuf,
    hosts: PathBuf,
    token: AuthRegistry,
    mirror: AuthRegistry,
}

fn secrets() -> Vec<String> {
    let b64 = |u: &str, p: &str| basic(u, p)["Basic ".len()..].to_string();
    vec![
        ALICE_PW.into(),
        WRONG_PW.into(),
        ROBOT_TOKEN.into(),
        BOB_PW.into(),
        b64("alice", ALICE_PW),
        b64("bob", BOB_PW),
    ]
}

fn assert_no_secret(what: &str, out: &str) {
    assert_none_of(what, out, &secrets());
}

/// `regtrust apply` (with `extra`: `--dry-run`…): its output, checked for secrets.
fn apply(spec: &str, root: &Path, version: &str, extra: &[&str]) -> String {
    apply_quietly(spec, root, version, extra, &secrets())
}

#[derive(Clone, Copy)]
enum Spec {
    Header,
    Default,
    Config,
    Wrong,
    IdentityToken,
    Mirror,
}

fn write_spec(w: &World, s: Spec) -> String {
    let alice = secret_file(&w.work, "alice.pw", ALICE_PW);
    let wrong = secret_file(&w.work, "wrong.pw", WRONG_PW);
    let robot = secret_file(&w.work, "robot.token", ROBOT_TOKEN);
    let bob = secret_file(&w.work, "bob.pw", BOB_PW);
    let head = format!("registries:\n  - host: {TOKEN_HOST}\n    http: true\n    auth:\n");
    let (name, text) = match s {
        Spec::Header => (
            "header",
            format!(
                "{head}      username: alice\n      password_file: {alice}\n      method: header\n"
            ),
        ),
        Spec::Default => (
            "default",
            format!("{head}      username: alice\n      password_file: {alice}\n"),
        ),
        Spec::Config => (
            "config",
            format!(
                "{head}      username: alice\n      password_file: {alice}\n      method: config\n"
            ),
        ),
        Spec::Wrong => (
            "wrong",
            format!(
                "{head}      username: alice\n      password_file: {wrong}\n      method: config\n"
            ),
        ),
        Spec::IdentityToken => (
            "identity-token",
            format!("{head}      identity_token_file: {robot}\n"),
        ),
        Spec::Mirror => (
            "mirror",
            format!(
                "{head}      username: alice\n      password_file: {alice}\n    endpoints:\n      \
                 - url: http://{MIRROR_HOST}\n        auth:\n          username: bob\n          \
                 password_file: {bob}\n"
            ),
        ),
    };
    let p = w.work.join(format!("{name}.yaml"));
    fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn doctor_probe(w: &World, root: &Path, version: &str) -> (Vec<String>, Vec<String>) {
    doctor_probe_in(&w.hosts, root, version, &secrets())
}

/// containerd restarted on `root` with an empty content store (each pull fetches everything).
fn restart(
    ctd: &mut Option<Containerd>,
    w: &World,
    version: &str,
    root: &Path,
    dir: &Path,
    n: u32,
) {
    drop(ctd.take());
    *ctd = Some(Containerd::start(
        &containerd_bin(version),
        root,
        &w.hosts,
        &dir.join(format!("state-{n}")),
    ));
}

fn one_version(w: &World, version: &str) {
    let dir = w.work.join(format!("containerd-{version}"));
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let config = root.join("etc/containerd/config.toml");
    fs::write(&config, debian_config(version)).unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let mut ctd = None;

    let header_works = version.starts_with('2');
    // method: header — the Basic header reaches the registry; whether the token request after
    // the Bearer challenge carries it decides.
    apply(&write_spec(w, Spec::Header), &root, version, &[]);
    restart(&mut ctd, w, version, &root, &dir, 1);
    let c = ctd.as_ref().unwrap();
    let mark = w.token.token_mark();
    let pulled = c.cri_pull(IMAGE);
    let asked = w.token.token_requests_since(mark);
    if header_works {
        pulled.unwrap_or_else(|e| panic!("{version}: header: {e}\n{}", c.log_tail()));
        assert!(
            asked
                .iter()
                .any(|r| r.grant == "basic" && r.user == "alice" && r.status == 200),
            "{version}: header: the token request did not carry the header: {asked:?}"
        );
    } else {
        let err = pulled.expect_err("a static Basic header pulled from a token registry");
        assert!(unauthorized(&err), "{version}: header: {err}");
        assert!(
            !asked.is_empty()
                && asked
                    .iter()
                    .all(|r| r.grant == "anonymous" && r.status == 401),
            "{version}: header: the token request was not anonymous: {asked:?}"
        );
    }

    // The default: config before 2.1 (config.toml 0600, restart), header from 2.1 on.
    let hosts_toml_path = root.join(format!("etc/containerd/certs.d/{TOKEN_HOST}/hosts.toml"));
    let spec = write_spec(w, Spec::Default);
    let out = apply(&spec, &root, version, &[]);
    let written = fs::read_to_string(&config).unwrap();
    let hosts_toml = fs::read_to_string(&hosts_toml_path).unwrap();
    if header_works {
        assert!(
            hosts_toml.contains("Authorization"),
            "{version}: {hosts_toml}"
        );
        assert!(!written.contains("password"), "{version}: {written}");
        assert!(out.contains("nothing to do"), "{version}: {out}");
    } else {
        assert!(
            !hosts_toml.contains("Authorization"),
            "{version}: {hosts_toml}"
        );
        assert!(written.contains("password = "), "{version}: {written}");
        restart(&mut ctd, w, version, &root, &dir, 2);
    }
    let c = ctd.as_ref().unwrap();
    let mark = w.token.token_mark();
    c.cri_pull(IMAGE)
        .unwrap_or_else(|e| panic!("{version}: the default method: {e}\n{}", c.log_tail()));
    assert!(
        w.token
            .token_requests_since(mark)
            .iter()
            .any(|r| r.user == "alice" && r.status == 200),
        "{version}: default: no token granted to alice"
    );

    // method: config on every version: registry.configs."host".auth, config.toml 0600.
    let spec = write_spec(w, Spec::Config);
    let dry = apply(&spec, &root, version, &["--dry-run"]);
    let mode_before = fs::metadata(&config).unwrap().mode() & 0o7777;
    if !written.contains("password = ") {
        assert!(
            dry.contains("password = \"<redacted>\""),
            "{version}: the dry-run shows the credentials table, redacted: {dry}"
        );
    }
    let out = apply(&spec, &root, version, &[]);
    if mode_before != 0o600 {
        assert!(
            out.contains("mode changes from 0644 to 0600"),
            "{version}: {out}"
        );
    }
    let meta = fs::metadata(&config).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "{version}: config.toml mode");
    assert_eq!(meta.uid(), 0, "{version}: config.toml owner");
    let written = fs::read_to_string(&config).unwrap();
    let doc: toml_edit::DocumentMut = written.parse().unwrap();
    // Debian's config is a version 2 file on every version: its registry table is the 1.x CRI
    // plugin's (containerd 2.x migrates it when it loads).
    let plugin = "io.containerd.grpc.v1.cri";
    let auth = ["plugins", plugin, "registry", "configs", TOKEN_HOST, "auth"]
        .iter()
        .try_fold(doc.as_item(), |item, k| item.get(k))
        .unwrap_or_else(|| panic!("{version}: no configs.\"{TOKEN_HOST}\".auth: {written}"));
    assert_eq!(
        auth["username"].as_str(),
        Some("alice"),
        "{version}: {written}"
    );
    assert_eq!(auth["password"].as_str(), Some(ALICE_PW), "{version}");
    let hosts_toml = fs::read_to_string(&hosts_toml_path).unwrap();
    assert!(
        !hosts_toml.contains("Authorization"),
        "{version}: the header of the previous spec is gone: {hosts_toml}"
    );
    let again = apply(&spec, &root, version, &[]);
    assert!(
        again.contains("nothing to do: the node matches the spec"),
        "{version}: a re-apply changes nothing: {again}"
    );
    assert_eq!(fs::read_to_string(&config).unwrap(), written);
    restart(&mut ctd, w, version, &root, &dir, 3);
    let c = ctd.as_ref().unwrap();
    let mark = w.token.token_mark();
    c.cri_pull(IMAGE)
        .unwrap_or_else(|e| panic!("{version}: config method: {e}\n{}", c.log_tail()));
    let asked = w.token.token_requests_since(mark);
    assert!(
        asked.iter().any(|r| r.user == "alice" && r.status == 200),
        "{version}: config: no token granted to alice: {asked:?}"
    );

    // A wrong password: the token service refuses, the pull fails.
    apply(&write_spec(w, Spec::Wrong), &root, version, &[]);
    restart(&mut ctd, w, version, &root, &dir, 4);
    let c = ctd.as_ref().unwrap();
    let mark = w.token.token_mark();
    let err = c.cri_pull(IMAGE).expect_err("pulled with a wrong password");
    assert!(unauthorized(&err), "{version}: wrong password: {err}");
    let asked = w.token.token_requests_since(mark);
    assert!(
        !asked.is_empty() && asked.iter().all(|r| r.status == 401),
        "{version}: wrong password: {asked:?}"
    );
    let (codes, verdicts) = doctor_probe(w, &root, version);
    assert!(
        codes.iter().any(|c| c == "credentials-rejected"),
        "{version}: {codes:?} {verdicts:?}"
    );

    // An identity token: the refresh-token grant.
    apply(&write_spec(w, Spec::IdentityToken), &root, version, &[]);
    let written = fs::read_to_string(&config).unwrap();
    assert!(
        written.contains(&format!("identitytoken = \"{ROBOT_TOKEN}\"")),
        "{version}: {written}"
    );
    restart(&mut ctd, w, version, &root, &dir, 5);
    let c = ctd.as_ref().unwrap();
    let mark = w.token.token_mark();
    c.cri_pull(IMAGE)
        .unwrap_or_else(|e| panic!("{version}: identity token: {e}\n{}", c.log_tail()));
    let asked = w.token.token_requests_since(mark);
    assert!(
        asked
            .iter()
            .any(|r| r.grant == "refresh_token" && r.user == "robot" && r.status == 200),
        "{version}: identity token: {asked:?}"
    );
    // doctor --probe tries it the same way (the refresh-token grant), and a wrong one is refused.
    let (codes, verdicts) = doctor_probe(w, &root, version);
    assert!(
        !codes.iter().any(|c| c == "credentials-rejected")
            && verdicts.iter().any(|v| v.contains(
                "the ones in config.toml (an identity token) are accepted by the token service"
            )),
        "{version}: {codes:?} {verdicts:?}"
    );
    let mark = w.token.token_mark();
    fs::write(
        &config,
        written.replace(ROBOT_TOKEN, "not-the-robots-token"),
    )
    .unwrap();
    let (codes, verdicts) = doctor_probe(w, &root, version);
    fs::write(&config, &written).unwrap();
    assert!(
        codes.iter().any(|c| c == "credentials-rejected"),
        "{version}: a wrong identity token: {codes:?} {verdicts:?}"
    );
    assert!(
        w.token
            .token_requests_since(mark)
            .iter()
            .any(|r| r.grant == "refresh_token" && r.status == 401),
        "{version}: doctor's grant reached the token service"
    );

    // The pull-through mirror with its own login in front of the token registry: each side gets
    // only its own credentials from containerd (the mirror fetches from the upstream as alice).
    apply(&write_spec(w, Spec::Mirror), &root, version, &[]);
    restart(&mut ctd, w, version, &root, &dir, 6);
    let c = ctd.as_ref().unwrap();
    let (tmark, mmark) = (w.token.token_mark(), w.mirror.mark());
    c.cri_pull(MIRRORED)
        .unwrap_or_else(|e| panic!("{version}: through the mirror: {e}\n{}", c.log_tail()));
    c.cri_pull(IMAGE).unwrap_or_else(|e| {
        panic!(
            "{version}: the upstream image through the mirror: {e}\n{}",
            c.log_tail()
        )
    });
    let mirror = w.mirror.containerd_requests(mmark);
    assert!(
        mirror
            .iter()
            .any(|r| r.line.starts_with("GET /v2/demo/mirrored/blobs/") && r.status == 200),
        "{version}: the mirror served nothing: {mirror:#?}"
    );
    assert!(
        mirror.iter().all(|r| r.user == "bob" || r.user == "-"),
        "{version}: the mirror received another user's credentials: {mirror:#?}"
    );
    let asked = w.token.token_requests_since(tmark);
    assert!(
        !asked.is_empty() && asked.iter().all(|r| r.user == "alice" && r.status == 200),
        "{version}: the token service received other credentials: {asked:?}"
    );

    // Nothing printed carries a secret: doctor on the node.
    let doctor = regtrust(&[
        "doctor",
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        version,
    ]);
    assert_ne!(doctor.status.code(), Some(3), "{}", text(&doctor));
    assert_no_secret(&format!("{version}: doctor"), &text(&doctor));
}

/// `migrate` of a node whose legacy config has `configs."host".auth`, and `import k3s` of a
/// registries.yaml with `configs.*.auth`: the secret goes to a 0600 file the emitted spec
/// names (never printed, never in the spec), and applying that spec pulls.
fn migrate_and_import(w: &World, version: &str) {
    let dir = w.work.join(format!("migrate-{version}"));
    let legacy_auth = format!(
        "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"{TOKEN_HOST}\"]\n  endpoint = \
         [\"http://{TOKEN_HOST}\"]\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"{TOKEN_HOST}\".auth]\n  \
         username = \"alice\"\n  password = \"{ALICE_PW}\"\n"
    );
    let k3s = format!(
        "mirrors:\n  {TOKEN_HOST}:\n    endpoint:\n      - http://{TOKEN_HOST}\nconfigs:\n  \
         {TOKEN_HOST}:\n    auth:\n      username: alice\n      password: {ALICE_PW}\n"
    );
    for (n, how) in ["migrate", "import"].iter().enumerate() {
        let root = dir.join(format!("root-{how}"));
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        let config = root.join("etc/containerd/config.toml");
        let spec = dir.join(format!("{how}.yaml"));
        let o = if *how == "migrate" {
            fs::write(&config, debian_config(version) + &legacy_auth).unwrap();
            regtrust(&[
                "migrate",
                "--root",
                root.to_str().unwrap(),
                "--containerd",
                version,
                "--emit-spec",
                spec.to_str().unwrap(),
                "--no-probe",
            ])
        } else {
            fs::write(&config, debian_config(version)).unwrap();
            let reg = dir.join("registries.yaml");
            fs::write(&reg, &k3s).unwrap();
            regtrust(&[
                "import",
                "k3s",
                reg.to_str().unwrap(),
                "--emit-spec",
                spec.to_str().unwrap(),
                "--no-probe",
            ])
        };
        assert!(o.status.success(), "{version} {how}: {}", text(&o));
        assert_no_secret(&format!("{version} {how}"), &text(&o));
        let spec_text = fs::read_to_string(&spec).unwrap();
        assert_no_secret(&format!("{version} {how}: the spec"), &spec_text);
        let secret = dir.join(format!(
            "{how}.yaml.secrets/token.registry.test_5000.password"
        ));
        assert!(
            spec_text.contains("password_file:")
                && spec_text.contains("token.registry.test_5000.password"),
            "{version} {how}: {spec_text}"
        );
        assert_eq!(fs::read_to_string(&secret).unwrap(), ALICE_PW);
        assert_eq!(fs::metadata(&secret).unwrap().mode() & 0o7777, 0o600);
        apply(spec.to_str().unwrap(), &root, version, &[]);
        let mut ctd = None;
        restart(&mut ctd, w, version, &root, &dir, 10 + n as u32);
        let c = ctd.as_ref().unwrap();
        let mark = w.token.token_mark();
        c.cri_pull(IMAGE)
            .unwrap_or_else(|e| panic!("{version} {how}: pull after apply: {e}\n{}", c.log_tail()));
        assert!(
            w.token
                .token_requests_since(mark)
                .iter()
                .any(|r| r.user == "alice" && r.status == 200),
            "{version} {how}: no token granted to alice"
        );
    }
}

/// The boot outputs with `method: config` (on every version): cloud-init's own modules run the
/// user-data, the installer (dash) runs with the password in its environment; config.toml gets
/// the credentials (0600, its credentials file 0600 too), a second run changes nothing, and
/// containerd pulls from the token registry.
fn through_boot_outputs(w: &World, version: &str) {
    let dir = w.work.join(format!("boot-{version}"));
    fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.yaml");
    fs::write(
        &spec,
        format!(
            "registries:\n  - host: {TOKEN_HOST}\n    http: true\n    auth:\n      username: alice\n      \
             password_env: TOKEN_PW\n      method: config\n"
        ),
    )
    .unwrap();
    let render = |target: &str, env: Option<&str>| {
        let mut c = std::process::Command::new(regtrust_bin());
        c.args([
            "render",
            "--containerd",
            version,
            "--target",
            target,
            "--spec",
        ])
        .arg(&spec)
        .env_remove("TOKEN_PW");
        if let Some(pw) = env {
            c.env("TOKEN_PW", pw);
        }
        let o = run(&mut c);
        assert!(o.status.success(), "{version} {target}: {}", text(&o));
        assert_no_secret(
            &format!("{version} {target}: stderr"),
            &String::from_utf8_lossy(&o.stderr),
        );
        o.stdout
    };
    let check_root = |what: &str, root: &Path| {
        let cfg = root.join("etc/containerd/config.toml");
        let meta = fs::metadata(&cfg).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o600, "{what}: config.toml mode");
        let creds = root.join("etc/containerd/config.toml.regtrust-credentials");
        assert_eq!(
            fs::metadata(&creds).unwrap().mode() & 0o7777,
            0o600,
            "{what}"
        );
        let text = fs::read_to_string(&cfg).unwrap();
        assert!(
            text.contains(&format!("password = \"{ALICE_PW}\"")),
            "{what}: {text}"
        );
    };
    let mut n = 20;
    // cloud-init (the password read at render time, carried in the user-data).
    let root = dir.join("cloud-init/root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        debian_config(version),
    )
    .unwrap();
    let userdata = dir.join("user-data.yaml");
    fs::write(&userdata, render("cloud-init", Some(ALICE_PW))).unwrap();
    for round in 0..2 {
        let o = run_cloud_init(&userdata, &root);
        assert!(o.status.success(), "{version} cloud-init: {}", text(&o));
        assert_no_secret(&format!("{version} cloud-init"), &text(&o));
        check_root(&format!("{version} cloud-init"), &root);
        if round == 1 {
            assert!(
                text(&o).contains("unchanged"),
                "{version}: the second cloud-init run changed config.toml: {}",
                text(&o)
            );
        }
    }
    // The installer (the password read at run time from TOKEN_PW).
    let iroot = dir.join("installer/root");
    fs::create_dir_all(iroot.join("etc/containerd")).unwrap();
    fs::write(
        iroot.join("etc/containerd/config.toml"),
        debian_config(version),
    )
    .unwrap();
    let script = dir.join("install.sh");
    fs::write(&script, render("script", None)).unwrap();
    assert_no_secret("the installer", &fs::read_to_string(&script).unwrap());
    let sc = run(std::process::Command::new("shellcheck").arg(&script));
    assert!(sc.status.success(), "shellcheck: {}", text(&sc));
    for round in 0..2 {
        let o = run(std::process::Command::new("dash")
            .arg(&script)
            .arg("--root")
            .arg(&iroot)
            .env("TOKEN_PW", ALICE_PW));
        assert!(o.status.success(), "{version} installer: {}", text(&o));
        assert_no_secret(&format!("{version} installer"), &text(&o));
        check_root(&format!("{version} installer"), &iroot);
        if round == 1 {
            assert!(!text(&o).contains("updated /"), "{version}: {}", text(&o));
        }
    }
    for (what, root) in [("cloud-init", &root), ("installer", &iroot)] {
        let mut ctd = None;
        restart(&mut ctd, w, version, root, &dir.join(what), n);
        n += 1;
        let c = ctd.as_ref().unwrap();
        let mark = w.token.token_mark();
        c.cri_pull(IMAGE)
            .unwrap_or_else(|e| panic!("{version} {what}: pull: {e}\n{}", c.log_tail()));
        assert!(
            w.token
                .token_requests_since(mark)
                .iter()
                .any(|r| r.user == "alice" && r.status == 200),
            "{version} {what}: no token granted to alice"
        );
    }
}

fn world() -> World {
    require_e2e_prerequisites();
    require_tool(
        "htpasswd",
        "run .ci/install-deps (Debian package apache2-utils)",
    );
    let o = run(std::process::Command::new(PYTHON).args(["-c", "import jwt, cryptography"]));
    assert!(
        o.status.success(),
        "{PYTHON} cannot import jwt: install Debian's python3-jwt (.ci/install-deps)"
    );
    let work = work_dir("auth-token");
    let net = Net::for_test(2);
    let pki = Pki::new(&work.join("pki"));
    let token = AuthRegistry::start_token(
        &work.join("registry-token"),
        "token",
        &format!("{}:5000", net.ip(1)),
        &format!("{}:5000", net.ip(3)),
        &format!("{}:5001", net.ip(2)),
        &[("alice", ALICE_PW)],
        &[(ROBOT_TOKEN, "robot")],
        &pki,
    );
    // An authenticated pull-through mirror of the token registry: bob logs in to it, it logs in
    // to the token registry as alice for what it does not have yet.
    let mirror = AuthRegistry::start_pull_through(
        &work.join("registry-mirror"),
        "mirror",
        &format!("{}:5000", net.ip(4)),
        &format!("{}:5000", net.ip(5)),
        "bob",
        BOB_PW,
        &format!("http://{}:5000", net.ip(3)),
        "alice",
        ALICE_PW,
    );
    let image = |name: &str| {
        let d = work.join(format!("image-{name}"));
        fs::create_dir_all(&d).unwrap();
        make_image(&d, &format!("{name} behind a token service"))
    };
    token.push(&image("token"), "demo/token:1");
    token.push(&image("mirrored"), "demo/mirrored:1");
    let hosts = work.join("hosts");
    fs::write(
        &hosts,
        format!(
            "127.0.0.1 localhost\n{} token.registry.test\n{} basic-mirror.test\n",
            net.ip(3),
            net.ip(5)
        ),
    )
    .unwrap();
    World {
        work,
        hosts,
        token,
        mirror,
    }
}

#[test]
fn token_registries_pull_with_the_config_method_on_every_version() {
    let w = world();
    for version in ["1.6", "1.7", "2.1"] {
        one_version(&w, version);
        migrate_and_import(&w, version);
        through_boot_outputs(&w, version);
    }
}
