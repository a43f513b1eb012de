//! The sh/awk config patch (used by cloud-init and the installer), run with dash on the configs
//! containerd 1.6, 1.7 and 2.1 ship (Debian's config.toml and `containerd config default`): the
//! same configuration as regtrust's own toml_edit patch, idempotent; and clean under shellcheck.
//! (The fast suite runs the hand-written seeds and the refusals with `sh`.)
use std::fs;
use std::process::Command;

use regtrust::containerd::Version;
use regtrust::emit::patch_script;

use crate::support::sh_patch::{self, WANT};
use crate::system::{debian_config, default_config, require_tool};

#[test]
fn dash_patch_equals_the_toml_edit_patch_on_shipped_configs() {
    require_tool("dash", "run .ci/install-deps (Debian package dash)");
    let mut seeds = Vec::new();
    for ver in ["1.6", "1.7", "2.1"] {
        seeds.push((format!("debian-{ver}"), ver, Some(debian_config(ver))));
        seeds.push((format!("default-{ver}"), ver, Some(default_config(ver))));
    }
    sh_patch::equals_the_toml_edit_patch_and_is_idempotent("dash", seeds);
}

/// The refusals once more with dash (the fast suite uses whatever `sh` is).
#[test]
fn dash_patch_refuses_what_only_apply_can_migrate() {
    require_tool("dash", "run .ci/install-deps (Debian package dash)");
    sh_patch::refuses_what_only_apply_can_migrate("dash");
}

#[test]
fn sh_patch_passes_shellcheck() {
    let dir = tempfile::tempdir().unwrap();
    for v in ["1.6", "2.1", "2.3"] {
        let p = dir.path().join(format!("patch-{v}.sh"));
        fs::write(
            &p,
            patch_script::render(Version::parse(v).unwrap(), WANT, false),
        )
        .unwrap();
        let o = Command::new("shellcheck")
            .args(["-s", "sh"])
            .arg(&p)
            .output()
            .expect("shellcheck is missing: run .ci/install-deps (Debian package shellcheck)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    }
}
