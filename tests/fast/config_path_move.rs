//! config_path: the spec's directory, else /etc/containerd/certs.d, in every channel. A node set
//! to other directories (one, or a `:`-list) is moved, and the hosts configured there are carried
//! over — by `apply` and by the installer alike, with the same files and modes.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{regtrust, render_script, run_sh, snapshot, text};

const SPEC: &str = "registries:\n  - host: new.example:5000\n    http: true\n";

/// A 1.7 node whose config_path is `config_path`, with a user's own host directory (hosts.toml
/// plus a relative CA file) in /etc/docker/certs.d, and one that the new directory already has.
fn node(root: &Path, config_path: &str) {
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(
        root.join("etc/containerd/config.toml"),
        format!(
            "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{config_path}\"\n"
        ),
    )
    .unwrap();
    let old = root.join("etc/docker/certs.d/old.example:5000");
    fs::create_dir_all(&old).unwrap();
    fs::write(
        old.join("hosts.toml"),
        "server = \"https://old.example:5000\"\n\n[host.\"https://old.example:5000\"]\n  ca = \"ca.crt\"\n",
    )
    .unwrap();
    fs::write(
        old.join("ca.crt"),
        "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    fs::set_permissions(old.join("ca.crt"), fs::Permissions::from_mode(0o640)).unwrap();
    // Already in the new directory: never overwritten by a carried copy.
    let both = root.join("etc/docker/certs.d/both.example");
    fs::create_dir_all(&both).unwrap();
    fs::write(
        both.join("hosts.toml"),
        "server = \"https://docker-copy\"\n",
    )
    .unwrap();
    let kept = root.join("etc/containerd/certs.d/both.example");
    fs::create_dir_all(&kept).unwrap();
    fs::write(
        kept.join("hosts.toml"),
        "server = \"https://containerd-copy\"\n",
    )
    .unwrap();
}

/// Every file under `root` with its content and mode, apply's backups and the lock aside: what
/// apply and the installer must agree on.
fn tree(root: &Path) -> Vec<(String, String, u32)> {
    snapshot(root)
        .into_iter()
        .filter(|(p, _)| !p.ends_with(".bak") && !p.starts_with("run/"))
        .map(|(p, text)| {
            let mode = fs::metadata(root.join(&p)).unwrap().permissions().mode() & 0o777;
            (p, text, mode)
        })
        .collect()
}

fn check_moved(root: &Path, report: &str) {
    let cfg = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert!(
        cfg.contains("config_path = \"/etc/containerd/certs.d\""),
        "{cfg}"
    );
    let carried = root.join("etc/containerd/certs.d/old.example:5000");
    assert_eq!(
        fs::read_to_string(carried.join("hosts.toml")).unwrap(),
        fs::read_to_string(root.join("etc/docker/certs.d/old.example:5000/hosts.toml")).unwrap()
    );
    assert_eq!(
        fs::metadata(carried.join("ca.crt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/containerd/certs.d/both.example/hosts.toml")).unwrap(),
        "server = \"https://containerd-copy\"\n"
    );
    assert!(
        root.join("etc/containerd/certs.d/new.example:5000/hosts.toml")
            .exists()
    );
    // The old directory is left as it was.
    assert!(
        root.join("etc/docker/certs.d/old.example:5000/ca.crt")
            .exists()
    );
    assert!(
        report.contains("carried /etc/docker/certs.d/old.example:5000 into /etc/containerd/certs.d/old.example:5000"),
        "{report}"
    );
    assert!(
        !report.contains("carried /etc/docker/certs.d/both.example"),
        "{report}"
    );
}

#[test]
fn apply_and_installer_move_config_path_and_carry_the_hosts_configured_there() {
    for old in [
        "/etc/docker/certs.d",
        "/etc/containerd/certs.d:/etc/docker/certs.d/",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("spec.yaml");
        fs::write(&spec, SPEC).unwrap();

        let by_apply = dir.path().join("apply");
        node(&by_apply, old);
        let apply = || {
            regtrust(&[
                "apply",
                "--spec",
                spec.to_str().unwrap(),
                "--containerd",
                "1.7",
                "--root",
                by_apply.to_str().unwrap(),
            ])
        };
        let o = apply();
        assert!(o.status.success(), "{}", text(&o));
        check_moved(&by_apply, &text(&o));
        assert!(
            text(&o).contains("regtrust's default; set containerd.config_path in the spec"),
            "the report says which directory and why:\n{}",
            text(&o)
        );
        // A second run changes nothing.
        let before = snapshot(&by_apply);
        let o = apply();
        assert!(o.status.success(), "{}", text(&o));
        assert!(!text(&o).contains("carried"), "{}", text(&o));
        assert_eq!(before, snapshot(&by_apply));

        let by_script = dir.path().join("script");
        node(&by_script, old);
        let script = dir.path().join("install.sh");
        fs::write(&script, render_script(&spec, "1.7")).unwrap();
        let o = run_sh("sh", &script, &[], Some(&by_script));
        assert!(o.status.success(), "{}", text(&o));
        check_moved(&by_script, &text(&o));

        // The same tree, file for file and mode for mode (apply's backups aside).
        assert_eq!(tree(&by_apply), tree(&by_script), "{old}");
    }
}

#[test]
fn the_spec_config_path_wins_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    node(&root, "/etc/containerd/certs.d");
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        format!("containerd:\n  config_path: /etc/docker/certs.d\n{SPEC}"),
    )
    .unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--containerd",
        "1.7",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("config_path changed from \"/etc/containerd/certs.d\" to \"/etc/docker/certs.d\" (the spec's containerd.config_path)"),
        "{}",
        text(&o)
    );
    // both.example was in the old directory and the new one has its own: kept as it is.
    assert_eq!(
        fs::read_to_string(root.join("etc/docker/certs.d/both.example/hosts.toml")).unwrap(),
        "server = \"https://docker-copy\"\n"
    );
}
