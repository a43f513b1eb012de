//! When neither the spec nor `--runtime` pins the runtimes, cloud-init and the installer carry
//! Docker Engine's and Podman's (containers-image) part too, and each part applies where the node
//! has the runtime, found as `regtrust apply` finds it: on every shape of node, both outputs leave
//! the tree `apply --root` leaves (contents and modes), and a second run changes nothing. The
//! installer also removes the containers-image files that left the spec, as `apply` does, and
//! nothing a hand-edited drop-in names elsewhere.
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::{cloud_init, faults::snapshot_with_modes, run_installer, text};

/// The shared boot spec without its `runtimes` line: nothing pinned.
fn unpinned() -> &'static str {
    crate::support::boot_spec!("[containerd]")
        .split_once('\n')
        .unwrap()
        .1
}

use crate::support::regtrust_in as regtrust;

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// A node as installed: what under its root says which runtimes it has.
fn node(root: &Path, shape: &str) {
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::create_dir_all(root.join("usr/local/sbin")).unwrap();
    let touch = |p: &str, content: &str| {
        let p = root.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    };
    match shape {
        "containerd only" => {}
        "podman" => fs::create_dir_all(root.join("etc/containers")).unwrap(),
        "docker" => touch("usr/sbin/dockerd", ""),
        // An absolute link, as images have them: resolved inside the root, not on this machine.
        "podman linked" => {
            touch("opt/podman/bin/podman", "");
            fs::create_dir_all(root.join("usr/bin")).unwrap();
            std::os::unix::fs::symlink("/opt/podman/bin/podman", root.join("usr/bin/podman"))
                .unwrap();
        }
        "docker and skopeo" => {
            touch("usr/bin/skopeo", "");
            touch("etc/docker/daemon.json", "{\"debug\": true}\n");
        }
        other => panic!("{other}"),
    }
}

/// The tree under a root, without the scripts cloud-init's write_files put in /usr/local/sbin.
fn tree(root: &Path) -> BTreeMap<String, (String, u32)> {
    let mut t = snapshot_with_modes(root);
    t.retain(|p, _| !p.starts_with("usr/local/sbin/"));
    t
}

#[test]
fn cloud_init_and_the_installer_configure_the_runtimes_the_node_has_as_apply_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("spec.yaml"), unpinned()).unwrap();
    let script = ok(regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "script"],
    ));
    fs::write(d.join("install.sh"), &script).unwrap();
    let o = regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "cloud-init"],
    );
    let user_data = ok(o);
    assert!(user_data.contains("/usr/local/sbin/regtrust-runtimes-config"));
    // containerd's files stay in write_files; the others are the runtimes script's.
    let listed = cloud_init::write_files(&user_data);
    assert!(
        listed
            .keys()
            .all(|p| !p.starts_with("/etc/docker/") && !p.starts_with("/etc/containers/")),
        "{listed:#?}"
    );
    for (shape, docker, podman) in [
        ("containerd only", false, false),
        ("podman", false, true),
        ("docker", true, false),
        ("podman linked", false, true),
        ("docker and skopeo", true, true),
    ] {
        let applied = d.join(format!("{shape}/applied"));
        let installed = d.join(format!("{shape}/installed"));
        let booted = d.join(format!("{shape}/booted"));
        for r in [&applied, &installed, &booted] {
            node(r, shape);
        }
        let o = regtrust(
            d,
            &[
                "apply",
                "--spec",
                "spec.yaml",
                "--root",
                applied.to_str().unwrap(),
            ],
        );
        ok(o);
        let want = tree(&applied);
        assert_eq!(
            want.keys().any(|p| p.starts_with("etc/docker/certs.d/")),
            docker,
            "{shape}: {want:#?}"
        );
        assert_eq!(
            want.contains_key("etc/containers/registries.conf.d/50-regtrust.conf"),
            podman,
            "{shape}: {want:#?}"
        );
        for round in ["first", "second"] {
            let o = run_installer(&d.join("install.sh"), &installed);
            let log = text(&o);
            assert!(o.status.success(), "{shape}, {round} run: {log}");
            assert_eq!(tree(&installed), want, "{shape}: installer, {round} run");
            let (success, boot_log) = cloud_init::run_under(&user_data, &booted);
            assert!(success, "{shape}, {round} run: {boot_log}");
            assert_eq!(tree(&booted), want, "{shape}: cloud-init, {round} run");
            for log in [&log, &boot_log] {
                assert_eq!(
                    log.contains("found Docker Engine ("),
                    docker,
                    "{shape}: {log}"
                );
                assert_eq!(
                    log.contains("Docker Engine is not installed here"),
                    !docker,
                    "{shape}: {log}"
                );
                assert_eq!(
                    log.contains("found Podman/CRI-O/Buildah/Skopeo ("),
                    podman,
                    "{shape}: {log}"
                );
                assert_eq!(
                    log.contains("created ") || log.contains("gains"),
                    round == "first",
                    "{shape}, {round} run: {log}"
                );
            }
        }
    }
}

/// A spec with the CA registry (podman pinned), then one without it.
fn pinned_podman(with_ca: bool) -> String {
    let spec = crate::support::boot_spec!("[containerd, podman]");
    if with_ca {
        return spec.to_string();
    }
    let cut = spec.find("  - host: secure.registry.test:5443").unwrap();
    spec[..cut].to_string()
}

#[test]
fn the_installer_removes_the_containers_files_that_left_the_spec_as_apply_does() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let applied = d.join("applied");
    let installed = d.join("installed");
    fs::create_dir_all(&applied).unwrap();
    fs::create_dir_all(&installed).unwrap();
    for (n, with_ca) in [(1, true), (2, false)] {
        let spec = format!("spec{n}.yaml");
        fs::write(d.join(&spec), pinned_podman(with_ca)).unwrap();
        ok(regtrust(
            d,
            &[
                "render",
                "--spec",
                &spec,
                "--target",
                "script",
                "--out",
                "install.sh",
            ],
        ));
        if n == 2 {
            // A drop-in header edited by hand names files elsewhere, and one of regtrust's names
            // is a symlink: neither apply nor the installer removes anything through them.
            for root in [&applied, &installed] {
                let drop_in = root.join("etc/containers/registries.conf.d/50-regtrust.conf");
                let text = fs::read_to_string(&drop_in).unwrap().replacen(
                    "\n",
                    "\n# regtrust-file: /etc/containers/registries.conf\n\
                     # regtrust-file: /etc/containers/certs.d/../policy.json\n\
                     # regtrust-file: /etc/containers/certs.d/linked/ca.crt\n",
                    1,
                );
                fs::write(&drop_in, text).unwrap();
                for keep in ["registries.conf", "policy.json"] {
                    fs::write(root.join("etc/containers").join(keep), keep).unwrap();
                }
                fs::write(root.join("outside.crt"), "outside").unwrap();
                fs::create_dir_all(root.join("etc/containers/certs.d/linked")).unwrap();
                std::os::unix::fs::symlink(
                    "../../../../outside.crt",
                    root.join("etc/containers/certs.d/linked/ca.crt"),
                )
                .unwrap();
            }
        }
        ok(regtrust(
            d,
            &[
                "apply",
                "--spec",
                &spec,
                "--root",
                applied.to_str().unwrap(),
            ],
        ));
        let o = run_installer(&d.join("install.sh"), &installed);
        let log = text(&o);
        assert!(o.status.success(), "{log}");
        assert_eq!(tree(&installed), tree(&applied), "spec {n}: {log}");
        let ca = "etc/containers/certs.d/secure.registry.test:5443";
        assert_eq!(installed.join(ca).exists(), with_ca, "spec {n}: {log}");
        if !with_ca {
            for f in ["ca.crt", "client.cert", "client.key"] {
                assert!(log.contains(&format!("removed /{ca}/{f}")), "{f}: {log}");
            }
            for kept in [
                "etc/containers/registries.conf",
                "etc/containers/policy.json",
                "outside.crt",
            ] {
                assert!(installed.join(kept).exists(), "{kept}: {log}");
            }
            assert!(
                fs::symlink_metadata(installed.join("etc/containers/certs.d/linked/ca.crt"))
                    .is_ok()
            );
        }
    }
}

#[test]
fn template_variables_reach_the_hosts_inside_the_runtimes_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("unpinned.yaml"), unpinned()).unwrap();
    fs::write(
        d.join("docker.yaml"),
        crate::support::boot_spec!("[containerd, docker]"),
    )
    .unwrap();
    for spec in ["unpinned.yaml", "docker.yaml"] {
        let tpl = ok(regtrust(
            d,
            &[
                "render",
                "--spec",
                spec,
                "--target",
                "cloud-init",
                "--escape",
                "terraform",
                "--template-var",
                "registry_host=my.private.registry:5000",
            ],
        ));
        // Every occurrence became the variable: Docker Engine's insecure-registries and
        // Podman's drop-in follow it as hosts.toml does.
        assert!(!tpl.contains("my.private.registry:5000"), "{spec}: {tpl}");
        assert!(
            tpl.contains("\"${registry_host}\""),
            "{spec}: the daemon.json entry is the variable"
        );
        let files = cloud_init::write_files(&tpl);
        let script = files
            .iter()
            .find(|(p, _)| {
                p.ends_with("regtrust-runtimes-config") || p.ends_with("regtrust-docker-config")
            })
            .unwrap_or_else(|| panic!("{spec}: {files:#?}"));
        assert!(script.1.1.contains("${registry_host}"), "{spec}");
    }
    // A value regtrust's own text also has (here a path component and a service name in the
    // scripts) is refused rather than rewritten there too; so is one the spec does not give.
    fs::write(
        d.join("docker-host.yaml"),
        "registries:\n  - host: docker\n    http: true\n",
    )
    .unwrap();
    for (spec, var) in [
        ("docker-host.yaml", "h=docker"),
        ("unpinned.yaml", "h=registry-1.docker.io"),
    ] {
        let o = regtrust(
            d,
            &[
                "render",
                "--spec",
                spec,
                "--target",
                "cloud-init",
                "--escape",
                "terraform",
                "--template-var",
                var,
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{spec} {var}: {}", text(&o));
        assert!(
            text(&o).contains("also occurs in text regtrust writes itself"),
            "{}",
            text(&o)
        );
        assert!(o.stdout.is_empty());
    }
}

/// Nothing pinned, not even containerd's version, on an image builder with Podman and no
/// containerd: `apply` configures Podman alone; the installer writes what `apply` writes and says
/// containerd's part is skipped; cloud-init's containerd script leaves config.toml alone (its
/// hosts.toml files are write_files', inert without containerd) and its runtimes script writes
/// Podman's part. A node with containerd's package still gets containerd's part.
#[test]
fn a_node_without_containerd_gets_the_other_runtimes_part_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec = unpinned().replace("containerd:\n  version: \"1.7\"\n", "");
    assert!(!spec.contains("version"), "{spec}");
    fs::write(d.join("spec.yaml"), &spec).unwrap();
    let script = ok(regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "script"],
    ));
    fs::write(d.join("install.sh"), &script).unwrap();
    let user_data = ok(regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "cloud-init"],
    ));
    let roots: Vec<_> = ["applied", "installed", "booted"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    for r in &roots {
        fs::create_dir_all(r.join("etc/containers")).unwrap();
        fs::create_dir_all(r.join("usr/local/sbin")).unwrap();
    }
    let o = regtrust(
        d,
        &[
            "apply",
            "--spec",
            "spec.yaml",
            "--root",
            roots[0].to_str().unwrap(),
        ],
    );
    let applied_log = text(&o);
    assert!(o.status.success(), "{applied_log}");
    assert!(applied_log.contains("runtimes: podman (found podman (/etc/containers))"));
    let want = tree(&roots[0]);
    assert!(!roots[0].join("etc/containerd").exists());
    for round in ["first", "second"] {
        let o = run_installer(&d.join("install.sh"), &roots[1]);
        let log = text(&o);
        assert!(o.status.success(), "{round}: {log}");
        assert!(
            log.contains("containerd is not installed here (no containerd package, binary or config.toml): its part is skipped"),
            "{log}"
        );
        assert_eq!(tree(&roots[1]), want, "installer, {round} run: {log}");

        let (success, log) = cloud_init::run_under(&user_data, &roots[2]);
        assert!(success, "{round}: {log}");
        assert!(
            log.contains("containerd is not installed here (no containerd package, binary or config.toml): config.toml is left alone"),
            "{log}"
        );
        assert!(!roots[2].join("etc/containerd/config.toml").exists());
        let mut booted = tree(&roots[2]);
        booted.retain(|p, _| !p.starts_with("etc/containerd/"));
        assert_eq!(booted, want, "cloud-init, {round} run: {log}");
    }

    // The same outputs on a node whose package database has containerd 1.7: containerd's part.
    let node = d.join("with-containerd");
    fs::create_dir_all(node.join("var/lib/dpkg")).unwrap();
    fs::write(
        node.join("var/lib/dpkg/status"),
        "Package: containerd\nStatus: install ok installed\nVersion: 1.7.24~ds1-1\n\n",
    )
    .unwrap();
    let o = run_installer(&d.join("install.sh"), &node);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    assert!(
        log.contains("configuring containerd 1.7 (read from dpkg status"),
        "{log}"
    );
    assert!(node.join("etc/containerd/config.toml").is_file(), "{log}");
    assert!(
        node.join("etc/containerd/certs.d/my.private.registry:5000/hosts.toml")
            .is_file()
    );
}

/// A path the detection cannot resolve inside the root (a symlink loop on /usr/bin) stops the
/// installer before it writes anything, instead of reading as "not installed"; `--hosts-only`,
/// which only cloud-init and Ignition have, is refused for the installer.
#[test]
fn an_unresolvable_path_stops_the_detection_and_hosts_only_is_not_the_installers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("spec.yaml"), unpinned()).unwrap();
    ok(regtrust(
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
    ));
    let root = d.join("root");
    fs::create_dir_all(root.join("usr")).unwrap();
    for (link, to) in [
        ("usr/a", "/usr/b"),
        ("usr/b", "/usr/a"),
        ("usr/bin", "/usr/a"),
    ] {
        std::os::unix::fs::symlink(to, root.join(link)).unwrap();
    }
    let before = snapshot_with_modes(&root);
    let o = run_installer(&d.join("install.sh"), &root);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("too many levels of symbolic links"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot_with_modes(&root), before);

    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            "spec.yaml",
            "--target",
            "script",
            "--hosts-only",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--hosts-only applies to --target cloud-init and ignition"),
        "{}",
        text(&o)
    );
}
