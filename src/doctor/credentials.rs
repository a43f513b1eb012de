//! doctor's credential checks: files holding credentials that others can read, and credentials
//! for a registry whose pulls go first to a mirror that gets none (a common 401).
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::config_checks::ConfigInfo;
use super::hosts_checks::HostsInfo;
use super::{Finding, Level};
use crate::diag::Code;

/// A finding when `file` (a node path, holding credentials) is readable by group or others.
pub fn readable(root: &Path, file: &str, out: &mut Vec<Finding>) {
    let Some(mode) = crate::root::resolve(root, file)
        .and_then(std::fs::metadata)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
    else {
        return;
    };
    if mode & 0o077 != 0 {
        out.push(Finding::found(
            Level::Error,
            Code::CredentialsReadable,
            file,
            None,
            format!("{file} holds registry credentials and its mode is {mode:04o}"),
            "every user of the node who can read it has the registry password".into(),
            format!("chmod 0600 {file} (owner root); `regtrust apply` writes the files that carry credentials 0600"),
        ));
    }
}

/// Credentials in config.toml for a registry whose hosts.toml sends pulls first to another host
/// that has none: containerd sends credentials only to the host they are keyed to.
pub fn upstream_only(
    config_file: &str,
    cfg: &ConfigInfo,
    hosts: &HostsInfo,
    out: &mut Vec<Finding>,
) {
    for super::config_checks::ConfigAuth { host, line, .. } in &cfg.auth {
        let Some(dir) = hosts.dirs.iter().find(|d| d.name == *host) else {
            continue;
        };
        for e in dir.entries.iter().flatten() {
            let other = crate::spec::host::authority(&e.url);
            if e.is_server || other == host || e.auth_header {
                continue;
            }
            if cfg.auth.iter().any(|a| a.host == other) {
                continue;
            }
            out.push(
                Finding::found(
                    Level::Warning,
                    Code::CredentialsNotForMirror,
                    config_file,
                    (*line > 0).then_some(*line),
                    format!(
                        "credentials for {host}, but pulls of {host} go first to {} ({}), which gets none",
                        e.url, dir.file
                    ),
                    format!("credentials are sent only to the host they are for: if {other} asks for a login, every pull through it fails with 401 (and falls back to the next host, if any)"),
                    format!("give the mirror its own credentials: an `auth` on that endpoint in the spec (for {other}), then `regtrust apply`"),
                ),
            );
        }
    }
}
