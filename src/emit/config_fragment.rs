//! The config.toml fragment for a containerd version: what `apply` would write into an empty file.
use std::collections::BTreeSet;

use super::config_patch::{PatchRequest, patch};
use crate::containerd::Version;

pub fn render(containerd: Version, config_path: &str) -> String {
    let covered = BTreeSet::new();
    let patched = patch(&PatchRequest {
        existing: None,
        containerd,
        config_path: Some(config_path),
        covered_dirs: &covered,
        credentials: &[],
    })
    .expect("patching an empty config cannot fail");
    let header = crate::templates::render(
        "config-fragment",
        minijinja::context! { version => containerd.to_string(), v1x => containerd.is_1x() },
    );
    format!("{header}\n{}", patched.text)
}
