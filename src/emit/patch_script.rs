//! The config.toml change as a POSIX sh script (awk inside), for places where the regtrust binary
//! is not: cloud-init `runcmd`, the installer and the Ignition unit. Same rules as
//! `config_patch`; the tests check that both produce the same configuration.
use crate::containerd::layout::{DEFAULT_CONFIG_FILE, FLATCAR_SHIPPED_CONFIG};
use crate::containerd::{ConfigLayout, Version};

/// The script cloud-init's `runcmd` runs (and `--target script` embeds the same edit).
pub fn render(containerd: Version, config_path: &str) -> String {
    render_with(containerd, config_path, false)
}

/// The same script as the ExecStart of a systemd unit ordered `Before=containerd.service`
/// (Ignition): when config.toml does not exist yet but Flatcar's shipped file does, it starts
/// from a copy of that file; a restart it asks for is queued (`--no-block`), since containerd
/// waits for this unit to finish.
pub fn render_for_unit(containerd: Version, config_path: &str) -> String {
    render_with(containerd, config_path, true)
}

fn render_with(containerd: Version, config_path: &str, unit: bool) -> String {
    let mut script = crate::templates::render(
        "patch-config.sh",
        minijinja::context! {
            version => containerd.to_string(),
            config_file => DEFAULT_CONFIG_FILE,
            config_path => config_path,
            new_file_version => ConfigLayout::native_for(&containerd).number(),
            seed_from => if unit { FLATCAR_SHIPPED_CONFIG } else { "" },
            restart_no_block => unit,
        },
    );
    script.push('\n');
    script
}
