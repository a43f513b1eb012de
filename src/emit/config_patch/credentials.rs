//! The credentials part of the config.toml patch (`method: config`): the blocks regtrust wrote
//! before come off the end of the text ([`strip_ours`], before parsing), a table the file had
//! for a host the spec gives credentials to is replaced (said), and the spec's blocks go at the
//! end. The text format lives in `containerd::credentials`, shared with the boot scripts.
use toml_edit::{Item, TableLike};

use super::ConfigError;
pub use crate::containerd::credentials::strip_ours;
use crate::containerd::credentials::{block, key};
use crate::plan::ConfigCredential;

/// Removes the file's own `configs."host".auth` for a host of `creds`. Whether any was removed.
pub(super) fn remove(
    registry: &mut dyn TableLike,
    creds: &[ConfigCredential],
    notes: &mut Vec<String>,
) -> bool {
    let Some(configs) = registry
        .get_mut("configs")
        .and_then(Item::as_table_like_mut)
    else {
        return false;
    };
    let mut removed = false;
    for c in creds {
        let Some(entry) = configs.get_mut(&c.host).and_then(Item::as_table_like_mut) else {
            continue;
        };
        if entry.remove("auth").is_some() {
            removed = true;
            notes.push(format!(
                "replaced the credentials config.toml had for {h} (registry.configs.\"{h}\".auth) \
                 with the spec's",
                h = c.host
            ));
        }
    }
    removed
}

/// Appends one block per credential at the end of `text`.
pub(super) fn append(text: &mut String, plugin: &str, creds: &[ConfigCredential]) {
    if creds.is_empty() {
        return;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for c in creds {
        text.push_str(&block(plugin, c));
    }
}

/// The patched text still parses and carries every credential as planned (a `configs` the file
/// wrote as an inline table cannot take an appended table: refused, nothing written).
pub(super) fn check(
    text: &str,
    plugin: &str,
    creds: &[ConfigCredential],
) -> Result<(), ConfigError> {
    let refuse = || {
        ConfigError::Unsupported(format!(
            "its registry.configs cannot take the credentials regtrust adds as \
             [plugins.\"{plugin}\".registry.configs.\"<host>\".auth] tables (an inline table or \
             dotted keys hold them): write them as tables, or remove them, then run regtrust apply"
        ))
    };
    let doc = crate::containerd::config::parse(text).map_err(|_| refuse())?;
    let configs = doc
        .get("plugins")
        .and_then(|p| p.get(plugin))
        .and_then(|p| p.get("registry"))
        .and_then(|r| r.get("configs"));
    for c in creds {
        let ok = configs
            .and_then(|t| t.get(&c.host))
            .and_then(|t| t.get("auth"))
            .and_then(|a| a.get(key(c.kind)))
            .and_then(Item::as_str)
            .is_some_and(|v| v == c.secret.expose());
        if !ok {
            return Err(refuse());
        }
    }
    Ok(())
}
