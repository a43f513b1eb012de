//! The sh/awk config patch (used by cloud-init and the installer), run with this machine's `sh`
//! on hand-written seeds: the same configuration as regtrust's own toml_edit patch, idempotent,
//! and loud on what only `apply` can migrate. The real suite runs it with dash on the configs real
//! containerd ships, and under shellcheck.
use crate::support::sh_patch;

#[test]
fn sh_patch_equals_the_toml_edit_patch_and_is_idempotent() {
    sh_patch::equals_the_toml_edit_patch_and_is_idempotent("sh", sh_patch::hand_seeds());
}

#[test]
fn sh_patch_refuses_what_only_apply_can_migrate() {
    sh_patch::refuses_what_only_apply_can_migrate("sh");
}
