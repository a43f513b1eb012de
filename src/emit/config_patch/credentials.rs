//! Credentials in config.toml (`method: config`): the CRI plugin's
//! `registry.configs."host".auth` tables. regtrust appends one table per host at the end of the
//! file, each after a marker comment; on every run it first removes the tables it wrote before
//! (those after a marker), so a re-run is byte-stable and credentials that left the spec leave
//! the file. A table the file already had for a host the spec gives credentials to is replaced
//! (said). The boot scripts' awk edit writes the same text.
use toml_edit::{Item, TableLike};

use super::ConfigError;
use crate::plan::ConfigCredential;
use crate::spec::SecretKind;

/// The comment line before every credentials table regtrust writes: the marker, then the host.
pub const MARK: &str = "# regtrust: credentials for ";

/// Removes the credentials tables regtrust wrote before, and the file's own ones for a host of
/// `creds`. Whether anything was removed.
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
    let hosts: Vec<String> = configs.iter().map(|(k, _)| k.to_string()).collect();
    let mut removed = false;
    for host in hosts {
        let Some(entry) = configs.get_mut(&host).and_then(Item::as_table_like_mut) else {
            continue;
        };
        let ours = entry
            .get("auth")
            .and_then(Item::as_table)
            .and_then(|t| t.decor().prefix())
            .and_then(|p| p.as_str())
            .is_some_and(|p| p.contains(MARK));
        let replaced = !ours && entry.contains_key("auth") && creds.iter().any(|c| c.host == host);
        if ours || replaced {
            entry.remove("auth");
            removed = true;
        }
        if replaced {
            notes.push(format!(
                "replaced the credentials config.toml had for {host} (registry.configs.\"{host}\".auth) \
                 with the spec's"
            ));
        }
    }
    removed
}

/// Appends one table per credential at the end of `text`.
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

/// One credential's text: a blank line, the marker, the table.
pub fn block(plugin: &str, c: &ConfigCredential) -> String {
    let mut b = format!(
        "\n{MARK}{host}\n[plugins.{p}.registry.configs.{h}.auth]\n",
        host = c.host,
        p = basic_string(plugin),
        h = basic_string(&c.host)
    );
    if !c.username.is_empty() {
        b.push_str(&format!("  username = {}\n", basic_string(&c.username)));
    }
    let key = match c.kind {
        SecretKind::Password => "password",
        SecretKind::IdentityToken => "identitytoken",
    };
    b.push_str(&format!("  {key} = {}\n", basic_string(c.secret.expose())));
    b
}

/// A TOML basic string: `"`, `\` and control characters escaped.
pub fn basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
        let auth = configs
            .and_then(|t| t.get(&c.host))
            .and_then(|t| t.get("auth"));
        let key = match c.kind {
            SecretKind::Password => "password",
            SecretKind::IdentityToken => "identitytoken",
        };
        let ok = auth
            .and_then(|a| a.get(key))
            .and_then(Item::as_str)
            .is_some_and(|v| v == c.secret.expose());
        if !ok {
            return Err(refuse());
        }
    }
    Ok(())
}
