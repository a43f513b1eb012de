//! Ignition configs: Debian's `ignition-validate` (Ignition 2.14) accepts what `--target
//! ignition` renders for every spec the tests use, every containerd version and mode, and a
//! user's config that merges regtrust's in (`ignition.config.merge`, data URL) — the merge the
//! docs show and the VM test (vm_boot.rs) runs through Ignition's own stages.
use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::support::*;
use crate::system::*;

/// Ignition itself (Debian installs it for dracut; it is not on PATH).
pub const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";

pub fn render_ignition(spec: &Path, extra: &[&str]) -> String {
    let o = run(Command::new(regtrust_bin())
        .args(["render", "--spec"])
        .arg(spec)
        .args(["--target", "ignition"])
        .args(extra));
    assert!(o.status.success(), "render: {}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

/// A user's own Ignition config that merges `regtrust` in as a data URL, plus its own entries.
pub fn merging_config(regtrust: &str, own: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(regtrust);
    format!(
        r#"{{"ignition": {{"version": "3.3.0", "config": {{"merge": [{{"source": "data:;base64,{b64}"}}]}}}}{own}}}"#
    )
}

fn validate(file: &Path) {
    let o = run(Command::new("ignition-validate").arg(file));
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "ignition-validate rejected (or warned about) {}:\n{}",
        file.display(),
        text(&o)
    );
}

#[test]
fn ignition_validate_accepts_every_rendered_config() {
    require_tool(
        "ignition-validate",
        "install Debian's `ignition` package (.ci/install-deps)",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut specs = vec![
        manifest_dir().join("examples/registries.yaml"),
        manifest_dir().join("tests/fast/cmd/specs/small.yaml"),
    ];
    for (name, text) in [("awkward.yaml", AWKWARD_SPEC), ("e2e.yaml", E2E_SPEC)] {
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        specs.push(p);
    }
    let mut n = 0;
    for spec in &specs {
        for v in ["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"] {
            for extra in [&[][..], &["--hosts-only"][..]] {
                let config = render_ignition(spec, &[&["--containerd", v][..], extra].concat());
                let out = dir.path().join(format!("{n}.ign"));
                fs::write(&out, &config).unwrap();
                validate(&out);
                n += 1;
                if extra.is_empty() {
                    let merged = dir.path().join(format!("{n}-merged.ign"));
                    fs::write(
                        &merged,
                        merging_config(
                            &config,
                            r#", "systemd": {"units": [{"name": "containerd.service", "enabled": true}]}"#,
                        ),
                    )
                    .unwrap();
                    validate(&merged);
                }
            }
        }
    }
    // With podman among the runtimes: its registries.conf drop-in and certs.d files too.
    for spec in &specs {
        let config = render_ignition(
            spec,
            &["--containerd", "2.1", "--runtime", "containerd,podman"],
        );
        let out = dir.path().join(format!("{n}-podman.ign"));
        fs::write(&out, &config).unwrap();
        validate(&out);
        n += 1;
    }
    eprintln!("ignition-validate accepted {n} rendered configs (and a merging config for each)");
}

/// The unit's script (with its Flatcar step) is clean under shellcheck, and dash — Debian's
/// /bin/sh, which the unit's `ExecStart=/bin/sh …` runs in the VM test — runs it on a root laid
/// out as Flatcar's: the shipped file copied to /etc and edited, then nothing on a second run.
#[test]
fn unit_script_passes_shellcheck_and_runs_with_dash() {
    require_tool(
        "shellcheck",
        "run .ci/install-deps (Debian package shellcheck)",
    );
    require_tool("dash", "run .ci/install-deps (Debian package dash)");
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    for v in ["1.6", "1.7", "2.1"] {
        let config: serde_json::Value =
            serde_json::from_str(&render_ignition(&spec, &["--containerd", v])).unwrap();
        let script = crate::support::ignition::script(&config);
        let path = dir.path().join(format!("unit-{v}.sh"));
        fs::write(&path, &script).unwrap();
        let o = run(Command::new("shellcheck").args(["-s", "sh"]).arg(&path));
        assert!(o.status.success(), "shellcheck ({v}):\n{}", text(&o));
        let root = dir.path().join(format!("flatcar-{v}"));
        fs::create_dir_all(root.join("usr/share/containerd")).unwrap();
        let shipped = fs::read(manifest_dir().join("tests/ignition/flatcar/config.toml")).unwrap();
        fs::write(root.join("usr/share/containerd/config.toml"), &shipped).unwrap();
        let o = run_sh("dash", &path, &[], Some(&root));
        assert!(o.status.success(), "dash ({v}): {}", text(&o));
        let cfg = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
        assert!(
            cfg.contains("config_path = \"/etc/containerd/certs.d\"")
                && cfg.contains("SystemdCgroup = true"),
            "{cfg}"
        );
        let before = snapshot(&root);
        let o = run_sh("dash", &path, &[], Some(&root));
        assert!(
            o.status.success() && text(&o).contains(": unchanged"),
            "{}",
            text(&o)
        );
        assert_eq!(snapshot(&root), before);
    }
}
