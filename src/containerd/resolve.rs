//! The one decision of which containerd version a command targets, with where it came from:
//! `--containerd`, else the spec's `containerd.version`, else (for a node or image root) what is
//! installed under the root — read, never run — else the config file's own `version` key.
//! Every command decides it here, once, at the edge.
use std::path::Path;

use super::Version;

/// What a command knows when it decides the version.
#[derive(Default, Clone, Copy)]
pub struct Inputs<'a> {
    /// `--containerd`.
    pub flag: Option<Version>,
    /// The spec's `containerd.version`.
    pub spec: Option<Version>,
    /// The node or image root, for commands that look at one.
    pub root: Option<&'a Path>,
    /// The node's config.toml text, when the command read it.
    pub config_text: Option<&'a str>,
}

/// The version and, in words, where it came from; `None` when nothing says; `Err` when the
/// root's installed containerd is one regtrust does not support (older than 1.6).
pub fn decide(i: Inputs<'_>) -> Result<Option<(Version, String)>, String> {
    if let Some(v) = i.flag {
        return Ok(Some((v, "--containerd".into())));
    }
    if let Some(v) = i.spec {
        return Ok(Some((v, "the spec's containerd.version".into())));
    }
    match i.root {
        Some(root) => super::installed::detect(root, i.config_text),
        None => Ok(None),
    }
}
