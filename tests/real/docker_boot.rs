//! The boot-time outputs' Docker part on a node, with dockerd 20.10 (Debian 12's docker.io)
//! pulling through the Engine API from a plain-HTTP registry on 192.0.2.10 (TEST-NET-1, on a
//! private network namespace's own loopback: Docker trusts 127.0.0.0/8 by default, so a loopback
//! registry would prove nothing). cloud-init 22.4's own write_files and runcmd modules run
//! regtrust's user-data, then the installer runs with dash, each on the operator's seed
//! daemon.json, with a recording `systemctl` whose `reload docker` sends dockerd its SIGHUP:
//! before, the pull fails; after, dockerd reloaded and pulls; a second run changes nothing and
//! reloads nothing. Then `regtrust apply` with a spec without the registry removes the entry the
//! boot output added (their record is shared), and the pull fails again. The registry and dockerd
//! helpers are tests/e2e/docker_lib.sh, shared with the `docker` test; the steps are
//! tests/e2e/docker_boot.sh.
use std::fs;
use std::process::Command;

use crate::support::*;
use crate::system::*;

const SEED: &str = "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\"old.registry.test:5000\"]\n}\n";

const SPEC: &str = "runtimes: [containerd, docker]
containerd:
  version: \"1.6\"
registries:
  - host: my.private.registry:5000
    http: true
";

#[test]
fn dockerd_pulls_after_the_cloud_init_and_installer_merge() {
    require_root("dockerd and a private network namespace need root");
    for tool in [
        "docker-registry",
        "skopeo",
        "unshare",
        "ip",
        "curl",
        "dash",
        "cloud-init",
    ] {
        require_tool(tool, "run .ci/install-deps (as root)");
    }
    let dockerd = std::path::PathBuf::from("/usr/sbin/dockerd");
    assert!(
        dockerd.is_file(),
        "dockerd 20.10 is missing at /usr/sbin/dockerd: run .ci/install-deps (as root)"
    );
    let work = work_dir("docker-boot");
    fs::write(
        work.join("hosts"),
        "127.0.0.1 localhost\n192.0.2.10 my.private.registry\n",
    )
    .unwrap();
    let root = work.join("root");
    for d in ["etc/docker", "etc/containerd", "usr/local/sbin"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(root.join("etc/docker/daemon.json"), SEED).unwrap();
    fs::write(work.join("seed.json"), SEED).unwrap();
    let spec = work.join("spec.yaml");
    fs::write(&spec, SPEC).unwrap();
    let empty = work.join("spec-empty.yaml");
    fs::write(&empty, "registries: []\n").unwrap();
    let userdata = work.join("user-data");
    let installer = work.join("install.sh");
    for (target, out) in [("cloud-init", &userdata), ("script", &installer)] {
        let o = regtrust(&[
            "render",
            "--spec",
            spec.to_str().unwrap(),
            "--target",
            target,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{target}: {}", text(&o));
    }
    let o = run(Command::new("shellcheck")
        .arg("-s")
        .arg("sh")
        .arg(&installer));
    assert!(o.status.success(), "shellcheck: {}", text(&o));
    let oci = make_image(&work, "hello from the docker boot test");
    let sockdir = tempfile::Builder::new()
        .prefix("rtb")
        .tempdir_in("/tmp")
        .unwrap();
    let out = run(Command::new("unshare")
        .args(["--net", "--mount", "--propagation", "private", "bash"])
        .arg(manifest_dir().join("tests/e2e/docker_boot.sh"))
        .arg(regtrust_bin())
        .arg(&work)
        .arg(&oci)
        .arg(&userdata)
        .arg(&installer)
        .arg(&empty)
        .arg(sockdir.path())
        .arg(&dockerd));
    let log = text(&out);
    eprintln!("{log}");
    let ctx = format!(
        "{log}\n--- dockerd.log (tail)\n{}",
        tail(&work.join("dockerd.log"))
    );
    let step = |prefix: &str| crate::support::step(&log, prefix, &ctx);
    const HTTP_ERROR: &str = "server gave HTTP response to HTTPS client";
    assert_eq!(step("pushed"), "", "{ctx}");
    assert!(step("dockerd").starts_with("20.10."), "{ctx}");
    // The negative control: the seed alone does not trust the registry.
    assert!(step("before:").contains(HTTP_ERROR), "{ctx}");
    // cloud-init: its modules ran regtrust's runcmd, which reloaded docker (and only docker).
    assert_eq!(step("write_files ok"), "", "{ctx}");
    assert_eq!(step("runcmd exit"), "0", "{ctx}");
    assert_eq!(step("reloaded by cloud-init"), "", "{ctx}");
    assert_eq!(
        step("systemctl cloud-init:"),
        "is-active --quiet containerd;is-active --quiet docker;reload docker;",
        "{ctx}"
    );
    let (insecure, _) = crate::docker::info_lists(&step("info cloud-init:"));
    assert_eq!(
        insecure,
        ["my.private.registry:5000", "old.registry.test:5000"],
        "{ctx}"
    );
    assert_eq!(step("after cloud-init:"), "pulled", "{ctx}");
    // A second run: nothing changes, nothing is reloaded or restarted.
    assert_eq!(step("runcmd again exit"), "0", "{ctx}");
    assert_eq!(step("systemctl runcmd again:"), "", "{ctx}");
    // The installer, on the seed again.
    assert_eq!(step("seed reloaded"), "", "{ctx}");
    assert!(step("seed again:").contains(HTTP_ERROR), "{ctx}");
    assert_eq!(step("installer exit"), "0", "{ctx}");
    assert_eq!(step("reloaded by the installer"), "", "{ctx}");
    assert_eq!(
        // config.toml already has config_path (cloud-init set it): containerd is not asked.
        step("systemctl installer:"),
        "is-active --quiet docker;reload docker;",
        "{ctx}"
    );
    assert_eq!(step("after the installer:"), "pulled", "{ctx}");
    assert_eq!(step("installer again exit"), "0", "{ctx}");
    assert_eq!(step("systemctl installer again:"), "", "{ctx}");
    // Both wrote what apply writes from the seed (the operator's keys kept as written).
    let want = "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"old.registry.test:5000\",\n        \"my.private.registry:5000\"\n    ]\n}\n";
    for f in ["daemon-cloud-init.json", "daemon-installer.json"] {
        assert_eq!(fs::read_to_string(work.join(f)).unwrap(), want, "{f}");
    }
    // apply, with the registry gone from the spec, removes the entry regtrust added.
    assert_eq!(step("apply exit"), "0", "{ctx}");
    assert_eq!(step("reloaded after apply"), "", "{ctx}");
    let (insecure, _) = crate::docker::info_lists(&step("info after apply:"));
    assert_eq!(insecure, ["old.registry.test:5000"], "{ctx}");
    assert!(step("after apply:").contains(HTTP_ERROR), "{ctx}");
    assert_eq!(
        fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap(),
        "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"old.registry.test:5000\"\n    ]\n}\n"
    );
    assert!(!root.join("etc/docker/regtrust-managed.json").exists());
}
