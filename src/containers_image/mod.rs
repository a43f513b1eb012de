//! containers-image: the registry configuration Podman, CRI-O, Buildah and Skopeo share (the
//! Go library github.com/containers/image reads it on every pull).
//!
//! What regtrust writes (see docs/reference.md#podman-cri-o-buildah-skopeo):
//! - a drop-in `/etc/containers/registries.conf.d/50-regtrust.conf` (containers-registries.conf
//!   v2: `[[registry]]` tables with `location`, `insecure`, `[[registry.mirror]]`); the packaged
//!   `/etc/containers/registries.conf` is never edited;
//! - `/etc/containers/certs.d/<host[:port]>/ca.crt` (CAs: `*.crt`) and `client.cert` +
//!   `client.key` (0600), read on every pull;
//! - with credentials, `/etc/containers/auth.json` (`auths`, 0600), merged with the file's other
//!   entries.
//!
//! CRI-O reads registries.conf at start and on `systemctl reload crio` (SIGHUP); Podman, Buildah
//! and Skopeo read everything on every run.
pub mod auth_json;
pub mod plan;
pub mod registries_conf;

use std::path::Path;

pub use plan::ContainersPlan;

/// The drop-in regtrust owns.
pub const DROP_IN: &str = "/etc/containers/registries.conf.d/50-regtrust.conf";
/// The drop-in directory (`*.conf`, read in name order after registries.conf).
pub const DROP_IN_DIR: &str = "/etc/containers/registries.conf.d";
/// The packaged main file (read, never written).
pub const REGISTRIES_CONF: &str = "/etc/containers/registries.conf";
/// The certificate directory: `<host[:port]>/*.crt`, `*.cert` + `*.key`.
pub const CERTS_D: &str = "/etc/containers/certs.d";
/// The credentials file regtrust writes (CRI-O's `global_auth_file`; Podman, Buildah and
/// Skopeo read it with `--authfile` or `REGISTRY_AUTH_FILE`).
pub const AUTH_JSON: &str = "/etc/containers/auth.json";

/// The node paths that say a containers-image runtime is installed: the binary of Podman, CRI-O,
/// Buildah or Skopeo, or the /etc/containers directory (`apply` and the boot outputs look for the
/// same ones).
pub const INSTALLED_EVIDENCE: [&str; 9] = [
    "/usr/bin/podman",
    "/usr/local/bin/podman",
    "/usr/bin/crio",
    "/usr/local/bin/crio",
    "/usr/bin/buildah",
    "/usr/local/bin/buildah",
    "/usr/bin/skopeo",
    "/usr/local/bin/skopeo",
    "/etc/containers",
];

/// What under the root says a containers-image runtime is installed (a node path of
/// [`INSTALLED_EVIDENCE`]), if anything. Nothing is run.
pub fn installed(root: &Path) -> Option<&'static str> {
    INSTALLED_EVIDENCE
        .into_iter()
        .find(|p| crate::root::exists(root, p))
}
