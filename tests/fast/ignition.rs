//! `--target ignition`: every planned file read back from its data URL exactly as planned (mode
//! included), the unit's script being the boot-time config patch, and that script run with `sh`
//! against temp roots laid out like Flatcar's and Fedora CoreOS's containerd configuration:
//! containerd's file ends up with config_path, byte for byte what `regtrust apply` writes,
//! nothing under /usr is touched, and a second run (the next boot) changes nothing.
use std::fs;
use std::path::Path;

use regtrust::containerd::Version;
use regtrust::emit::ignition::{DROPIN_NAME, SCRIPT_PATH, UNIT_NAME};
use regtrust::emit::patch_script;
use regtrust::plan::Plan;
use serde_json::Value;

use crate::support::ignition::{files, script, unit};
use crate::support::*;

fn render_ignition(spec: &Path, extra: &[&str]) -> Value {
    let o = regtrust(
        &[
            &[
                "render",
                "--spec",
                spec.to_str().unwrap(),
                "--target",
                "ignition",
            ][..],
            extra,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!("ignition config: {} bytes", stdout.len())),
        "{stderr}"
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn every_planned_file_is_in_the_config_as_planned() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("awkward.yaml");
    fs::write(&spec, AWKWARD_SPEC).unwrap();
    let v = Version::parse("1.7").unwrap();
    let loaded = regtrust::spec::load_str("spec.yaml", AWKWARD_SPEC).unwrap();
    let plan = Plan::build(&loaded.spec, &[], "/etc/containerd/certs.d", Some(v));
    for hosts_only in [false, true] {
        let extra: &[&str] = if hosts_only { &["--hosts-only"] } else { &[] };
        let config = render_ignition(&spec, extra);
        assert_eq!(config["ignition"]["version"], "3.3.0");
        let got = files(&config);
        let mut want: Vec<(String, (u32, Vec<u8>))> = plan
            .files
            .iter()
            .map(|f| (f.path.clone(), (f.mode, f.content.clone().into_bytes())))
            .collect();
        if !hosts_only {
            want.push((
                SCRIPT_PATH.to_string(),
                (
                    0o755,
                    patch_script::render_for_unit(v, &plan.config_path, false).into_bytes(),
                ),
            ));
        }
        assert_eq!(got, want.into_iter().collect(), "hosts_only={hosts_only}");
        assert!(
            got.values().any(|(mode, _)| *mode == 0o600),
            "the private key keeps mode 0600"
        );
        if hosts_only {
            assert!(config.get("systemd").is_none(), "{config}");
            continue;
        }
        // Nothing is written under /usr (read-only on Flatcar and FCOS).
        assert!(got.keys().all(|p| !p.starts_with("/usr/")), "{got:?}");
        let u = unit(&config, UNIT_NAME);
        assert_eq!(u["enabled"], true);
        let contents = u["contents"].as_str().unwrap();
        for line in [
            "Before=containerd.service",
            "Type=oneshot",
            &format!("ExecStart=/bin/sh {SCRIPT_PATH}"),
            "WantedBy=multi-user.target",
        ] {
            assert!(contents.lines().any(|l| l == line), "{line}:\n{contents}");
        }
        let d = unit(&config, "containerd.service");
        assert!(
            d.get("contents").is_none() && d.get("enabled").is_none(),
            "{d}"
        );
        assert_eq!(d["dropins"][0]["name"], DROPIN_NAME);
        assert!(
            d["dropins"][0]["contents"]
                .as_str()
                .unwrap()
                .lines()
                .any(|l| l == "Environment=CONTAINERD_CONFIG=/etc/containerd/config.toml")
        );
    }
}

/// Runs the unit's script the way systemd would (`/bin/sh SCRIPT`), against `root`.
fn run_unit_script(script_text: &str, root: &Path) -> std::process::Output {
    let path = root.with_extension("unit.sh");
    fs::write(&path, script_text).unwrap();
    run_sh("sh", &path, &[], Some(root))
}

/// config.toml as `regtrust apply` writes it from `input` (for containerd `v`).
fn apply_result(dir: &Path, spec: &Path, input: &[u8], v: &str) -> Vec<u8> {
    let root = dir.join(format!("apply-{v}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), input).unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        v,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    fs::read(root.join("etc/containerd/config.toml")).unwrap()
}

fn usr_tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    snapshot(&root.join("usr"))
}

#[test]
fn flatcar_layout_copies_the_shipped_config_to_etc_and_sets_config_path() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let shipped = fs::read(manifest_dir().join("tests/ignition/flatcar/config.toml")).unwrap();
    let unit_file =
        fs::read(manifest_dir().join("tests/ignition/flatcar/containerd.service")).unwrap();
    // Flatcar ships containerd 2.x with this `version = 2` file; 1.7 and 2.1 renders both apply.
    for v in ["1.7", "2.1"] {
        let config = render_ignition(&spec, &["--containerd", v]);
        let root = dir.path().join(format!("flatcar-{v}"));
        fs::create_dir_all(root.join("usr/share/containerd")).unwrap();
        fs::create_dir_all(root.join("usr/lib/systemd/system")).unwrap();
        fs::write(root.join("usr/share/containerd/config.toml"), &shipped).unwrap();
        fs::write(
            root.join("usr/lib/systemd/system/containerd.service"),
            &unit_file,
        )
        .unwrap();
        let usr_before = usr_tree(&root);
        let o = run_unit_script(&script(&config), &root);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(
            out.contains("copied /usr/share/containerd/config.toml to /etc/containerd/config.toml"),
            "{out}"
        );
        let cfg = fs::read(root.join("etc/containerd/config.toml")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&cfg),
            String::from_utf8_lossy(&apply_result(dir.path(), &spec, &shipped, v)),
            "containerd {v}: the unit's edit of Flatcar's file equals apply's"
        );
        assert!(
            String::from_utf8_lossy(&cfg).contains("SystemdCgroup = true"),
            "Flatcar's settings are kept"
        );
        assert_eq!(usr_tree(&root), usr_before, "nothing under /usr changed");
        // The drop-in points Flatcar's unit at the edited file: its ExecStart reads the variable.
        let unit_text = String::from_utf8_lossy(&unit_file);
        assert!(
            unit_text.contains("--config ${CONTAINERD_CONFIG}"),
            "{unit_text}"
        );
        // The next boot: nothing changes.
        let before = snapshot(&root);
        let o = run_unit_script(&script(&config), &root);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(out.contains("already has config_path"), "{out}");
        assert!(!out.contains("copied"), "{out}");
        assert_eq!(snapshot(&root), before, "second boot changed something");
    }
}

#[test]
fn fcos_layout_edits_etc_containerd_config_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let given = fs::read(manifest_dir().join("tests/ignition/fcos/config.toml")).unwrap();
    for v in ["1.7", "2.1"] {
        let config = render_ignition(&spec, &["--containerd", v]);
        // With the config.toml a Kubernetes node is given, and with none at all.
        for with_file in [true, false] {
            let root = dir.path().join(format!("fcos-{v}-{with_file}"));
            fs::create_dir_all(root.join("usr/bin")).unwrap();
            fs::create_dir_all(root.join("etc")).unwrap();
            if with_file {
                fs::create_dir_all(root.join("etc/containerd")).unwrap();
                fs::write(root.join("etc/containerd/config.toml"), &given).unwrap();
            }
            let usr_before = usr_tree(&root);
            let o = run_unit_script(&script(&config), &root);
            let out = text(&o);
            assert!(o.status.success(), "{out}");
            assert!(!out.contains("copied"), "{out}");
            let cfg = fs::read(root.join("etc/containerd/config.toml")).unwrap();
            let want = apply_result(dir.path(), &spec, if with_file { &given } else { b"" }, v);
            assert_eq!(
                String::from_utf8_lossy(&cfg),
                String::from_utf8_lossy(&want),
                "containerd {v}, file given: {with_file}"
            );
            assert_eq!(usr_tree(&root), usr_before);
            let before = snapshot(&root);
            let o = run_unit_script(&script(&config), &root);
            assert!(o.status.success(), "{}", text(&o));
            assert_eq!(snapshot(&root), before, "second boot changed something");
        }
    }
}

#[test]
fn a_refused_shape_leaves_the_file_and_fails_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let config = render_ignition(&spec, &["--containerd", "1.7"]);
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let odd = b"version = 2\nno_newline_at_end = true";
    fs::write(root.join("etc/containerd/config.toml"), odd).unwrap();
    let o = run_unit_script(&script(&config), &root);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("run regtrust apply"));
    assert_eq!(
        fs::read(root.join("etc/containerd/config.toml")).unwrap(),
        odd
    );
}

/// Podman, CRI-O, Buildah, Skopeo on Ignition (Fedora CoreOS ships Podman): with `podman` among
/// the runtimes the config writes the registries.conf drop-in and the certs.d files with the
/// bytes and modes `regtrust apply --runtime containerd,podman` writes into a root; docker is
/// refused (no Python on Flatcar or Fedora CoreOS for its daemon.json merge).
#[test]
fn podman_files_on_ignition_are_what_apply_writes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "runtimes: [containerd, podman]\nregistries:\n  - host: my.private.registry:5000\n    http: true\n  - host: docker.io\n    endpoints:\n      - url: http://cache.corp.example:5000\n",
    )
    .unwrap();
    let config = render_ignition(&spec, &["--containerd", "2.1"]);
    let files = crate::support::ignition::files(&config);
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        "2.1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let mut checked = 0;
    for entry in walk_files(&root.join("etc/containers")) {
        let node = format!("/{}", entry.strip_prefix(&root).unwrap().display());
        let (mode, bytes) = files
            .get(&node)
            .unwrap_or_else(|| panic!("{node} is not in the Ignition config"));
        assert_eq!(bytes, &fs::read(&entry).unwrap(), "{node}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            *mode,
            fs::metadata(&entry).unwrap().permissions().mode() & 0o7777,
            "{node}"
        );
        checked += 1;
    }
    assert!(
        files.contains_key("/etc/containers/registries.conf.d/50-regtrust.conf") && checked >= 1,
        "{files:?}"
    );
    let o = regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
        "--target",
        "ignition",
        "--containerd",
        "2.1",
        "--runtime",
        "containerd,docker",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("ignition writes podman's"),
        "{}",
        text(&o)
    );
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
