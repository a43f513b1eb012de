//! Credentials (#15): the spec's `auth` validated (exit 2, line and column, nothing written),
//! passwords read at render/apply time with errors that name the file or variable, the header on
//! the host the credentials are for only, files carrying it 0600, a `.bak` that never gains
//! one, and no password or base64 in anything printed (apply, --dry-run, --check, render json,
//! errors and warnings). The pulls themselves are proven in tests/real/auth.rs.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;

use crate::support::*;

const ALICE_PW: &str = "alice-Fast-9Kq2";
const BOB_PW: &str = "bob-Fast-4Zx7";
const NEW_PW: &str = "alice-New-6Hw3";

fn token(user: &str, pw: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
}

fn secrets() -> Vec<String> {
    vec![
        ALICE_PW.into(),
        BOB_PW.into(),
        NEW_PW.into(),
        token("alice", ALICE_PW),
        token("bob", BOB_PW),
        token("alice", NEW_PW),
    ]
}

fn assert_no_secret(what: &str, out: &str) {
    for s in secrets() {
        assert!(!out.contains(&s), "{what} printed a secret ({s}):\n{out}");
    }
}

struct Node {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    root: PathBuf,
}

impl Node {
    fn new() -> Node {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let root = dir.join("root");
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(dir.join("alice.pw"), format!("{ALICE_PW}\n")).unwrap();
        Node { _dir: d, dir, root }
    }

    fn spec(&self, text: &str) -> PathBuf {
        let p = self.dir.join("spec.yaml");
        fs::write(&p, text).unwrap();
        p
    }

    /// regtrust with `args`, the spec, and BOB_PW in MIRROR_PW; every output checked for secrets.
    fn run(&self, args: &[&str], spec: &Path, env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(regtrust_bin());
        c.args(args).arg("--spec").arg(spec).env_remove("MIRROR_PW");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = run(&mut c);
        assert_no_secret(&format!("regtrust {args:?}"), &text(&o));
        o
    }

    fn apply(&self, spec: &Path, extra: &[&str]) -> Output {
        let root = self.root.to_str().unwrap();
        let args = [&["apply", "--root", root, "--containerd", "1.7"][..], extra].concat();
        self.run(&args, spec, &[("MIRROR_PW", BOB_PW)])
    }

    fn hosts_toml(&self) -> PathBuf {
        self.root
            .join("etc/containerd/certs.d/reg.example:5000/hosts.toml")
    }
}

/// An upstream with alice's password in a file (relative to the spec), a mirror with bob's in
/// an environment variable; both as hosts.toml headers (the config.toml method:
/// tests/fast/auth_config.rs).
const SPEC: &str = "registries:
  - host: reg.example:5000
    auth:
      username: alice
      password_file: alice.pw
      method: header
    endpoints:
      - url: https://mirror.example:5001
        auth:
          username: bob
          password_env: MIRROR_PW
          method: header
";

#[test]
fn validation_errors_exit_2_at_their_line_and_write_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "      username: alice:alice-Fast-9Kq2\n      password_env: X\n",
            "spec.yaml:4:17",
            "contains `:`",
        ),
        (
            "      username: \"\"\n      password_env: X\n",
            "spec.yaml:4:17",
            "`username` is empty",
        ),
        (
            "      username: alice\n      password_env: X\n      password_file: /f\n",
            "spec.yaml:6:22",
            "give exactly one source for one secret",
        ),
        (
            "      username: alice\n",
            "spec.yaml:4:7",
            "`auth` needs one secret",
        ),
        (
            "      username: alice\n      password: \"\"\n",
            "spec.yaml:5:17",
            "`password` is empty",
        ),
        (
            "      username: alice\n      identitytoken: abc\n",
            "spec.yaml:5:7",
            "identity_token_file | identity_token_env | identity_token",
        ),
        (
            "      identity_token_env: TOKEN\n      method: header\n",
            "spec.yaml:5:15",
            "an identity token is exchanged for registry tokens by containerd's authorizer",
        ),
        (
            "      username: alice\n      password_env: X\n      method: basic\n",
            "spec.yaml:6:15",
            "`method: basic` is not a method",
        ),
        (
            "      password_env: X\n",
            "spec.yaml:4:7",
            "`auth` needs a `username` with a password",
        ),
        (
            "      identity_token_env: T\n      password_env: X\n",
            "spec.yaml:5:21",
            "`auth` has identity_token_env and password_env",
        ),
    ];
    for (auth, at, words) in cases {
        let node = Node::new();
        let spec = node.spec(&format!(
            "registries:\n  - host: reg.example:5000\n    auth:\n{auth}"
        ));
        for args in [
            &["check"][..],
            &["apply", "--root", node.root.to_str().unwrap()],
        ] {
            let o = node.run(args, &spec, &[]);
            let out = text(&o).replace(&spec.display().to_string(), "spec.yaml");
            assert_eq!(o.status.code(), Some(2), "{auth}: {out}");
            assert!(out.contains(&format!("--> {at}")), "{auth}: {at}: {out}");
            assert!(out.contains(words), "{auth}: {words}: {out}");
        }
        assert!(
            snapshot(&node.root).is_empty(),
            "{auth}: something was written"
        );
    }
    // Credentials for host "*" would go to every registry; `auth` next to an Authorization
    // header is ambiguous.
    for (reg, words) in [
        (
            "  - host: \"*\"\n    endpoints: [{url: \"https://m.example\"}]\n    auth: {username: a, password_env: X}\n",
            "would send these credentials to every registry",
        ),
        (
            "  - host: r.example\n    headers: {Authorization: x}\n    auth: {username: a, password_env: X}\n",
            "both `auth` and an `Authorization` header",
        ),
    ] {
        let node = Node::new();
        let spec = node.spec(&format!("registries:\n{reg}"));
        let o = node.run(&["check"], &spec, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(words), "{}", text(&o));
    }
}

#[test]
fn unreadable_passwords_exit_2_name_the_culprit_and_write_nothing() {
    // (the auth line, the environment, what the error says)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            "password_file: missing.pw",
            &[],
            "cannot read password_file",
        ),
        ("password_file: empty.pw", &[], "password_file"),
        (
            "password_env: REGTRUST_T_UNSET",
            &[],
            "REGTRUST_T_UNSET is not set",
        ),
        (
            "password_env: REGTRUST_T_EMPTY",
            &[("REGTRUST_T_EMPTY", "")],
            "REGTRUST_T_EMPTY is empty",
        ),
    ];
    for (source, env, words) in cases {
        let node = Node::new();
        fs::write(node.dir.join("empty.pw"), "\n").unwrap();
        let spec = node.spec(&format!(
            "registries:\n  - host: reg.example:5000\n    auth:\n      username: alice\n      {source}\n"
        ));
        // check does not read it: a CI machine without the secret can check the spec.
        let o = node.run(&["check"], &spec, env);
        assert_eq!(o.status.code(), Some(0), "{source}: {}", text(&o));
        let root = node.root.to_str().unwrap();
        let out_dir = node.dir.join("out");
        let out_s = out_dir.to_str().unwrap();
        for args in [
            &["apply", "--root", root, "--containerd", "1.7"][..],
            &["apply", "--root", root, "--containerd", "1.7", "--dry-run"],
            &["render", "--target", "json"],
            &["render", "--target", "hosts", "--out", out_s],
        ] {
            let o = node.run(args, &spec, env);
            let out = text(&o);
            assert_eq!(o.status.code(), Some(2), "{source} {args:?}: {out}");
            assert!(out.contains("error[secret-unreadable]"), "{out}");
            assert!(out.contains(words), "{source}: {words}: {out}");
            assert!(out.contains(":4:7"), "the position of `auth`: {out}");
            assert!(out.contains("nothing was written"), "{out}");
        }
        assert!(snapshot(&node.root).is_empty(), "{source}: written");
        assert!(!out_dir.exists(), "{source}: render wrote");
    }
}

#[test]
fn check_warns_about_inline_passwords_and_http_without_showing_them() {
    let node = Node::new();
    let spec = node.spec(&format!(
        "registries:\n  - host: reg.example:5000\n    http: true\n    auth: {{username: alice, password: {ALICE_PW}, method: header}}\n"
    ));
    let o = node.run(&["check"], &spec, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("warning[inline-password]"), "{out}");
    assert!(out.contains("warning[auth-on-http]"), "{out}");
    assert!(out.contains(":4:"), "the line stays: {out}");
    // Upstream credentials with `fallback: false` would never be sent.
    let unused = node.dir.join("unused.yaml");
    fs::write(
        &unused,
        "registries:\n  - host: r.example\n    fallback: false\n    auth: {username: a, password_env: X}\n    endpoints: [{url: \"https://m.example\"}]\n",
    )
    .unwrap();
    let o = node.run(&["check"], &unused, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("warning[auth-unused]"), "{}", text(&o));
    // An inline password is read from the spec by apply, no file needed.
    let o = node.apply(&spec, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let written = fs::read_to_string(node.hosts_toml()).unwrap();
    assert!(written.contains(&token("alice", ALICE_PW)), "{written}");
}

#[test]
fn each_host_gets_only_its_own_credentials_in_a_0600_file() {
    let node = Node::new();
    let spec = node.spec(SPEC);
    let out = node.dir.join("out");
    let o = node.run(
        &[
            "render",
            "--target",
            "hosts",
            "--out",
            out.to_str().unwrap(),
        ],
        &spec,
        &[("MIRROR_PW", BOB_PW)],
    );
    assert!(o.status.success(), "{}", text(&o));
    let file = out.join("reg.example:5000/hosts.toml");
    assert_eq!(mode_of(&file), 0o600);
    let doc: toml_edit::DocumentMut = fs::read_to_string(&file).unwrap().parse().unwrap();
    let auth = |t: &dyn toml_edit::TableLike| {
        t.get("header")
            .and_then(|h| h.as_table_like())
            .and_then(|h| h.get("Authorization"))
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
    };
    assert_eq!(
        auth(doc.as_table()),
        Some(format!("Basic {}", token("alice", ALICE_PW))),
        "the upstream (root) has alice"
    );
    let mirror = doc["host"]["https://mirror.example:5001"]
        .as_table_like()
        .unwrap();
    assert_eq!(
        auth(mirror),
        Some(format!("Basic {}", token("bob", BOB_PW))),
        "the mirror has bob"
    );
    // A spec without credentials keeps 0644.
    let plain = node.spec("registries:\n  - host: reg.example:5000\n");
    let out2 = node.dir.join("out2");
    let o = node.run(
        &[
            "render",
            "--target",
            "hosts",
            "--out",
            out2.to_str().unwrap(),
        ],
        &plain,
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mode_of(&out2.join("reg.example:5000/hosts.toml")), 0o644);
}

#[test]
fn render_json_redacts_unless_asked() {
    let node = Node::new();
    let spec = node.spec(SPEC);
    let env = [("MIRROR_PW", BOB_PW)];
    let o = node.run(&["render", "--target", "json"], &spec, &env);
    assert!(o.status.success(), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &json["files"][0];
    assert_eq!(f["mode"], "0600");
    assert!(
        f["content"]
            .as_str()
            .unwrap()
            .contains("Authorization = [\"Basic <redacted>\"]"),
        "{f}"
    );
    // --out: the file is 0600 (it may hold the credentials with --show-secrets).
    let out = node.dir.join("plan.json");
    let mut c = Command::new(regtrust_bin());
    c.args(["render", "--target", "json", "--show-secrets", "--out"])
        .arg(&out)
        .arg("--spec")
        .arg(&spec)
        .env("MIRROR_PW", BOB_PW);
    let o = run(&mut c);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mode_of(&out), 0o600);
    let shown = fs::read_to_string(&out).unwrap();
    assert!(shown.contains(&token("alice", ALICE_PW)), "{shown}");
    assert!(shown.contains(&token("bob", BOB_PW)), "{shown}");
    // The boot-time outputs: tests/fast/auth_channels.rs.
    let o = node.run(
        &["render", "--target", "hosts", "--show-secrets"],
        &spec,
        &env,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn apply_keeps_credentials_out_of_every_printed_line_and_out_of_the_backup() {
    let node = Node::new();
    // The user's own hosts.toml, without credentials, is kept as .bak on the first apply.
    let own = "server = \"https://reg.example:5000\"\n";
    fs::create_dir_all(node.hosts_toml().parent().unwrap()).unwrap();
    fs::write(node.hosts_toml(), own).unwrap();
    fs::set_permissions(node.hosts_toml(), fs::Permissions::from_mode(0o644)).unwrap();
    let spec = node.spec(SPEC);
    let dry = node.apply(&spec, &["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("+Authorization = [\"Basic <redacted>\"]"),
        "{}",
        text(&dry)
    );
    let first = node.apply(&spec, &[]);
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(mode_of(&node.hosts_toml()), 0o600);
    let bak = node.hosts_toml().with_extension("toml.bak");
    assert_eq!(
        fs::read_to_string(&bak).unwrap(),
        own,
        "the .bak is the original"
    );
    assert_eq!(mode_of(&bak), 0o644);
    let check = node.apply(&spec, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    // A new password: the diff says so without showing either; the .bak is untouched.
    fs::write(node.dir.join("alice.pw"), format!("{NEW_PW}\n")).unwrap();
    let dry = node.apply(&spec, &["--dry-run"]);
    assert!(
        text(&dry).contains("(credentials changed, not shown)"),
        "{}",
        text(&dry)
    );
    let check = node.apply(&spec, &["--check"]);
    assert_eq!(check.status.code(), Some(1), "drift: {}", text(&check));
    let second = node.apply(&spec, &[]);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        fs::read_to_string(node.hosts_toml())
            .unwrap()
            .contains(&token("alice", NEW_PW))
    );
    assert_eq!(mode_of(&node.hosts_toml()), 0o600);
    assert_eq!(
        fs::read_to_string(&bak).unwrap(),
        own,
        "the .bak never gains a secret"
    );
    // No file anywhere under the root but the 0600 hosts.toml holds a credential.
    for (path, content) in snapshot(&node.root) {
        if secrets().iter().any(|s| content.contains(s)) {
            assert!(path.ends_with("reg.example:5000/hosts.toml"), "{path}");
        }
    }
    // The registry leaves the spec: the removal's diff shows the old file redacted.
    let other = node.spec("registries:\n  - host: other.example\n");
    let dry = node.apply(&other, &["--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        text(&dry).contains("-Authorization = [\"Basic <redacted>\"]"),
        "{}",
        text(&dry)
    );
}

#[test]
fn doctor_check_json_and_the_terraform_source_print_no_credentials() {
    let node = Node::new();
    let spec = node.spec(SPEC);
    assert!(node.apply(&spec, &[]).status.success());
    let root = node.root.to_str().unwrap();
    for format in ["text", "json"] {
        let mut c = Command::new(regtrust_bin());
        c.args(["doctor", "--root", root, "--containerd", "1.7"])
            .args(["--image", "reg.example:5000/a/b:1", "--format", format]);
        let o = run(&mut c);
        assert_ne!(o.status.code(), Some(3), "{}", text(&o));
        assert_no_secret(&format!("doctor --format {format}"), &text(&o));
    }
    // A user's own hosts.toml with a credential on a line doctor reports (it does not parse):
    // the diagnostic keeps the position and leaves the line out.
    let own = node
        .root
        .join("etc/containerd/certs.d/own.example/hosts.toml");
    fs::create_dir_all(own.parent().unwrap()).unwrap();
    fs::write(
        &own,
        format!(
            "server = \"https://own.example\"\n[host.\"https://own.example\".header]\n\
             Authorization = \"Basic {}\" oops\n",
            token("alice", ALICE_PW)
        ),
    )
    .unwrap();
    for format in ["text", "json"] {
        let mut c = Command::new(regtrust_bin());
        c.args([
            "doctor",
            "--root",
            root,
            "--containerd",
            "1.7",
            "--format",
            format,
        ]);
        let o = run(&mut c);
        let out = text(&o);
        assert!(out.contains("own.example/hosts.toml"), "{out}");
        assert_no_secret(&format!("doctor on a broken file, {format}"), &out);
    }
    // check --format json of a spec with an inline password.
    let inline = node.spec(&format!(
        "registries:\n  - host: r.example\n    auth: {{username: alice, password: {ALICE_PW}}}\n"
    ));
    let o = node.run(&["check", "--format", "json"], &inline, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("inline-password"), "{}", text(&o));
    // The Terraform data source refuses credentials (its result is clear-text state).
    let query = serde_json::json!({ "spec": SPEC, "containerd": "1.7" }).to_string();
    let o = run_with_input(
        Command::new(regtrust_bin())
            .arg("terraform-external")
            .env("MIRROR_PW", BOB_PW),
        &query,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("does not carry"), "{}", text(&o));
    assert_no_secret("terraform-external", &text(&o));
}

/// `apply --format json` (what the Ansible module reads): `--check`, `--dry-run` (with the diff)
/// and the real run each print one object saying what changes and whether containerd must
/// restart; a second run reports no change; none of them prints a password or its base64 (the
/// diff reads `Basic <redacted>`), and nothing is written before the real run.
#[test]
fn apply_format_json_reports_changes_restart_and_no_secret() {
    let node = Node::new();
    fs::write(
        node.root.join("etc/containerd/config.toml"),
        "version = 2\n",
    )
    .unwrap();
    let spec = node.spec(SPEC);
    let before = snapshot(&node.root);
    let json = |o: &Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(o)))
    };
    let hosts = "/etc/containerd/certs.d/reg.example:5000/hosts.toml";
    let config = "/etc/containerd/config.toml";

    let o = node.apply(&spec, &["--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "check");
    assert_eq!(v["changed"], true);
    assert_eq!(v["restart"], "containerd must restart");
    assert!(v.get("diff").is_none());

    let o = node.apply(&spec, &["--dry-run", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "dry-run");
    assert_eq!(v["files_changed"], serde_json::json!([hosts, config]));
    let diff = v["diff"].as_str().unwrap();
    assert!(diff.contains("+++ /etc/containerd/config.toml"), "{diff}");
    assert!(diff.contains("Basic <redacted>"), "{diff}");
    assert_eq!(
        snapshot(&node.root),
        before,
        "check/dry-run wrote something"
    );

    let o = node.apply(&spec, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v = json(&o);
    assert_eq!(v["mode"], "apply");
    assert_eq!(v["changed"], true);
    assert_eq!(v["files_changed"], serde_json::json!([hosts, config]));
    assert_eq!(
        v["changes"],
        serde_json::json!([
            {"path": hosts, "action": "create"},
            {"path": config, "action": "update"}
        ])
    );
    assert_eq!(v["restart"], "containerd must restart");
    assert_eq!(v["containerd"], "1.7");
    assert!(v["notes"].is_array());
    assert_eq!(mode_of(&node.hosts_toml()), 0o600);

    let o = node.apply(&spec, &["--format", "json"]);
    let v = json(&o);
    assert_eq!(v["changed"], false, "{}", text(&o));
    assert_eq!(v["files_changed"], serde_json::json!([]));
    assert_eq!(v["restart"], "none");
    let o = node.apply(&spec, &["--check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// A password with the characters TOML must escape.
const ODD_PW: &str = "odd\"Pw\\7Tz";

/// `method: config` (the default before containerd 2.1): a `registry.configs."host".auth` table
/// per host at the end of config.toml, after a marker, the file 0600 (said), nothing in
/// hosts.toml, every printed form redacted; a re-apply changes nothing; another method or a
/// spec without credentials takes the tables out again, leaving the file as a spec without
/// credentials would; the file's own table for a spec host is replaced (said), another host's
/// kept. From 2.1 on the default is the header.
#[test]
fn config_method_writes_config_toml_tables_0600_and_takes_them_out_again() {
    let node = Node::new();
    let cfg = node.root.join("etc/containerd/config.toml");
    let seed = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"other.example\".auth]\n  username = \"own\"\n  password = \"own-secret\"\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"reg.example:5000\".auth]\n  username = \"old\"\n  password = \"old-pw\"\n";
    fs::write(&cfg, seed).unwrap();
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(node.dir.join("odd.pw"), format!("{ODD_PW}\n")).unwrap();
    fs::write(node.dir.join("robot.token"), "idt-Fast-2Lq9\n").unwrap();
    let spec = node.spec(
        "registries:\n  - host: reg.example:5000\n    auth:\n      username: alice\n      \
         password_file: odd.pw\n    endpoints:\n      - url: https://mirror.example:5001\n        \
         auth:\n          identity_token_file: robot.token\n",
    );
    let secrets = [ODD_PW, "idt-Fast-2Lq9", "old-pw"];
    let no_secret = |what: &str, o: &Output| {
        for s in secrets {
            assert!(!text(o).contains(s), "{what} printed {s}: {}", text(o));
        }
    };
    let dry = node.apply(&spec, &["--dry-run"]);
    no_secret("dry-run", &dry);
    assert!(
        text(&dry).contains("password = \"<redacted>\""),
        "{}",
        text(&dry)
    );
    assert_eq!(fs::read_to_string(&cfg).unwrap(), seed, "dry-run wrote");
    let o = node.apply(&spec, &[]);
    no_secret("apply", &o);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("mode changes from 0644 to 0600"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("replaced the credentials config.toml had for reg.example:5000"),
        "{}",
        text(&o)
    );
    assert_eq!(mode_of(&cfg), 0o600);
    let written = fs::read_to_string(&cfg).unwrap();
    let doc: toml_edit::DocumentMut = written.parse().expect("valid TOML");
    let configs = &doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"];
    assert_eq!(
        configs["reg.example:5000"]["auth"]["username"].as_str(),
        Some("alice")
    );
    assert_eq!(
        configs["reg.example:5000"]["auth"]["password"].as_str(),
        Some(ODD_PW)
    );
    let mirror = &configs["mirror.example:5001"]["auth"];
    assert_eq!(mirror["identitytoken"].as_str(), Some("idt-Fast-2Lq9"));
    assert!(mirror.get("username").is_none(), "{written}");
    assert_eq!(
        configs["other.example"]["auth"]["password"].as_str(),
        Some("own-secret")
    );
    assert!(!written.contains("old-pw"), "{written}");
    assert_eq!(
        written.matches("# regtrust: credentials for ").count(),
        2,
        "{written}"
    );
    let hosts = fs::read_to_string(node.hosts_toml()).unwrap();
    assert!(
        !hosts.to_ascii_lowercase().contains("authorization"),
        "{hosts}"
    );
    assert_eq!(mode_of(&node.hosts_toml()), 0o644);
    // The backup is the file before: no credential of regtrust's.
    let bak = fs::read_to_string(node.root.join("etc/containerd/config.toml.bak")).unwrap();
    assert_eq!(bak, seed);
    // Idempotent.
    let again = node.apply(&spec, &[]);
    assert!(text(&again).contains("nothing to do"), "{}", text(&again));
    assert_eq!(fs::read_to_string(&cfg).unwrap(), written);

    // Without credentials the marked tables leave, and the file is what a spec without
    // credentials gives from the same seed (its own table for other.example kept).
    let plain = node.spec("registries:\n  - host: reg.example:5000\n");
    assert!(node.apply(&plain, &[]).status.success());
    let after = fs::read_to_string(&cfg).unwrap();
    assert!(!after.contains("# regtrust: credentials"), "{after}");
    let fresh = Node::new();
    let fresh_cfg = fresh.root.join("etc/containerd/config.toml");
    let seed_without_spec_host = seed
        .split("\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"reg.example:5000\"")
        .next()
        .unwrap()
        .to_string()
        + "\n";
    fs::write(&fresh_cfg, &seed_without_spec_host).unwrap();
    let plain2 = fresh.spec("registries:\n  - host: reg.example:5000\n");
    assert!(fresh.apply(&plain2, &[]).status.success());
    assert_eq!(after, fs::read_to_string(&fresh_cfg).unwrap());

    // From containerd 2.1 on the default is the header (no restart, token exchange included).
    let v21 = Node::new();
    let spec21 = v21.spec(
        "registries:\n  - host: reg.example:5000\n    auth:\n      username: alice\n      \
         password_file: alice.pw\n",
    );
    let root = v21.root.to_str().unwrap();
    let o = v21.run(
        &["apply", "--root", root, "--containerd", "2.1"],
        &spec21,
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let hosts = fs::read_to_string(v21.hosts_toml()).unwrap();
    assert!(hosts.contains(&token("alice", ALICE_PW)), "{hosts}");
    let cfg21 = fs::read_to_string(v21.root.join("etc/containerd/config.toml")).unwrap();
    assert!(!cfg21.contains("password"), "{cfg21}");
}

/// Credentials config.toml cannot take as appended tables (its `configs` is an inline table):
/// refused with exit 3, nothing written. Render outputs that cannot carry config-method
/// credentials refuse them (naming the host and the ways out) instead of dropping them; the boot
/// outputs carry them.
#[test]
fn config_method_refusals_write_nothing() {
    let node = Node::new();
    let cfg = node.root.join("etc/containerd/config.toml");
    let seed = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  configs = { \"reg.example:5000\" = { tls = { insecure_skip_verify = false } } }\n";
    fs::write(&cfg, seed).unwrap();
    let spec = node.spec(
        "registries:\n  - host: reg.example:5000\n    auth:\n      username: alice\n      \
         password_file: alice.pw\n",
    );
    let before = snapshot(&node.root);
    let o = node.apply(&spec, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("registry.configs cannot take the credentials"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&node.root), before, "something was written");
    let cases: [&[&str]; 3] = [
        &["--target", "containerd-config"],
        &["--target", "cloud-init", "--hosts-only"],
        &["--target", "cloud-init", "--escape", "terraform"],
    ];
    for target in cases {
        let args = [&["render", "--containerd", "1.7"][..], target].concat();
        let o = node.run(&args, &spec, &[]);
        assert_eq!(o.status.code(), Some(2), "{target:?}: {}", text(&o));
        assert!(
            text(&o).contains("the credentials for reg.example:5000")
                && text(&o).contains("`method: header`")
                && text(&o).contains("nothing was written"),
            "{target:?}: {}",
            text(&o)
        );
    }
    // The boot outputs carry config.toml's credentials in a 0600 file their script appends.
    let o = run(Command::new(regtrust_bin())
        .args([
            "render",
            "--target",
            "cloud-init",
            "--containerd",
            "1.7",
            "--spec",
        ])
        .arg(&spec));
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("path: \"/etc/containerd/config.toml.regtrust-credentials\"")
            && stdout.contains(&format!("password = \\\"{ALICE_PW}\\\"")),
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains(ALICE_PW));
    // The plan as JSON lists them, redacted unless --show-secrets.
    let o = node.run(
        &["render", "--target", "json", "--containerd", "1.7"],
        &spec,
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["config_credentials"][0]["host"], "reg.example:5000",
        "{v}"
    );
    assert_eq!(v["config_credentials"][0]["value"], "<redacted>", "{v}");
    let o = run(Command::new(regtrust_bin())
        .args([
            "render",
            "--target",
            "json",
            "--containerd",
            "1.7",
            "--show-secrets",
            "--spec",
        ])
        .arg(&spec));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["config_credentials"][0]["value"], ALICE_PW, "{v}");
    // Written to a file, the plan with credentials is 0600.
    let out = node.dir.join("plan.json");
    let o = run(Command::new(regtrust_bin())
        .args(["render", "--target", "json", "--containerd", "1.7", "--out"])
        .arg(&out)
        .arg("--spec")
        .arg(&spec));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(mode_of(&out), 0o600);
    // For 2.1 the default is the header: the user-data carries it (on stdout, the one place).
    let o = run(Command::new(regtrust_bin())
        .args([
            "render",
            "--target",
            "cloud-init",
            "--containerd",
            "2.1",
            "--spec",
        ])
        .arg(&spec));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&token("alice", ALICE_PW)),
        "{}",
        text(&o)
    );
}

/// A mirror shared by two registries with two different logins: a warning at the second
/// (containerd keeps one login per host); the same login twice: nothing.
#[test]
fn two_logins_for_one_host_are_warned_about() {
    let node = Node::new();
    let two = |second: &str| {
        format!(
            "registries:\n  - host: a.example\n    endpoints:\n      - url: https://m.example\n        \
             auth: {{username: x, password_env: A}}\n  - host: b.example\n    endpoints:\n      - \
             url: https://m.example\n        auth: {{username: {second}, password_env: A}}\n"
        )
    };
    let o = node.run(&["check"], &node.spec(&two("y")), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("warning[auth-conflict]") && text(&o).contains(":9:15"),
        "{}",
        text(&o)
    );
    let o = node.run(&["check"], &node.spec(&two("x")), &[]);
    assert!(!text(&o).contains("auth-conflict"), "{}", text(&o));
}
