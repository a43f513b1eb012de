//! `--target script`: the POSIX sh installer, run with dash against scratch roots seeded with
//! each containerd's configs: twice (the second run changes nothing), equal to what
//! `regtrust apply` writes, shellcheck clean, and real containerd pulls on the result.
//! (The fast suite runs its removals, refusals and awkward content with `sh`.)
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;
use crate::system::*;

fn dash(script: &Path, args: &[&str], env_root: Option<&Path>) -> Output {
    run_sh("dash", script, args, env_root)
}

fn shellcheck(path: &Path) {
    let o = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(path)
        .output()
        .expect("shellcheck is missing: run .ci/install-deps");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

fn install_and_pull(version: &str, ip_base: u8) {
    let fx = Fixture::new(&format!("installer-{version}"), ip_base);
    let script = fx.work.join("install.sh");
    fs::write(&script, render_script(&fx.spec, version)).unwrap();
    shellcheck(&script);
    let mut failures = Vec::new();
    for (case, seed) in [
        ("debian", debian_config(version)),
        ("default", default_config(version)),
    ] {
        let dir = fx.work.join(case);
        let root = dir.join("root");
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), &seed).unwrap();
        // First run with --root, second with REGTRUST_ROOT: both spellings of the root prefix.
        let first = dash(&script, &["--root", root.to_str().unwrap()], None);
        assert!(first.status.success(), "{case}: {}", text(&first));
        assert!(
            text(&first)
                .contains("created /etc/containerd/certs.d/my.private.registry:5000/hosts.toml"),
            "{}",
            text(&first)
        );
        assert!(text(&first).contains("set config_path"), "{}", text(&first));
        let after_first = snapshot(&root);
        let second = dash(&script, &[], Some(&root));
        let out2 = text(&second);
        assert!(second.status.success(), "{out2}");
        assert!(
            out2.contains("already up to date") && out2.contains(": unchanged"),
            "{out2}"
        );
        assert!(
            !out2.contains("created") && !out2.contains("set config_path"),
            "{out2}"
        );
        assert_eq!(
            after_first,
            snapshot(&root),
            "{case}: the second run changed files"
        );
        assert_eq!(
            fs::read_to_string(root.join("etc/containerd/config.toml.bak")).unwrap(),
            seed
        );

        // The same tree as `regtrust apply` on the same seed.
        let twin = dir.join("apply-root");
        fs::create_dir_all(twin.join("etc/containerd")).unwrap();
        fs::write(twin.join("etc/containerd/config.toml"), &seed).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
            .args(["apply", "--spec"])
            .arg(&fx.spec)
            .arg("--root")
            .arg(&twin)
            .args(["--containerd", version])
            .output()
            .unwrap();
        assert!(o.status.success());
        let (mut a, mut b) = (snapshot(&root), snapshot(&twin));
        let (ca, cb) = (
            a.remove("etc/containerd/config.toml").unwrap(),
            b.remove("etc/containerd/config.toml").unwrap(),
        );
        assert_eq!(a, b, "{case}: installer and apply wrote different files");
        let (da, db): (toml_edit::DocumentMut, toml_edit::DocumentMut) =
            (ca.parse().unwrap(), cb.parse().unwrap());
        let plugin = if seed.contains("version = 3") {
            "io.containerd.cri.v1.images"
        } else {
            "io.containerd.grpc.v1.cri"
        };
        assert_eq!(
            da["plugins"][plugin]["registry"]["config_path"].as_str(),
            db["plugins"][plugin]["registry"]["config_path"].as_str()
        );

        let ctrd = Containerd::start(
            &containerd_bin(version),
            &root,
            &fx.hosts,
            &dir.join("state"),
        );
        for image in [PRIVATE_IMAGE, MIRRORED_IMAGE] {
            if let Err(e) = ctrd.cri_pull(image) {
                failures.push(format!(
                    "{version} {case}: {image}: {e}\n{}",
                    ctrd.log_tail()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn installer_then_containerd_1_6_pulls() {
    install_and_pull("1.6", 80);
}

#[test]
fn installer_then_containerd_1_7_pulls() {
    install_and_pull("1.7", 90);
}

#[test]
fn installer_then_containerd_2_1_pulls() {
    install_and_pull("2.1", 100);
}

#[test]
fn installer_with_awkward_content_is_shellcheck_clean_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: a.example\n    headers:\n      X-Q: \"it's $(rm -rf /) `x` ${HOME} \\\\ %{y}\"\n",
    )
    .unwrap();
    let script = dir.path().join("install.sh");
    fs::write(&script, render_script(&spec, "2.1")).unwrap();
    shellcheck(&script);
    let root = dir.path().join("root");
    fs::create_dir_all(&root).unwrap();
    assert!(dash(&script, &[], Some(&root)).status.success());
    let hosts: toml_edit::DocumentMut =
        fs::read_to_string(root.join("etc/containerd/certs.d/a.example/hosts.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let v = hosts["host"]["https://a.example"]["header"]["X-Q"]
        .as_array()
        .unwrap()
        .get(0)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v, "it's $(rm -rf /) `x` ${HOME} \\ %{y}");
}
