//! The config.toml change as a POSIX sh script (awk inside), for places where the regtrust binary
//! is not: cloud-init `runcmd`, the installer and the Ignition unit. Same rules as
//! `config_patch`; the tests check that both produce the same configuration.
use crate::containerd::layout::{CREDENTIALS_FILE, DEFAULT_CONFIG_FILE, FLATCAR_SHIPPED_CONFIG};
use crate::containerd::{ConfigLayout, Version};

/// The script cloud-init's `runcmd` runs (and `--target script` embeds the same edit).
/// `with_credentials`: it also appends the credentials blocks of
/// [`crate::containerd::layout::CREDENTIALS_FILE`] (which the output writes), else removes that
/// file and any blocks an earlier run appended. `containerd`: the version it is for, or `None`:
/// the script reads the version on the node when it runs (templates/detect-containerd.sh.j2).
pub fn render(
    containerd: impl Into<Option<Version>>,
    config_path: &str,
    with_credentials: bool,
) -> String {
    render_with(
        containerd.into(),
        config_path,
        false,
        with_credentials,
        false,
    )
}

/// [`render`] without a version, for a node that decides its runtimes: where nothing says
/// containerd is installed (no package, no binary, no config.toml), it leaves config.toml alone
/// and says so, instead of failing.
pub fn render_if_installed(config_path: &str, with_credentials: bool) -> String {
    render_with(None, config_path, false, with_credentials, true)
}

/// The same script as the ExecStart of a systemd unit ordered `Before=containerd.service`
/// (Ignition): when config.toml does not exist yet but Flatcar's shipped file does, it starts
/// from a copy of that file; a restart it asks for is queued (`--no-block`), since containerd
/// waits for this unit to finish.
pub fn render_for_unit(containerd: Version, config_path: &str, with_credentials: bool) -> String {
    render_with(Some(containerd), config_path, true, with_credentials, false)
}

fn render_with(
    containerd: Option<Version>,
    config_path: &str,
    unit: bool,
    with_credentials: bool,
    containerd_optional: bool,
) -> String {
    let mut script = crate::templates::render(
        "patch-config.sh",
        minijinja::context! {
            version => containerd.map(|v| v.to_string()).unwrap_or_default(),
            config_file => DEFAULT_CONFIG_FILE,
            config_path => config_path,
            new_file_version => containerd.map_or(0, |v| ConfigLayout::native_for(&v).number()),
            seed_from => if unit { FLATCAR_SHIPPED_CONFIG } else { "" },
            restart_no_block => unit,
            with_credentials,
            containerd_optional,
            containerd_binaries => crate::containerd::installed::BINARIES
                .iter()
                .map(|p| crate::templates::shell_quote(p))
                .collect::<Vec<_>>()
                .join(" "),
            credentials_file => CREDENTIALS_FILE,
            mark => crate::containerd::credentials::MARK,
            placeholder => crate::containerd::credentials::PLUGIN_PLACEHOLDER,
        },
    );
    script.push('\n');
    script
}
