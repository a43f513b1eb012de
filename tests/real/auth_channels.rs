//! Credentials (#15) through the boot-time outputs, end to end, on containerd 1.6.20, 1.7.24 and
//! 2.1.9 pulling over CRI from a docker-registry that demands HTTP Basic auth (htpasswd):
//! - cloud-init's own write_files/runcmd modules run the user-data on a scratch root: the
//!   hosts.toml it writes is root-owned 0600 and the pull works; negative control: the same spec
//!   without `auth` → 401;
//! - `--escape terraform`: the real `terraform` fills `${regtrust_auth_1}` with templatefile()
//!   from a sensitive variable (the password only in TF_VAR_…), cloud-init runs the result, the
//!   pull works;
//! - the installer (dash): without its environment variable it fails and writes nothing; with a
//!   wrong password → 401 (the value is the variable's); with the right one → pulls, 0600 root;
//! - ignition-validate accepts an Ignition config with credentials (hosts.toml mode 384).
//!
//! No printed output (stderr of render, cloud-init's and the installer's output) carries a
//! password or its base64.
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::auth_servers::*;
use crate::support::*;
use crate::system::*;
use crate::tls_servers::Net;

const HOST: &str = "auth-channels.test:5000";
const IMAGE: &str = "auth-channels.test:5000/demo/channels:1";
const HOSTS_TOML: &str = "etc/containerd/certs.d/auth-channels.test:5000/hosts.toml";
const ENV: &str = "REGTRUST_AUTH_AUTH_CHANNELS_TEST_5000";
const DAVE_PW: &str = "dave-Pw-4Hs9Lk";
const WRONG_PW: &str = "dave-Wrong-2Mx6";

fn secrets() -> Vec<String> {
    let token = |p: &str| basic("dave", p)["Basic ".len()..].to_string();
    vec![
        DAVE_PW.into(),
        WRONG_PW.into(),
        token(DAVE_PW),
        token(WRONG_PW),
    ]
}

fn assert_no_secret(what: &str, out: &str) {
    for s in secrets() {
        assert!(!out.contains(&s), "{what} printed a secret ({s}):\n{out}");
    }
}

struct World {
    work: PathBuf,
    hosts: PathBuf,
    registry: AuthRegistry,
    /// The spec with dave's password in a file, and the same spec without `auth`.
    spec: PathBuf,
    no_auth: PathBuf,
}

fn world() -> World {
    require_e2e_prerequisites();
    let work = work_dir("auth-channels");
    let net = Net::for_test(1);
    let registry = AuthRegistry::start(
        &work.join("registry"),
        "channels",
        &format!("{}:5000", net.ip(1)),
        &format!("{}:5000", net.ip(3)),
        "dave",
        DAVE_PW,
    );
    let image = work.join("image");
    fs::create_dir_all(&image).unwrap();
    registry.push(
        &make_image(&image, "through every output"),
        "demo/channels:1",
    );
    let hosts = work.join("hosts");
    fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n{} auth-channels.test\n", net.ip(3)),
    )
    .unwrap();
    let pw = work.join("dave.pw");
    fs::write(&pw, format!("{DAVE_PW}\n")).unwrap();
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).unwrap();
    let head = format!("registries:\n  - host: {HOST}\n    http: true\n");
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        format!(
            "{head}    auth:\n      username: dave\n      password_file: {}\n      method: header\n",
            pw.display()
        ),
    )
    .unwrap();
    let no_auth = work.join("no-auth.yaml");
    fs::write(&no_auth, head).unwrap();
    World {
        work,
        hosts,
        registry,
        spec,
        no_auth,
    }
}

/// `regtrust render --spec SPEC --containerd V args…`: success, stderr without secrets; stdout.
fn render(spec: &Path, version: &str, args: &[&str]) -> String {
    let o = run(Command::new(regtrust_bin())
        .args(["render", "--containerd", version, "--spec"])
        .arg(spec)
        .args(args));
    assert!(o.status.success(), "render {args:?}: {}", text(&o));
    assert_no_secret(
        &format!("stderr of render {args:?}"),
        &String::from_utf8_lossy(&o.stderr),
    );
    String::from_utf8(o.stdout).unwrap()
}

fn unauthorized(err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    ["401", "unauthorized", "authorization failed"]
        .iter()
        .any(|m| e.contains(m))
}

fn containerd_requests(r: &AuthRegistry, mark: u64) -> Vec<Request> {
    r.since(mark)
        .into_iter()
        .filter(|r| r.line.contains("containerd/"))
        .collect()
}

fn seeded_root(dir: &Path, version: &str) -> PathBuf {
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        debian_config(version),
    )
    .unwrap();
    root
}

fn assert_private(what: &str, root: &Path) {
    let meta = fs::metadata(root.join(HOSTS_TOML)).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "{what}: hosts.toml mode");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "{what}: hosts.toml owner");
}

/// A pull that must succeed, every request of containerd authenticated as dave at once.
fn pulls(what: &str, ctd: &Containerd, w: &World) {
    let mark = w.registry.mark();
    ctd.cri_pull(IMAGE)
        .unwrap_or_else(|e| panic!("{what}: pull: {e}\n{}", ctd.log_tail()));
    let seen = containerd_requests(&w.registry, mark);
    assert!(
        seen.iter()
            .any(|r| r.line.starts_with("GET /v2/demo/channels/blobs/") && r.status == 200)
            && seen.iter().all(|r| r.user == "dave" && r.status != 401),
        "{what}: {seen:#?}"
    );
}

/// A pull that must be refused with 401; `user`: what the registry saw ("-": no credentials).
fn refused(what: &str, ctd: &Containerd, w: &World, user: &str) {
    let mark = w.registry.mark();
    let err = ctd
        .cri_pull(IMAGE)
        .expect_err("pulled without the right credentials");
    assert!(unauthorized(&err), "{what}: {err}");
    let seen = containerd_requests(&w.registry, mark);
    assert!(
        !seen.is_empty() && seen.iter().all(|r| r.status == 401 && r.user == user),
        "{what}: {seen:#?}"
    );
}

/// cloud-init's modules on `userdata` over `root`: success, nothing printed carries a secret.
fn cloud_init(what: &str, userdata: &Path, root: &Path) {
    let o = run_cloud_init(userdata, root);
    assert!(o.status.success(), "{what}: cloud-init:\n{}", text(&o));
    assert!(
        text(&o).contains("set config_path"),
        "{what}:\n{}",
        text(&o)
    );
    assert_no_secret(&format!("{what}: cloud-init"), &text(&o));
}

fn through_cloud_init(w: &World, version: &str) {
    let dir = w.work.join(format!("cloud-init-{version}"));
    // Negative control: the same registry without `auth` in the spec.
    let root = seeded_root(&dir.join("no-auth"), version);
    let userdata = dir.join("no-auth.yaml");
    fs::write(
        &userdata,
        render(&w.no_auth, version, &["--target", "cloud-init"]),
    )
    .unwrap();
    cloud_init(&format!("{version} no auth"), &userdata, &root);
    let ctd = Containerd::start(
        &containerd_bin(version),
        &root,
        &w.hosts,
        &dir.join("state-no-auth"),
    );
    refused(&format!("{version} cloud-init, no auth"), &ctd, w, "-");
    drop(ctd);

    // The user-data carries the credential: --out is 0600, the file cloud-init writes too.
    let root = seeded_root(&dir.join("auth"), version);
    let userdata = dir.join("auth.yaml");
    render(
        &w.spec,
        version,
        &[
            "--target",
            "cloud-init",
            "--out",
            userdata.to_str().unwrap(),
        ],
    );
    assert_eq!(
        fs::metadata(&userdata).unwrap().mode() & 0o7777,
        0o600,
        "user-data file"
    );
    cloud_init(&format!("{version} auth"), &userdata, &root);
    assert_private(&format!("{version} cloud-init"), &root);
    let ctd = Containerd::start(
        &containerd_bin(version),
        &root,
        &w.hosts,
        &dir.join("state-auth"),
    );
    pulls(&format!("{version} cloud-init"), &ctd, w);
    drop(ctd);

    // --escape terraform: terraform fills the variable from a sensitive one.
    let template = render(
        &w.spec,
        version,
        &["--target", "cloud-init", "--escape", "terraform"],
    );
    assert!(
        template.contains("Authorization = [\"${regtrust_auth_1}\"]"),
        "{template}"
    );
    assert_no_secret("the template", &template);
    let tf = dir.join("terraform");
    fs::create_dir_all(&tf).unwrap();
    fs::write(tf.join("user-data.tftpl"), &template).unwrap();
    fs::write(
        tf.join("main.tf"),
        r#"variable "registry_password" {
  type      = string
  sensitive = true
}

output "user_data" {
  sensitive = true
  value = templatefile("${path.module}/user-data.tftpl", {
    regtrust_auth_1 = "Basic ${base64encode("dave:${var.registry_password}")}"
  })
}
"#,
    )
    .unwrap();
    crate::terraform::terraform(&tf, &["init", "-input=false", "-no-color"]);
    let apply = run(Command::new("sh")
        .current_dir(&tf)
        .arg("-c")
        .arg("exec \"$0\" apply -auto-approve -input=false -no-color")
        .arg(terraform_bin())
        .env("TF_VAR_registry_password", DAVE_PW)
        .env("TF_CLI_CONFIG_FILE", tf.join(".terraformrc-empty"))
        .env("CHECKPOINT_DISABLE", "1"));
    assert!(apply.status.success(), "terraform apply: {}", text(&apply));
    assert_no_secret("terraform apply (a sensitive output)", &text(&apply));
    let filled = crate::terraform::terraform(&tf, &["output", "-raw", "user_data"]);
    let userdata = dir.join("filled.yaml");
    fs::write(&userdata, &filled.stdout).unwrap();
    let root = seeded_root(&dir.join("terraform"), version);
    cloud_init(&format!("{version} terraform"), &userdata, &root);
    assert_private(&format!("{version} terraform"), &root);
    let ctd = Containerd::start(
        &containerd_bin(version),
        &root,
        &w.hosts,
        &dir.join("state-terraform"),
    );
    pulls(&format!("{version} templatefile"), &ctd, w);
}

fn terraform_bin() -> PathBuf {
    let bin = Path::new("/usr/local/bin/terraform");
    if bin.exists() {
        bin.to_path_buf()
    } else {
        "terraform".into()
    }
}

fn through_the_installer(w: &World, version: &str) {
    let dir = w.work.join(format!("installer-{version}"));
    let root = seeded_root(&dir, version);
    let script = dir.join("install.sh");
    fs::write(&script, render(&w.spec, version, &["--target", "script"])).unwrap();
    assert_no_secret("the installer", &fs::read_to_string(&script).unwrap());
    let o = run(Command::new("shellcheck").arg(&script));
    assert!(o.status.success(), "shellcheck: {}", text(&o));
    let dash = |pw: Option<&str>| -> Output {
        let mut c = Command::new("dash");
        c.arg(&script).arg("--root").arg(&root).env_remove(ENV);
        if let Some(pw) = pw {
            c.env(ENV, pw);
        }
        let o = run(&mut c);
        assert_no_secret("the installer's output", &text(&o));
        o
    };
    let before = snapshot(&root);
    let o = dash(None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(ENV) && text(&o).contains("nothing was written"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&root), before, "written without the password");
    assert!(!root.join("run").exists());

    // A wrong password: the registry sees dave's wrong one (the variable's value is used).
    let o = dash(Some(WRONG_PW));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("an image built with this script contains them"),
        "{}",
        text(&o)
    );
    assert_private(&format!("{version} installer"), &root);
    let ctd = Containerd::start(
        &containerd_bin(version),
        &root,
        &w.hosts,
        &dir.join("state"),
    );
    refused(&format!("{version} installer, wrong"), &ctd, w, "dave");
    let o = dash(Some(DAVE_PW));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("updated /"), "{}", text(&o));
    assert_private(&format!("{version} installer"), &root);
    pulls(&format!("{version} installer"), &ctd, w);
    // Idempotent: nothing changes on a second run.
    let o = dash(Some(DAVE_PW));
    assert!(
        o.status.success() && !text(&o).contains("updated /"),
        "{}",
        text(&o)
    );
}

fn ignition_validates(w: &World, version: &str) {
    require_tool(
        "ignition-validate",
        "install Debian's `ignition` package (.ci/install-deps)",
    );
    let out = w.work.join(format!("config-{version}.ign"));
    render(
        &w.spec,
        version,
        &["--target", "ignition", "--out", out.to_str().unwrap()],
    );
    assert_eq!(fs::metadata(&out).unwrap().mode() & 0o7777, 0o600);
    let o = run(Command::new("ignition-validate").arg(&out));
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "ignition-validate: {}",
        text(&o)
    );
    let config: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    let hosts = config["storage"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == format!("/{HOSTS_TOML}"))
        .unwrap();
    assert_eq!(hosts["mode"], 384, "{hosts}");
}

#[test]
fn credentials_reach_real_containerd_through_cloud_init_terraform_and_the_installer() {
    let w = world();
    for version in ["1.6", "1.7", "2.1"] {
        through_cloud_init(&w, version);
        through_the_installer(&w, version);
        ignition_validates(&w, version);
    }
}
