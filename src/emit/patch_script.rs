//! The config.toml change as a POSIX sh script (awk inside), for places where the regtrust binary
//! is not: cloud-init `runcmd` and the installer. Same rules as `config_patch`; the tests check
//! that both produce the same configuration.
use crate::containerd::layout::DEFAULT_CONFIG_FILE;
use crate::containerd::{ConfigLayout, Version};

pub fn render(containerd: Version, config_path: &str) -> String {
    let mut script = crate::templates::render(
        "patch-config.sh",
        minijinja::context! {
            version => containerd.to_string(),
            config_file => DEFAULT_CONFIG_FILE,
            config_path => config_path,
            new_file_version => ConfigLayout::native_for(&containerd).number(),
        },
    );
    script.push('\n');
    script
}
