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
    let given = i
        .flag
        .map(|v| (v, "--containerd"))
        .or(i.spec.map(|v| (v, "the spec's containerd.version")));
    if let Some((v, source)) = given {
        let mut source = source.to_string();
        // A version given for a root whose installed containerd is another release: said, since
        // what is written may not be what that containerd reads.
        if let Some(root) = i.root
            && let Some(Ok((installed, from))) = super::installed::installed(root)
            && (installed.major, installed.minor) != (v.major, v.minor)
        {
            source.push_str(&format!(
                "; warning: the root has containerd {installed} installed ({from}): what is \
                 written is for {v}; drop the version to use the installed one"
            ));
        }
        return Ok(Some((v, source)));
    }
    match i.root {
        Some(root) => super::installed::detect(root, i.config_text),
        None => Ok(None),
    }
}
