//! Docker Engine: where dockerd reads registry trust on a node, and the in-place edit of
//! `/etc/docker/daemon.json`.
//!
//! What dockerd takes (measured on dockerd 20.10, 26.1 and 28.5, see docs/reference.md):
//! `insecure-registries` (plain HTTP, or HTTPS without verification) and `registry-mirrors`
//! (Docker Hub only) in daemon.json, reloaded on SIGHUP (`systemctl reload docker`); CA and client
//! certificates in `/etc/docker/certs.d/<host>/` (`*.crt`, `*.cert` + `*.key`), read on every
//! pull. Docker trusts every registry on 127.0.0.0/8 as insecure by default.
pub mod config_json;
pub mod daemon_json;
pub mod managed;

use std::path::Path;

/// dockerd's configuration file.
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
/// dockerd's certificate directory: `<host[:port]>/ca.crt`, `client.cert`, `client.key`.
pub const CERTS_D: &str = "/etc/docker/certs.d";
/// regtrust's record of the daemon.json entries, certs.d files and config.json credentials it
/// added (see [`managed`]).
pub const MANAGED: &str = "/etc/docker/regtrust-managed.json";
/// regtrust's intent while an apply runs: everything it owns before and after the run, written
/// before any other file and removed after the record (see [`managed`]).
pub const MANAGED_PENDING: &str = "/etc/docker/regtrust-managed.pending.json";
/// root's docker CLI configuration: the credentials the CLI sends (see [`config_json`]).
pub const CONFIG_JSON: &str = "/root/.docker/config.json";
/// The registry whose mirrors dockerd uses (`registry-mirrors` applies to no other).
pub const DOCKER_HUB: &str = "docker.io";

/// The node paths that say Docker Engine is installed: dockerd's binary (/usr/bin, /usr/sbin,
/// /usr/local/bin), or /etc/docker/daemon.json. /etc/docker alone says nothing: containerd 2.2+
/// lists /etc/docker/certs.d in its default config_path, and Debian's docker-registry keeps its
/// config in /etc/docker/registry. `apply` and the boot outputs look for the same ones.
pub const INSTALLED_EVIDENCE: [&str; 4] = [DOCKERD[0], DOCKERD[1], DOCKERD[2], DAEMON_JSON];

/// What under the root says Docker Engine is installed (a node path of [`INSTALLED_EVIDENCE`]),
/// if anything. Nothing is run.
pub fn installed(root: &Path) -> Option<&'static str> {
    INSTALLED_EVIDENCE
        .into_iter()
        .find(|p| crate::root::exists(root, p))
}

/// Where dockerd is installed: Debian's and Ubuntu's docker.io put it in /usr/sbin, Docker's own
/// packages in /usr/bin. (The boot outputs' merge looks in the same places.)
pub const DOCKERD: [&str; 3] = [
    "/usr/bin/dockerd",
    "/usr/sbin/dockerd",
    "/usr/local/bin/dockerd",
];
