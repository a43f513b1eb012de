//! What a node's containerd config.toml says, as regtrust reads it before changing it: the file's
//! layout (its `version`), its registry table, and the config_path to use. The error type of
//! reading one lives here too.
use toml_edit::{DocumentMut, Item, Table, TableLike};

use super::layout::DEFAULT_CONFIG_PATH;
use super::{ConfigLayout, Version};

/// Why a config.toml cannot be read or changed.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// config.toml is not valid TOML.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A config this containerd cannot read, or a shape regtrust will not guess about.
    Unsupported(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Syntax {
                line,
                column,
                message,
            } => {
                write!(
                    f,
                    "{line}:{column}: not valid TOML: {message} (containerd refuses to start \
                     with it): fix it, then run regtrust apply"
                )
            }
            ConfigError::Unsupported(m) => f.write_str(m),
        }
    }
}

/// ` (line N)` of the first table header at or under `plugins."<plugin>"…` (as `path` names it),
/// for messages; empty when there is none.
pub fn table_line(text: &str, path: &[&str]) -> String {
    let quoted: Vec<String> = path
        .iter()
        .map(|k| {
            if k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                k.to_string()
            } else {
                format!("\"{k}\"")
            }
        })
        .collect();
    let head = format!("[{}", quoted.join("."));
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with(&head) && matches!(l[head.len()..].chars().next(), Some(']' | '.'))
        })
        .map_or(String::new(), |i| format!(" (line {})", i + 1))
}

/// The line of the top-level `version` key, for messages.
pub fn version_line(text: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let span = doc.as_table().key("version")?.span()?;
    Some(crate::diag::line_col(text, span.start).0)
}

/// Whether a TOML string value is written as a literal `'…'` string.
pub fn is_literal_string(v: &toml_edit::Value) -> bool {
    match v {
        toml_edit::Value::String(f) => f
            .as_repr()
            .and_then(|r| r.as_raw().as_str())
            .is_some_and(|r| r.starts_with('\'')),
        _ => false,
    }
}

/// `path` as a TOML string: literal (`'…'`) when asked and possible, else basic (`"…"`).
pub fn path_string(path: &str, literal: bool) -> toml_edit::Value {
    if literal && !path.contains('\'') {
        format!("'{path}'")
            .parse()
            .expect("a literal string parses")
    } else {
        toml_edit::Value::from(path)
    }
}

/// Replaces a string value with `path` in place, keeping its decor (spaces, comment) and its
/// quotes: the style of the file (config.toml and drop-ins alike).
pub fn replace_keeping_style(v: &mut toml_edit::Value, path: &str) {
    let decor = v.decor().clone();
    *v = path_string(path, is_literal_string(v));
    *v.decor_mut() = decor;
}

/// Parses config.toml text; a syntax error carries its line and column.
pub fn parse(text: &str) -> Result<DocumentMut, ConfigError> {
    text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e
            .span()
            .map(|s| crate::diag::line_col(text, s.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

pub fn file_layout(
    doc: &DocumentMut,
    text: &str,
    v: &Version,
    notes: &mut Vec<String>,
) -> Result<ConfigLayout, ConfigError> {
    let layout = match doc.get("version") {
        None => ConfigLayout::V1,
        Some(item) => {
            let n = item.as_integer().ok_or_else(|| {
                ConfigError::Unsupported("config.toml `version` is not an integer".to_string())
            })?;
            ConfigLayout::from_number(n).ok_or_else(|| {
                ConfigError::Unsupported(format!(
                    "config.toml has `version = {n}`: regtrust edits versions 1 (on containerd \
                     1.x), 2, 3 and 4"
                ))
            })?
        }
    };
    let n = layout.number();
    if layout == ConfigLayout::V1 {
        if !v.is_1x() {
            return Err(ConfigError::Unsupported(format!(
                "config.toml is a version 1 file (no `version` key, plugin names like `cri`), \
                 whose CRI settings containerd {v} ignores (config_path, sandbox_image…; measured \
                 with 2.1.9's `config dump`): convert it first (`containerd config \
                 migrate` of containerd 2.x prints it as the current version), then run \
                 regtrust apply"
            )));
        }
        notes.push(format!(
            "config.toml is a version 1 file (plugin names like `cri`), which containerd {v} \
             still reads: config_path goes into [plugins.cri.registry]; containerd 2.x will not \
             read this file, so convert it before upgrading"
        ));
        return Ok(layout);
    }
    let native = ConfigLayout::native_for(v);
    if layout.number() > native.number() {
        let at = version_line(text).map_or(String::new(), |l| format!(" (line {l})"));
        return Err(ConfigError::Unsupported(format!(
            "config.toml has `version = {n}`{at}, which containerd {v} cannot read (it reads up \
             to version {}): check --containerd, or the spec's containerd.version",
            native.number()
        )));
    }
    if layout != native {
        notes.push(format!(
            "config.toml is `version = {n}`: containerd {v} migrates it in memory at start, so \
             config_path goes into [{}]",
            layout.registry_table()
        ));
    }
    Ok(layout)
}

/// The plugin whose `registry` table containerd `v` really reads in this file:
/// - a version 2 file that already keeps its registry settings under the 2.x plugin name
///   (`io.containerd.cri.v1.images`) and none under `io.containerd.grpc.v1.cri`, on containerd
///   2.x: that table (2.x's in-memory migration would replace it wholesale with a registry table
///   under the old name, dropping its other settings);
/// - a version 3/4 file with a `[plugins."io.containerd.grpc.v1.cri".registry]` table, which 2.x
///   never reads: removed when it holds nothing but `config_path`, else refused (its other
///   settings look meant to work and do not; regtrust does not guess where they belong).
pub fn effective_registry_plugin(
    doc: &mut DocumentMut,
    text: &str,
    layout: ConfigLayout,
    v: &Version,
    notes: &mut Vec<String>,
) -> Result<&'static str, ConfigError> {
    let old = ConfigLayout::V2.cri_plugin();
    let new = ConfigLayout::V3.cri_plugin();
    let registry_of = |doc: &DocumentMut, plugin: &str| -> Option<Vec<String>> {
        doc.get("plugins")
            .and_then(Item::as_table_like)
            .and_then(|p| p.get(plugin))
            .and_then(Item::as_table_like)
            .and_then(|c| c.get("registry"))
            .map(|r| {
                r.as_table_like()
                    .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
                    .unwrap_or_else(|| vec!["(a value)".to_string()])
            })
    };
    match layout {
        ConfigLayout::V2
            if !v.is_1x() && registry_of(doc, new).is_some() && registry_of(doc, old).is_none() =>
        {
            // Not the generic note about where a version 2 file's config_path goes.
            notes.retain(|n| !n.starts_with("config.toml is `version = 2`"));
            notes.push(format!(
                "this version 2 file keeps its registry settings under [plugins.\"{new}\".registry], \
                 the name containerd {v} reads: config_path is set there (a registry table under \
                 \"{old}\" would replace that whole table when containerd migrates the file)"
            ));
            Ok(new)
        }
        ConfigLayout::V3 | ConfigLayout::V4 => {
            if let Some(keys) = registry_of(doc, old) {
                let n = layout.number();
                if keys.iter().any(|k| k != "config_path") {
                    return Err(ConfigError::Unsupported(format!(
                        "[plugins.\"{old}\".registry]{} in a version {n} file: containerd {v} \
                         never reads it, and it holds more than config_path ({}): move those \
                         settings to hosts.toml (or [plugins.\"{new}\".registry]) and delete the \
                         table, then run regtrust apply",
                        table_line(text, &["plugins", old, "registry"]),
                        keys.join(", ")
                    )));
                }
                let plugins = doc
                    .get_mut("plugins")
                    .and_then(Item::as_table_like_mut)
                    .expect("checked above");
                let cri = plugins
                    .get_mut(old)
                    .and_then(Item::as_table_like_mut)
                    .expect("checked above");
                cri.remove("registry");
                if cri.is_empty() {
                    plugins.remove(old);
                }
                notes.push(format!(
                    "removed [plugins.\"{old}\".registry] (only config_path): containerd {v} never \
                     reads it in a version {n} file"
                ));
            }
            Ok(layout.cri_plugin())
        }
        _ => Ok(layout.cri_plugin()),
    }
}

/// `plugins."<plugin>".registry`, created when missing.
pub fn registry_table<'d>(
    doc: &'d mut DocumentMut,
    plugin: &str,
) -> Result<&'d mut dyn TableLike, ConfigError> {
    let plugins = child_table(doc.as_table_mut(), "plugins", true)?;
    let cri = child_table(plugins, plugin, true)?;
    child_table(cri, "registry", false)
}

pub fn child_table<'t>(
    parent: &'t mut dyn TableLike,
    key: &str,
    implicit: bool,
) -> Result<&'t mut dyn TableLike, ConfigError> {
    if !parent.contains_key(key) {
        let mut t = Table::new();
        t.set_implicit(implicit);
        if !implicit {
            // A new table goes at the end of the file, after a blank line.
            t.set_position(Some(isize::MAX));
            t.decor_mut().set_prefix("\n");
        }
        parent.insert(key, Item::Table(t));
    }
    parent
        .get_mut(key)
        .and_then(Item::as_table_like_mut)
        .ok_or_else(|| ConfigError::Unsupported(format!("config.toml: `{key}` is not a table")))
}

pub fn decide_config_path(
    spec: Option<&str>,
    existing: Option<&str>,
    notes: &mut Vec<String>,
) -> String {
    // One rule in every channel (apply, the installer, cloud-init): the spec's directory, else
    // the default; a node set to another directory is moved, its hosts carried over by apply.
    let existing = existing.filter(|p| !p.is_empty());
    let chosen = spec
        .unwrap_or(DEFAULT_CONFIG_PATH)
        .trim_end_matches('/')
        .to_string();
    let why = if spec.is_some() {
        "the spec's containerd.config_path"
    } else {
        "regtrust's default; set containerd.config_path in the spec to keep another directory"
    };
    if let Some(old) = existing {
        if old.contains(':') {
            notes.push(format!(
                "config_path was the list \"{old}\": containerd 2.1+ CRI pulls do not split it \
                 (and fall back to HTTPS), so it is now the one directory \"{chosen}\" ({why})"
            ));
        } else if old.trim_end_matches('/') != chosen {
            notes.push(format!(
                "config_path changed from \"{old}\" to \"{chosen}\" ({why})"
            ));
        }
    }
    chosen
}
