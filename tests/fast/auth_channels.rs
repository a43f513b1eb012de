//! Credentials (#15) through the boot-time outputs: cloud-init and Ignition carry them in files
//! of mode 0600 (`owner: root:root`), with a warning on stderr that never holds them, and a
//! `--out` file created 0600; `--escape terraform` turns each header into `${regtrust_auth_N}`
//! without reading any password; the installer holds none, reads each from the environment at
//! run time, and writes nothing without it; the Terraform data source refuses. Cloud-init's own
//! modules, real containerd pulls and ignition-validate: tests/real/auth_channels.rs.
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

use crate::support::*;

const ALICE_PW: &str = "alice-Chan-3Rt8";
const BOB_PW: &str = "bob-Chan-7Wp1";

fn basic(user: &str, pw: &str) -> String {
    let t = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    format!("Basic {t}")
}

fn secrets() -> Vec<String> {
    vec![
        ALICE_PW.into(),
        BOB_PW.into(),
        basic("alice", ALICE_PW)["Basic ".len()..].to_string(),
        basic("bob", BOB_PW)["Basic ".len()..].to_string(),
    ]
}

fn assert_no_secret(what: &str, out: &str) {
    for s in secrets() {
        assert!(!out.contains(&s), "{what} printed a secret ({s}):\n{out}");
    }
}

/// alice's password in a file (relative to the spec), bob's in MIRROR_PW.
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

const HOSTS_TOML: &str = "/etc/containerd/certs.d/reg.example:5000/hosts.toml";

struct Dir {
    _d: tempfile::TempDir,
    path: PathBuf,
    spec: PathBuf,
}

fn dir() -> Dir {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().to_path_buf();
    fs::write(path.join("alice.pw"), format!("{ALICE_PW}\n")).unwrap();
    let spec = path.join("spec.yaml");
    fs::write(&spec, SPEC).unwrap();
    Dir { _d: d, path, spec }
}

/// `regtrust render --spec SPEC --containerd 1.7 args…`, MIRROR_PW set when `with_env`; stderr
/// is checked for secrets.
fn render(d: &Dir, args: &[&str], with_env: bool) -> Output {
    let mut c = Command::new(regtrust_bin());
    c.args(["render", "--containerd", "1.7", "--spec"])
        .arg(&d.spec)
        .args(args)
        .env_remove("MIRROR_PW");
    if with_env {
        c.env("MIRROR_PW", BOB_PW);
    }
    let o = run(&mut c);
    assert_no_secret(
        &format!("stderr of render {args:?}"),
        &String::from_utf8_lossy(&o.stderr),
    );
    o
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// path → (owner, permissions, content) of a `#cloud-config` document's write_files.
fn write_files(doc: &str) -> Vec<(String, String, String, String)> {
    let v: Value = serde_saphyr::from_str(doc).unwrap();
    v["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("path"), s("owner"), s("permissions"), s("content"))
        })
        .collect()
}

#[test]
fn cloud_init_carries_credentials_in_root_owned_0600_files_and_warns() {
    let d = dir();
    let o = render(&d, &["--target", "cloud-init"], true);
    assert!(o.status.success(), "{}", text(&o));
    let doc = stdout(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: this user-data carries registry credentials")
            && err.contains("instance metadata"),
        "{err}"
    );
    let files = write_files(&doc);
    let (_, owner, perm, content) = files
        .iter()
        .find(|f| f.0 == HOSTS_TOML)
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!((owner.as_str(), perm.as_str()), ("root:root", "0600"));
    // Each host gets its own credential, and only the user-data carries it.
    assert!(content.contains(&basic("bob", BOB_PW)), "{content}");
    assert!(content.contains(&basic("alice", ALICE_PW)), "{content}");
    // --out: created 0600.
    let out = d.path.join("user-data.yaml");
    let o = render(
        &d,
        &["--target", "cloud-init", "--out", out.to_str().unwrap()],
        true,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_no_secret("stdout with --out", &stdout(&o));
    assert_eq!(mode_of(&out), 0o600);
    assert_eq!(fs::read_to_string(&out).unwrap(), doc);
    // The gz+b64 encoding carries them too (the file modes are the same).
    let o = render(
        &d,
        &["--target", "cloud-init", "--encoding", "gz+b64"],
        true,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_no_secret("gz+b64 user-data", &stdout(&o));
    let perm = write_files(&stdout(&o))
        .into_iter()
        .find(|f| f.0 == HOSTS_TOML)
        .unwrap()
        .2;
    assert_eq!(perm, "0600");
}

#[test]
fn a_spec_without_credentials_gets_no_warning_and_0644() {
    let d = dir();
    fs::write(&d.spec, "registries:\n  - host: reg.example:5000\n").unwrap();
    let o = render(&d, &["--target", "cloud-init"], false);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("credentials"), "{}", text(&o));
    let perm = write_files(&stdout(&o))
        .into_iter()
        .find(|f| f.0 == HOSTS_TOML)
        .unwrap()
        .2;
    assert_eq!(perm, "0644");
}

#[test]
fn escape_terraform_makes_each_credential_a_variable_without_reading_a_password() {
    let d = dir();
    // Neither the file nor the variable exists: the passwords are never read.
    fs::remove_file(d.path.join("alice.pw")).unwrap();
    let o = render(
        &d,
        &["--target", "cloud-init", "--escape", "terraform"],
        false,
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc = stdout(&o);
    assert!(!doc.contains("Basic "), "{doc}");
    assert_no_secret("the template", &doc);
    for n in [1, 2] {
        assert_eq!(
            doc.matches(&format!("Authorization = [\"${{regtrust_auth_{n}}}\"]"))
                .count(),
            1,
            "{doc}"
        );
    }
    // The variables are named on stderr with what they hold, in the spec's order.
    let err = String::from_utf8_lossy(&o.stderr);
    let a = err
        .find("regtrust_auth_1 = \"Basic ${base64encode(\"alice:")
        .unwrap_or_else(|| panic!("{err}"));
    let b = err
        .find("regtrust_auth_2 = \"Basic ${base64encode(\"bob:")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(a < b, "{err}");
    // A MIME part (ASCII: 7bit) keeps the variables too.
    let o = render(
        &d,
        &["--target", "cloud-init", "--escape", "terraform", "--mime"],
        false,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        stdout(&o).contains("[\"${regtrust_auth_2}\"]"),
        "{}",
        text(&o)
    );
    // The template still declares the file 0600.
    let hosts = doc.find(HOSTS_TOML).unwrap();
    assert!(doc[hosts..].contains("permissions: '0600'"), "{doc}");
    // An encoding that would hide the stand-in is refused, and so is a user variable in
    // regtrust's name space.
    let o = render(
        &d,
        &[
            "--target",
            "cloud-init",
            "--escape",
            "terraform",
            "--encoding",
            "gz+b64",
        ],
        false,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("use --encoding plain"), "{}", text(&o));
    let o = render(
        &d,
        &[
            "--target",
            "cloud-init",
            "--escape",
            "terraform",
            "--template-var",
            "regtrust_auth_1=reg.example",
        ],
        false,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("regtrust's"), "{}", text(&o));
}

#[test]
fn ignition_files_with_credentials_are_0600_and_warned_about() {
    let d = dir();
    let out = d.path.join("config.ign");
    let o = render(
        &d,
        &["--target", "ignition", "--out", out.to_str().unwrap()],
        true,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("warning: this Ignition config carries registry credentials"),
        "{}",
        text(&o)
    );
    assert_eq!(mode_of(&out), 0o600);
    let config: Value = serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    let files = crate::support::ignition::files(&config);
    let (m, bytes) = &files[HOSTS_TOML];
    assert_eq!(*m, 0o600, "decimal 384");
    let content = String::from_utf8_lossy(bytes);
    assert!(content.contains(&basic("alice", ALICE_PW)), "{content}");
    assert!(content.contains(&basic("bob", BOB_PW)), "{content}");
    let o = render(&d, &["--target", "ignition", "--escape", "terraform"], true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("data URLs"), "{}", text(&o));
}

#[test]
fn installer_reads_passwords_from_the_environment_and_writes_nothing_without_them() {
    let d = dir();
    fs::remove_file(d.path.join("alice.pw")).unwrap();
    let o = render(&d, &["--target", "script"], false);
    assert!(o.status.success(), "{}", text(&o));
    let script_text = stdout(&o);
    assert_no_secret("the installer", &script_text);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("REGTRUST_AUTH_REG_EXAMPLE_5000")
            && err.contains("MIRROR_PW")
            && err.contains("an image built with it contains them"),
        "{err}"
    );
    let script = d.path.join("install.sh");
    fs::write(&script, &script_text).unwrap();
    let root = d.path.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let before = snapshot(&root);
    let sh = |env: &[(&str, &str)]| {
        let mut c = Command::new("sh");
        c.arg(&script)
            .arg("--root")
            .arg(&root)
            .env_remove("MIRROR_PW")
            .env_remove("REGTRUST_AUTH_REG_EXAMPLE_5000");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = run(&mut c);
        assert_no_secret("the installer's output", &text(&o));
        o
    };
    // Without either variable, or with one of them empty: exit 1, nothing written (not even
    // the lock file).
    for env in [
        &[][..],
        &[("REGTRUST_AUTH_REG_EXAMPLE_5000", ALICE_PW)][..],
        &[
            ("REGTRUST_AUTH_REG_EXAMPLE_5000", ALICE_PW),
            ("MIRROR_PW", ""),
        ][..],
    ] {
        let o = sh(env);
        assert_eq!(o.status.code(), Some(1), "{env:?}: {}", text(&o));
        assert!(text(&o).contains("nothing was written"), "{}", text(&o));
        assert_eq!(snapshot(&root), before, "{env:?}");
        assert!(!root.join("run").exists(), "{env:?}");
    }
    let env = [
        ("REGTRUST_AUTH_REG_EXAMPLE_5000", ALICE_PW),
        ("MIRROR_PW", BOB_PW),
    ];
    let o = sh(&env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("an image built with this script contains them"),
        "{}",
        text(&o)
    );
    let hosts = root.join(HOSTS_TOML.trim_start_matches('/'));
    assert_eq!(mode_of(&hosts), 0o600);
    let written = fs::read_to_string(&hosts).unwrap();
    assert!(written.contains(&basic("alice", ALICE_PW)), "{written}");
    assert!(written.contains(&basic("bob", BOB_PW)), "{written}");
    // Exactly the hosts.toml the user-data carries (and `apply` writes).
    let o = render(&d, &["--target", "cloud-init"], true);
    assert_eq!(o.status.code(), Some(2), "alice.pw is gone: {}", text(&o));
    fs::write(d.path.join("alice.pw"), format!("{ALICE_PW}\n")).unwrap();
    let o = render(&d, &["--target", "cloud-init"], true);
    let from_user_data = write_files(&stdout(&o))
        .into_iter()
        .find(|f| f.0 == HOSTS_TOML)
        .unwrap()
        .3;
    assert_eq!(written, from_user_data);
    // Idempotent.
    let o = sh(&env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already up to date"), "{}", text(&o));
    assert!(!text(&o).contains("updated /"), "{}", text(&o));
    // A password_env that is no shell name cannot be read by the installer.
    fs::write(&d.spec, SPEC.replace("MIRROR_PW", "MIRROR-PW")).unwrap();
    let o = render(&d, &["--target", "script"], false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("not a shell variable name"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_terraform_data_source_refuses_credentials_and_names_the_template_way() {
    let query = serde_json::json!({ "spec": SPEC.replace("alice.pw", "/nonexistent"), "containerd": "1.7" })
        .to_string();
    let o = run_with_input(
        Command::new(regtrust_bin())
            .arg("terraform-external")
            .env("MIRROR_PW", BOB_PW),
        &query,
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("Terraform state in clear text")
            && text(&o).contains("--escape terraform"),
        "{}",
        text(&o)
    );
    assert_no_secret("terraform-external", &text(&o));
}
