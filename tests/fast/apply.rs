//! `regtrust apply` on scratch roots: in-place patching, backups, idempotence, drift, migration,
//! removal of what regtrust wrote earlier, and nothing written on error.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::config_path_of;
use toml_edit::DocumentMut;

struct Node {
    _dir: tempfile::TempDir,
    root: PathBuf,
    spec: PathBuf,
}

impl Node {
    fn new(spec: &str, config: Option<&str>) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        if let Some(c) = config {
            fs::write(root.join("etc/containerd/config.toml"), c).unwrap();
        }
        let spec_path = dir.path().join("spec.yaml");
        fs::write(&spec_path, spec).unwrap();
        Node {
            root,
            spec: spec_path,
            _dir: dir,
        }
    }

    fn set_spec(&self, spec: &str) {
        fs::write(&self.spec, spec).unwrap();
    }

    fn apply(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_regtrust"))
            .arg("apply")
            .arg("--spec")
            .arg(&self.spec)
            .arg("--root")
            .arg(&self.root)
            .args(extra)
            .output()
            .unwrap()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn read(&self, p: &str) -> String {
        fs::read_to_string(self.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn config(&self) -> String {
        self.read("/etc/containerd/config.toml")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

const HTTP_SPEC: &str = "registries:\n  - host: my.private.registry:5000\n    http: true\n";

const COMMENTED_V2: &str = r#"# Node config, hand-tuned. Do not lose these comments.
version = 2
root = "/var/lib/containerd"   # trailing comment

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.9"  # pinned
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
"#;

#[test]
fn patch_keeps_every_byte_of_the_original_and_adds_config_path() {
    let node = Node::new(HTTP_SPEC, Some(COMMENTED_V2));
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let patched = node.config();
    // The original is a prefix: nothing of it moved or changed, the registry table follows.
    assert!(patched.starts_with(COMMENTED_V2), "{patched}");
    let added = &patched[COMMENTED_V2.len()..];
    let doc: DocumentMut = added.parse().unwrap();
    assert_eq!(
        doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d")
    );
    let full: DocumentMut = patched.parse().unwrap();
    let runc =
        &full["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"]["options"];
    assert_eq!(runc["SystemdCgroup"].as_bool(), Some(true));
    assert_eq!(node.read("/etc/containerd/config.toml.bak"), COMMENTED_V2);
    // The root is an image here: what must happen is said for that system, not as a command
    // for this machine.
    assert!(stdout(&o).contains("containerd on that system must restart"));
    assert!(!stdout(&o).contains("systemctl"));
    let hosts: DocumentMut = node
        .read("/etc/containerd/certs.d/my.private.registry:5000/hosts.toml")
        .parse()
        .unwrap();
    assert_eq!(
        hosts["server"].as_str(),
        Some("http://my.private.registry:5000")
    );
}

#[test]
fn second_run_changes_nothing_and_says_so() {
    let node = Node::new(HTTP_SPEC, Some(COMMENTED_V2));
    assert!(node.apply(&["--containerd", "1.7"]).status.success());
    let before = (node.config(), tree(&node.root));
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("restart"), "{}", stdout(&o));
    assert_eq!(before, (node.config(), tree(&node.root)));
}

#[test]
fn existing_config_path_is_replaced_in_place() {
    let cfg = "version = 3\n\n[plugins.'io.containerd.cri.v1.images'.registry]\n  # where hosts live\n  config_path = '/etc/containerd/certs.d:/etc/docker/certs.d'  # vendor default\n";
    let node = Node::new(HTTP_SPEC, Some(cfg));
    let o = node.apply(&["--containerd", "2.1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        node.config(),
        "version = 3\n\n[plugins.'io.containerd.cri.v1.images'.registry]\n  # where hosts live\n  config_path = '/etc/containerd/certs.d'  # vendor default\n"
    );
    assert!(stdout(&o).contains("do not split it"), "{}", stdout(&o));
}

#[test]
fn missing_config_is_created_for_the_version() {
    for (v, n, plugin) in [
        ("1.6", 2, "io.containerd.grpc.v1.cri"),
        ("2.1", 3, "io.containerd.cri.v1.images"),
        ("2.3", 4, "io.containerd.cri.v1.images"),
    ] {
        let node = Node::new(HTTP_SPEC, None);
        let o = node.apply(&["--containerd", v]);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: DocumentMut = node.config().parse().unwrap();
        assert_eq!(doc["version"].as_integer(), Some(n));
        assert_eq!(
            doc["plugins"][plugin]["registry"]["config_path"].as_str(),
            Some("/etc/containerd/certs.d")
        );
        assert!(
            !node.path("/etc/containerd/config.toml.bak").exists(),
            "no backup of a file that did not exist"
        );
    }
}

#[test]
fn version_2_file_on_containerd_2_keeps_the_v2_table() {
    let node = Node::new(HTTP_SPEC, Some("version = 2\n"));
    let o = node.apply(&["--containerd", "2.1"]);
    assert!(o.status.success());
    let doc: DocumentMut = node.config().parse().unwrap();
    assert!(doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"].is_str());
    assert!(
        stdout(&o).contains("migrates it in memory"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_config_newer_than_containerd_is_refused_and_nothing_is_written() {
    let node = Node::new(HTTP_SPEC, Some("version = 3\n"));
    let o = node.apply(&["--containerd", "1.7"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("cannot read"), "{}", stderr(&o));
    assert_eq!(tree(&node.root), ["etc/containerd/config.toml"]);
}

#[test]
fn invalid_toml_is_refused_with_its_position_and_nothing_is_written() {
    let node = Node::new(HTTP_SPEC, Some("version = 2\n[plugins\n"));
    let o = node.apply(&["--containerd", "1.7"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("config.toml: 2:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"));
    assert_eq!(tree(&node.root), ["etc/containerd/config.toml"]);
}

#[test]
fn invalid_spec_writes_nothing() {
    let node = Node::new("registries:\n  - host: http://x\n", Some(COMMENTED_V2));
    let o = node.apply(&["--containerd", "1.7"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(tree(&node.root), ["etc/containerd/config.toml"]);
}

#[test]
fn version_comes_from_the_file_when_nothing_else_says() {
    let node = Node::new(HTTP_SPEC, Some("version = 2\n"));
    let o = node.apply(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("inferred from `version = 2`"),
        "{}",
        stdout(&o)
    );

    let none = Node::new(HTTP_SPEC, None);
    let o = none.apply(&[]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("pass --containerd"), "{}", stderr(&o));
}

#[test]
fn check_and_dry_run_write_nothing() {
    let node = Node::new(HTTP_SPEC, Some(COMMENTED_V2));
    let check = node.apply(&["--containerd", "1.7", "--check"]);
    assert_eq!(check.status.code(), Some(1), "drift before apply");
    let dry = node.apply(&["--containerd", "1.7", "--dry-run"]);
    assert!(dry.status.success());
    let out = stdout(&dry);
    assert!(
        out.contains("+  config_path = \"/etc/containerd/certs.d\""),
        "{out}"
    );
    assert!(
        out.contains("+server = \"http://my.private.registry:5000\""),
        "{out}"
    );
    assert!(
        out.contains("would create /etc/containerd/certs.d/my.private.registry:5000/hosts.toml"),
        "{out}"
    );
    assert_eq!(tree(&node.root), ["etc/containerd/config.toml"]);
    assert_eq!(node.config(), COMMENTED_V2);
    assert!(node.apply(&["--containerd", "1.7"]).status.success());
    assert_eq!(
        node.apply(&["--containerd", "1.7", "--check"])
            .status
            .code(),
        Some(0)
    );
    // Drift: somebody edits a managed hosts.toml.
    fs::write(
        node.path("/etc/containerd/certs.d/my.private.registry:5000/hosts.toml"),
        "server = \"https://x\"\n",
    )
    .unwrap();
    assert_eq!(
        node.apply(&["--containerd", "1.7", "--check"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn registries_leaving_the_spec_are_removed_but_foreign_directories_stay() {
    let two = "registries:\n  - host: a.example:5000\n    http: true\n  - host: b.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n";
    let node = Node::new(two, Some("version = 2\n"));
    let foreign = node.path("/etc/containerd/certs.d/hand.example/hosts.toml");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    fs::write(
        &foreign,
        "server = \"https://hand.example\"\n[host.\"https://hand.example\"]\n",
    )
    .unwrap();
    assert!(node.apply(&["--containerd", "1.7"]).status.success());
    assert!(
        node.path("/etc/containerd/certs.d/b.example/ca.crt")
            .exists()
    );

    node.set_spec("registries:\n  - host: a.example:5000\n    http: true\n");
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("removed /etc/containerd/certs.d/b.example/hosts.toml"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("no restart needed"), "{}", stdout(&o));
    assert!(!node.path("/etc/containerd/certs.d/b.example").exists());
    assert!(foreign.exists());
    assert_eq!(
        tree(&node.path("/etc/containerd/certs.d")),
        ["a.example:5000/hosts.toml", "hand.example/hosts.toml"]
    );
}

#[test]
fn legacy_mirrors_and_tls_are_migrated_then_left_alone() {
    let legacy = r#"version = 2

[plugins."io.containerd.grpc.v1.cri".registry]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors]
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
      endpoint = ["http://cache.corp.example:5000"]
    [plugins."io.containerd.grpc.v1.cri".registry.mirrors."my.private.registry:5000"]
      endpoint = ["http://my.private.registry:5000"]
  [plugins."io.containerd.grpc.v1.cri".registry.configs]
    [plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.corp.example".tls]
      ca_file = "/etc/pki/harbor-ca.pem"
    [plugins."io.containerd.grpc.v1.cri".registry.configs."harbor.corp.example".auth]
      username = "robot"
"#;
    let node = Node::new(HTTP_SPEC, Some(legacy));
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: DocumentMut = node.config().parse().unwrap();
    let reg = &doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"];
    assert!(
        reg.get("mirrors").is_none(),
        "mirrors must go: {}",
        node.config()
    );
    assert!(reg["configs"]["harbor.corp.example"].get("tls").is_none());
    assert_eq!(
        reg["configs"]["harbor.corp.example"]["auth"]["username"].as_str(),
        Some("robot"),
        "auth stays"
    );
    assert_eq!(reg["config_path"].as_str(), Some("/etc/containerd/certs.d"));

    let hub: DocumentMut = node
        .read("/etc/containerd/certs.d/docker.io/hosts.toml")
        .parse()
        .unwrap();
    assert_eq!(hub["server"].as_str(), Some("https://registry-1.docker.io"));
    assert!(hub["host"].get("http://cache.corp.example:5000").is_some());
    let harbor: DocumentMut = node
        .read("/etc/containerd/certs.d/harbor.corp.example/hosts.toml")
        .parse()
        .unwrap();
    assert_eq!(
        harbor["host"]["https://harbor.corp.example"]["ca"].as_str(),
        Some("/etc/pki/harbor-ca.pem")
    );
    assert!(
        node.read("/etc/containerd/certs.d/docker.io/hosts.toml")
            .starts_with("# Written by regtrust from the legacy")
    );
    // The spec covers my.private.registry:5000: its legacy mirror is dropped, the spec's file wins.
    assert!(
        node.read("/etc/containerd/certs.d/my.private.registry:5000/hosts.toml")
            .starts_with("# Managed by regtrust.")
    );
    let out = stdout(&o);
    assert!(out.contains("removed `registry.mirrors`"), "{out}");
    assert!(
        out.contains("migrated registry.mirrors for `docker.io`"),
        "{out}"
    );

    // A second run: the migrated files are not the spec's, and are not removed.
    let again = node.apply(&["--containerd", "1.7"]);
    assert!(
        stdout(&again).contains("nothing to do"),
        "{}",
        stdout(&again)
    );
    assert!(
        node.path("/etc/containerd/certs.d/docker.io/hosts.toml")
            .exists()
    );
}

#[test]
fn the_popular_recipe_is_removed() {
    let recipe = format!(
        "{COMMENTED_V2}\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"my.private.registry:5000\".tls]\n  insecure_skip_verify = true\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"my.private.registry:5000\".http]\n  skip_verify = true\n"
    );
    let node = Node::new(HTTP_SPEC, Some(&recipe));
    let o = node.apply(&["--containerd", "1.6"]);
    assert!(o.status.success());
    let cfg = node.config();
    assert!(
        !cfg.contains("insecure_skip_verify") && !cfg.contains("skip_verify"),
        "{cfg}"
    );
    assert!(cfg.starts_with(COMMENTED_V2));
    assert!(
        stdout(&o).contains("containerd has no such setting"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_symlinked_config_is_edited_where_it_points() {
    let node = Node::new(HTTP_SPEC, None);
    fs::create_dir_all(node.path("/opt/conf")).unwrap();
    fs::write(node.path("/opt/conf/containerd.toml"), "version = 2\n").unwrap();
    std::os::unix::fs::symlink(
        "/opt/conf/containerd.toml",
        node.path("/etc/containerd/config.toml"),
    )
    .unwrap();
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(node.path("/etc/containerd/config.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        config_path_of(&node.read("/opt/conf/containerd.toml")).as_deref(),
        Some("/etc/containerd/certs.d")
    );
    assert_eq!(node.read("/opt/conf/containerd.toml.bak"), "version = 2\n");
}

#[test]
fn the_backup_keeps_the_original_across_later_changes() {
    let node = Node::new(
        "containerd:\n  config_path: /etc/a\nregistries: []\n",
        Some("version = 2\n"),
    );
    assert!(node.apply(&["--containerd", "1.7"]).status.success());
    node.set_spec("containerd:\n  config_path: /etc/b\nregistries: []\n");
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(
        stdout(&o).contains("config_path changed from \"/etc/a\" to \"/etc/b\""),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        node.read("/etc/containerd/config.toml.bak"),
        "version = 2\n"
    );
}

#[test]
fn a_version_1_config_is_edited_on_1x_and_refused_on_2x() {
    let v1 = "# minikube-style\n[plugins.cri]\n  sandbox_image = \"x\"\n  [plugins.cri.registry.mirrors.\"docker.io\"]\n    endpoint = [\"https://registry-1.docker.io\"]\n";
    let node = Node::new(HTTP_SPEC, Some(v1));
    let o = node.apply(&["--containerd", "1.6"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = node.read("/etc/containerd/config.toml");
    let doc: DocumentMut = after.parse().unwrap();
    assert_eq!(
        doc["plugins"]["cri"]["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d"),
        "{after}"
    );
    // Everything else kept; the legacy mirror moved into hosts.toml; still a version 1 file.
    assert_eq!(doc["plugins"]["cri"]["sandbox_image"].as_str(), Some("x"));
    assert!(
        doc.get("version").is_none() && !after.contains("mirrors"),
        "{after}"
    );
    assert!(
        node.path("/etc/containerd/certs.d/docker.io/hosts.toml")
            .exists()
    );
    assert!(stdout(&o).contains("a version 1 file"), "{}", stdout(&o));
    // doctor's advice is followed: nothing left to fix on 1.6 (which reads version 1 files).
    let d = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args([
            "doctor",
            "--containerd",
            "1.6",
            "--format",
            "json",
            "--root",
        ])
        .arg(&node.root)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.is_empty(), "{report}");
    assert_eq!(d.status.code(), Some(0), "{report}");

    let node = Node::new(HTTP_SPEC, Some(v1));
    let o = node.apply(&["--containerd", "2.1"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("version 1 file") && stderr(&o).contains("then run regtrust apply"),
        "{}",
        stderr(&o)
    );
    assert_eq!(node.read("/etc/containerd/config.toml"), v1);
}

/// A hosts.toml the user wrote by hand, for a host the spec now covers, is replaced — and kept as
/// hosts.toml.bak, said in the report; a second run changes nothing and keeps that backup.
#[test]
fn a_users_own_hosts_toml_is_kept_as_a_backup() {
    let node = Node::new(HTTP_SPEC, Some("version = 2\n"));
    let theirs = "server = \"https://my.private.registry:5000\"\n[host.\"https://my.private.registry:5000\"]\n  skip_verify = true\n";
    let hosts = "/etc/containerd/certs.d/my.private.registry:5000/hosts.toml";
    fs::create_dir_all(node.path(hosts).parent().unwrap()).unwrap();
    fs::write(node.path(hosts), theirs).unwrap();
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(node.read(hosts).starts_with("# Managed by regtrust."));
    assert_eq!(node.read(&format!("{hosts}.bak")), theirs);
    assert!(
        stdout(&o).contains(&format!("the original is kept as {hosts}.bak")),
        "{}",
        stdout(&o)
    );
    let again = node.apply(&["--containerd", "1.7"]);
    assert!(
        stdout(&again).contains("nothing to do"),
        "{}",
        stdout(&again)
    );
    assert_eq!(node.read(&format!("{hosts}.bak")), theirs);
}

/// `certs.d` being a file is named as such (not `File exists (os error 17)`), exit 3, nothing
/// written; the error says "nothing was" once.
#[test]
fn certs_d_being_a_file_is_said_plainly() {
    let node = Node::new(HTTP_SPEC, Some("version = 2\n"));
    fs::write(node.path("/etc/containerd/certs.d"), "not a directory\n").unwrap();
    let o = node.apply(&["--containerd", "1.7"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("certs.d exists and is not a directory, where a directory is needed"),
        "{err}"
    );
    assert!(!err.contains("os error 17"), "{err}");
    assert_eq!(err.matches("nothing was").count(), 1, "{err}");
    assert_eq!(node.config(), "version = 2\n");
}

/// A symlinked config.toml is edited where it points (inside the root), and the report names the
/// real file and its real backup.
#[test]
fn a_symlinked_config_is_reported_with_the_real_paths() {
    let node = Node::new(HTTP_SPEC, None);
    fs::create_dir_all(node.path("/opt/ctr")).unwrap();
    fs::write(node.path("/opt/ctr/config.toml"), "version = 2\n").unwrap();
    std::os::unix::fs::symlink(
        "/opt/ctr/config.toml",
        node.path("/etc/containerd/config.toml"),
    )
    .unwrap();
    let o = node.apply(&["--containerd", "1.7"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.contains("backup of the original config: /opt/ctr/config.toml.bak"),
        "{out}"
    );
    assert!(out.contains("updated /opt/ctr/config.toml"), "{out}");
    assert_eq!(node.read("/opt/ctr/config.toml.bak"), "version = 2\n");
    assert_eq!(
        config_path_of(&node.read("/opt/ctr/config.toml")).as_deref(),
        Some("/etc/containerd/certs.d")
    );
    assert!(
        fs::symlink_metadata(node.path("/etc/containerd/config.toml"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    assert!(!node.path("/etc/containerd/config.toml.bak").exists());
}

/// A root with containerd 1.7.24 in its dpkg status.
fn with_dpkg_containerd(node: &Node, version: &str) {
    let d = node.path("/var/lib/dpkg");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("status"),
        format!("Package: containerd\nStatus: install ok installed\nVersion: {version}~ds1-1\n\n"),
    )
    .unwrap();
}

#[test]
fn a_version_flag_that_differs_from_the_installed_containerd_is_warned_about() {
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some("version = 2\n"),
    );
    with_dpkg_containerd(&n, "1.7.24");
    let o = n.apply(&["--containerd", "2.1", "--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("warning: the root has containerd 1.7.24 installed"),
        "{out}"
    );
    // The same release: no warning.
    let o = n.apply(&["--containerd", "1.7", "--dry-run"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("warning: the root has containerd"), "{out}");
}

#[test]
fn a_version_3_file_for_containerd_1_7_names_the_file_and_the_line() {
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some("# containerd 2 config\n\nversion = 3\n"),
    );
    let o = n.apply(&["--containerd", "1.7"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("etc/containerd/config.toml"), "{err}");
    assert!(err.contains("`version = 3` (line 3)"), "{err}");
}

/// apply's own migration of the recipe (a mirror with an `http://` endpoint plus
/// `configs.tls.insecure_skip_verify`) writes no TLS setting on the http:// host, and doctor
/// calls the result clean: what apply writes is what doctor accepts.
#[test]
fn the_recipe_migrated_by_apply_has_no_tls_settings_on_http_and_doctor_is_clean() {
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some(
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"legacy.example:5000\"]\n  endpoint = [\"http://legacy.example:5000\"]\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"legacy.example:5000\".tls]\n  insecure_skip_verify = true\n",
        ),
    );
    let o = n.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let hosts =
        fs::read_to_string(n.path("/etc/containerd/certs.d/legacy.example:5000/hosts.toml"))
            .unwrap();
    assert!(
        hosts.contains("server = \"http://legacy.example:5000\""),
        "{hosts}"
    );
    assert!(!hosts.contains("skip_verify"), "{hosts}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("are not migrated to http://legacy.example:5000: it is plain HTTP"),
        "{out}"
    );
    let d = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["doctor", "--containerd", "1.7", "--root"])
        .arg(&n.root)
        .output()
        .unwrap();
    assert_eq!(
        d.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&d.stdout),
        String::from_utf8_lossy(&d.stderr)
    );
}

/// A version 2 file that writes the 2.x plugin names, on containerd 2.1: config_path goes into
/// that table (the one 2.1 reads), its headers stay, and no `io.containerd.grpc.v1.cri` registry
/// table appears (2.x's migration would let it replace the whole table, headers and all).
#[test]
fn a_v2_file_with_2x_plugin_names_gets_config_path_where_2x_reads_it() {
    let config = "version = 2\n\n[plugins.\"io.containerd.cri.v1.images\".registry.headers]\n  X-Node-Pool = [\"general\"]\n";
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some(config),
    );
    let o = n.apply(&["--containerd", "2.1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = fs::read_to_string(n.path("/etc/containerd/config.toml")).unwrap();
    let doc: DocumentMut = after.parse().unwrap();
    let reg = &doc["plugins"]["io.containerd.cri.v1.images"]["registry"];
    assert_eq!(
        reg["config_path"].as_str(),
        Some("/etc/containerd/certs.d"),
        "{after}"
    );
    assert!(reg["headers"]["X-Node-Pool"].is_array(), "{after}");
    assert!(!after.contains("io.containerd.grpc.v1.cri"), "{after}");
    // On 1.7 the same file's 2.x table is not read: config_path goes where 1.7 reads it.
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some(config),
    );
    let o = n.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = fs::read_to_string(n.path("/etc/containerd/config.toml")).unwrap();
    let doc: DocumentMut = after.parse().unwrap();
    assert_eq!(
        doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"].as_str(),
        Some("/etc/containerd/certs.d"),
        "{after}"
    );
}

/// A version 3 file with a registry table under the 1.x plugin name that holds more than
/// config_path: containerd 2.x never reads it, regtrust does not guess where it belongs — exit 3,
/// the line named, nothing written.
#[test]
fn a_dead_registry_table_with_settings_is_refused_with_its_line() {
    let config = "version = 3\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.headers]\n    X-A = [\"b\"]\n";
    let n = Node::new(
        "registries:\n  - host: a.example:5000\n    http: true\n",
        Some(config),
    );
    let o = n.apply(&["--containerd", "2.1"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.contains("(line 3)") && err.contains("then run regtrust apply"),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(n.path("/etc/containerd/config.toml")).unwrap(),
        config
    );
    assert!(!n.path("/etc/containerd/certs.d").exists());
}

/// config_path in the style of its table: an inserted key takes the indentation and quotes of
/// the table's first string-valued key; k3s's `rewrite` under a legacy mirror is said as dropped.
#[test]
fn inserted_config_path_follows_its_table_and_dropped_rewrites_are_said() {
    let cfg = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n    vendor = 'x'\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n    endpoint = [\"https://mirror.example\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\".rewrite]\n      \"^library/(.*)\" = \"hub/$1\"\n";
    let node = Node::new(HTTP_SPEC, Some(cfg));
    let o = node.apply(&["--containerd", "1.7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        node.config()
            .contains("    vendor = 'x'\n    config_path = '/etc/containerd/certs.d'\n"),
        "{}",
        node.config()
    );
    assert!(
        stdout(&o).contains("warning: `registry.mirrors.\"docker.io\".rewrite` is dropped"),
        "{}",
        stdout(&o)
    );
}
