//! The config.toml change: takes the current text (or none) and returns the patched text.
//! Comment- and format-preserving (toml_edit); never touches the disk.
mod credentials;

use std::collections::BTreeSet;

use toml_edit::{DocumentMut, Item, TableLike};

pub use crate::containerd::config::ConfigError;
use crate::containerd::config::{
    decide_config_path, effective_registry_plugin, file_layout, is_literal_string, path_string,
    registry_table, replace_keeping_style,
};
use crate::containerd::{ConfigLayout, Version};
use crate::legacy::{migrate, take_legacy};
use crate::plan::ConfigCredential;
use crate::spec::Registry;

pub struct PatchRequest<'a> {
    /// The current config.toml, or `None` when the file does not exist.
    pub existing: Option<&'a str>,
    pub containerd: Version,
    /// config_path the spec asks for; `None`: keep the file's (first directory), else the default.
    pub config_path: Option<&'a str>,
    /// Host directories the spec covers: legacy settings for them are dropped, not migrated.
    pub covered_dirs: &'a BTreeSet<String>,
    /// Credentials the registry table must carry (`method: config`).
    pub credentials: &'a [ConfigCredential],
}

#[derive(Debug)]
pub struct Patched {
    pub text: String,
    pub changed: bool,
    pub layout: ConfigLayout,
    /// The plugin whose registry table holds config_path in this file (usually the layout's;
    /// see `effective_registry_plugin`).
    pub plugin: &'static str,
    pub config_path: String,
    /// What the patch did or decided, for the report.
    pub notes: Vec<String>,
    /// Legacy registry settings turned into hosts.toml entries, with what they came from.
    pub migrated: Vec<(Registry, String)>,
    /// The file's config_path before, when it named other directories than `config_path`: the
    /// hosts there are carried over (see `apply`).
    pub moved_from: Option<String>,
    /// The text carries credentials: the file must be root-owned 0600.
    pub secret: bool,
}

pub fn patch(req: &PatchRequest<'_>) -> Result<Patched, ConfigError> {
    let existing = req.existing.unwrap_or("");
    // The file's own encoding details are kept: a UTF-8 byte order mark, and CRLF line ends
    // (toml_edit writes LF; every line end, new ones included, is written back as CRLF).
    let (bom, original) = existing
        .strip_prefix('\u{feff}')
        .map_or(("", existing), |rest| ("\u{feff}", rest));
    let crlf = original.contains("\r\n") && !original.replace("\r\n", "").contains('\n');
    // The credentials blocks an earlier run appended come off first (see `credentials`).
    let original = credentials::strip_ours(original)
        .map_err(ConfigError::Unsupported)?
        .unwrap_or(original);
    let mut doc = crate::containerd::config::parse(original)?;
    let mut notes = Vec::new();
    let blank = doc.as_table().is_empty();
    let layout = if blank {
        let l = ConfigLayout::native_for(&req.containerd);
        doc.insert("version", toml_edit::value(l.number()));
        l
    } else {
        file_layout(&doc, original, &req.containerd, &mut notes)?
    };
    let plugin =
        effective_registry_plugin(&mut doc, original, layout, &req.containerd, &mut notes)?;
    let registry = registry_table(&mut doc, plugin)?;

    let existing_path = registry
        .get("config_path")
        .and_then(Item::as_str)
        .map(str::to_string);
    let config_path = decide_config_path(req.config_path, existing_path.as_deref(), &mut notes);
    let moved_from =
        existing_path.filter(|old| !old.is_empty() && old.trim_end_matches('/') != config_path);
    let legacy = take_legacy(registry, &mut notes)?;
    set_config_path(registry, &config_path);
    let dropped = credentials::remove(registry, req.credentials, &mut notes);
    let migrated = migrate(legacy, req.covered_dirs, &mut notes);

    let mut text = restore_headers(original, &doc.to_string());
    credentials::append(&mut text, plugin, req.credentials);
    if !req.credentials.is_empty() || dropped {
        credentials::check(&text, plugin, req.credentials)?;
    }
    if crlf {
        text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    text.insert_str(0, bom);
    let changed = req.existing.is_none_or(|old| old != text);
    if changed {
        notes.insert(
            0,
            format!("config_path = \"{config_path}\" in [plugins.\"{plugin}\".registry]"),
        );
    }
    Ok(Patched {
        text,
        changed,
        layout,
        plugin,
        config_path,
        notes,
        migrated,
        moved_from,
        secret: !req.credentials.is_empty(),
    })
}

/// toml_edit writes every header from the key of each table it names, so when one file spells a
/// key differently in two headers (EKS nodeadm: `[plugins.'io.containerd.cri.v1.images'.…]` and
/// `[plugins."io.containerd.cri.v1.images".registry]`), one spelling would replace the other.
/// The headers of the file's own tables are put back as the file wrote them: output headers are
/// matched in order to the file's headers naming the same key path.
fn restore_headers(original: &str, text: &str) -> String {
    fn path(line: &str) -> Option<Vec<String>> {
        let t = line.trim_start();
        if !t.starts_with('[') {
            return None;
        }
        let doc: DocumentMut = format!("{line}\n").parse().ok()?;
        let mut keys = Vec::new();
        let mut item = doc.as_item();
        loop {
            let (k, next) = match item {
                Item::Table(t) => {
                    let mut it = t.iter();
                    let one = it.next();
                    if it.next().is_some() {
                        return None;
                    }
                    match one {
                        Some(kv) => kv,
                        None => break,
                    }
                }
                Item::ArrayOfTables(a) if a.len() == 1 => {
                    let t = a.get(0)?;
                    let mut it = t.iter();
                    match (it.next(), it.next()) {
                        (Some(kv), None) => kv,
                        (None, None) => break,
                        _ => return None,
                    }
                }
                _ => return None,
            };
            keys.push(k.to_string());
            item = next;
        }
        (!keys.is_empty()).then_some(keys)
    }
    let bare = |l: &str| l.trim_end_matches('\n').trim_end_matches('\r').to_string();
    let originals: Vec<(Vec<String>, String)> = original
        .split_inclusive('\n')
        .map(bare)
        .filter_map(|l| path(&l).map(|p| (p, l)))
        .collect();
    let mut next = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let content = bare(line);
        let found = path(&content).and_then(|p| {
            let i = originals[next..].iter().position(|(q, _)| *q == p)?;
            next += i + 1;
            Some(&originals[next - 1].1)
        });
        match found {
            Some(orig) if *orig != content => {
                out.push_str(orig);
                out.push_str(&line[content.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Sets `config_path` in the registry table in the file's own style: a value replaced in place
/// keeps its quotes (a literal `'…'` string stays literal); a new key takes the indentation and
/// quotes of the first key of its table that holds a string (else two spaces and `"…"`, like
/// containerd's `config default`). The boot scripts' awk edit follows the same rule.
fn set_config_path(registry: &mut dyn TableLike, path: &str) {
    match registry.get_mut("config_path").and_then(Item::as_value_mut) {
        Some(v) if v.as_str() == Some(path) => {}
        Some(v) => replace_keeping_style(v, path),
        None => {
            // The first key of the table whose value is a string sets the style.
            let first = registry
                .iter()
                .find(|(_, item)| item.as_value().is_some_and(|v| v.as_str().is_some()))
                .map(|(k, item)| {
                    (
                        k.to_string(),
                        item.as_value().is_some_and(is_literal_string),
                    )
                });
            let indent = first
                .as_ref()
                .and_then(|(k, _)| registry.key(k))
                .and_then(|k| k.leaf_decor().prefix())
                .and_then(|p| p.as_str())
                .map(|p| p.rsplit('\n').next().unwrap_or("").to_string())
                .unwrap_or_else(|| "  ".to_string());
            let lit = first.is_some_and(|(_, l)| l);
            registry.insert("config_path", Item::Value(path_string(path, lit)));
            if let Some(mut k) = registry.key_mut("config_path") {
                k.leaf_decor_mut().set_prefix(indent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patched(existing: &str) -> String {
        patch(&PatchRequest {
            existing: Some(existing),
            containerd: Version::parse("1.7").unwrap(),
            config_path: Some("/etc/containerd/certs.d"),
            covered_dirs: &BTreeSet::new(),
            credentials: &[],
        })
        .unwrap()
        .text
    }

    #[test]
    fn crlf_and_a_byte_order_mark_are_kept() {
        let crlf = "# node config\r\nversion = 2\r\n\r\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\r\n  config_path = \"\"\r\n";
        let out = patched(crlf);
        assert_eq!(
            out,
            crlf.replace(
                "config_path = \"\"",
                "config_path = \"/etc/containerd/certs.d\""
            )
        );
        // New lines (an appended table) take the file's line ends too.
        let out = patched("version = 2\r\n");
        assert!(
            out.ends_with("config_path = \"/etc/containerd/certs.d\"\r\n"),
            "{out:?}"
        );
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        let bom = "\u{feff}version = 2\n";
        let out = patched(bom);
        assert!(out.starts_with("\u{feff}version = 2\n"), "{out:?}");
        assert_eq!(out.matches('\u{feff}').count(), 1);
    }

    /// EKS nodeadm's config2.template.toml spells one plugin's key with single quotes in some
    /// headers and double quotes in the registry's: every header keeps its own spelling.
    #[test]
    fn each_header_keeps_its_own_key_quotes() {
        let nodeadm = "version = 3\n\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\nsandbox = \"localhost/kubernetes/pause:latest\"\n\n[plugins.\"io.containerd.cri.v1.images\".registry]\nconfig_path = \"/etc/containerd/certs.d:/etc/docker/certs.d\"\n\n[plugins.'io.containerd.cri.v1.runtime']\nenable_cdi = true\n";
        let out = patch(&PatchRequest {
            existing: Some(nodeadm),
            containerd: Version::parse("2.1").unwrap(),
            config_path: Some("/etc/containerd/certs.d"),
            covered_dirs: &BTreeSet::new(),
            credentials: &[],
        })
        .unwrap()
        .text;
        assert_eq!(
            out,
            nodeadm.replace(
                "/etc/containerd/certs.d:/etc/docker/certs.d",
                "/etc/containerd/certs.d"
            )
        );
    }
}
