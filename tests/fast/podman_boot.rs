//! The boot-time outputs with `podman` among the runtimes: the installer (run with `sh --root`)
//! and cloud-init's write_files carry the same containers-image files, contents and modes, as
//! `apply --runtime containerd,podman` writes; auth.json is left to `apply` (said on stderr);
//! the targets that do not write them refuse, as does podman without containerd.
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const SPEC: &str = crate::support::boot_spec!("[containerd, podman]");

use crate::support::regtrust_in as regtrust;

/// node path → (mode, content) of every file under <root>/etc/containers.
fn containers_tree(root: &Path) -> BTreeMap<String, (String, String)> {
    crate::support::snapshot(&root.join("etc/containers"))
        .into_iter()
        .map(|(rel, content)| {
            let mode = fs::metadata(root.join("etc/containers").join(&rel))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            (
                format!("/etc/containers/{rel}"),
                (format!("{mode:04o}"), content),
            )
        })
        .collect()
}

#[test]
fn installer_and_cloud_init_write_what_apply_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("spec.yaml"), SPEC).unwrap();
    let applied = d.join("applied");
    fs::create_dir_all(&applied).unwrap();
    let o = regtrust(d, &["apply", "--spec", "spec.yaml", "--root", "applied"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want = containers_tree(&applied);
    assert_eq!(want.len(), 4, "{want:#?}");

    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            "spec.yaml",
            "--target",
            "script",
            "--out",
            "install.sh",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let installed = d.join("installed");
    fs::create_dir_all(&installed).unwrap();
    for round in ["first", "second"] {
        let o = crate::support::run_installer(&d.join("install.sh"), &installed);
        let out =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{out}");
        assert_eq!(containers_tree(&installed), want, "{round} run");
        let said = out.contains("CRI-O reads registries.conf when it starts");
        assert_eq!(said, round == "first", "{round} run: {out}");
    }

    let o = regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "cloud-init"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value =
        serde_saphyr::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    let written: BTreeMap<String, (String, String)> = doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("/etc/containers/"))
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["permissions"].as_str().unwrap().to_string(),
                    f["content"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(written, want);
}

#[test]
fn credentials_are_left_to_apply_and_other_targets_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("spec.yaml"),
        format!("{SPEC}    auth:\n      username: alice\n      password_env: REGTRUST_TEST_PW\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--spec", "spec.yaml", "--target", "cloud-init"])
        .current_dir(d)
        .env("REGTRUST_TEST_PW", "pw-not-printed")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "warning: the credentials for secure.registry.test:5443 are not written for Podman, \
             CRI-O, Buildah and Skopeo by this user-data: /etc/containers/auth.json must be \
             merged"
        ),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("/etc/containers/auth.json"), "{out}");
    assert!(!out.contains("regtrust-auth"), "{out}");
    fs::write(d.join("spec.yaml"), SPEC).unwrap();
    // (Ignition carries podman's files: tests/fast/ignition.rs; json lists them:
    // tests/fast/terraform.rs.)
    for target in ["hosts", "containerd-config"] {
        let o = regtrust(
            d,
            &[
                "render",
                "--spec",
                "spec.yaml",
                "--target",
                target,
                "--out",
                "o",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{target}");
        assert!(
            String::from_utf8_lossy(&o.stderr)
                .contains("the runtimes include podman: this render target does not configure it"),
            "{target}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    fs::write(
        d.join("spec.yaml"),
        SPEC.replace("[containerd, podman]", "[podman]"),
    )
    .unwrap();
    let o = regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "cloud-init"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("podman without containerd"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!d.join("o").exists());
}
