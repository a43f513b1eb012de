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
                write!(f, "{line}:{column}: not valid TOML: {message}")
            }
            ConfigError::Unsupported(m) => f.write_str(m),
        }
    }
}

/// Parses config.toml text; a syntax error carries its line and column.
/// The line of the top-level `version` key, for messages.
pub fn version_line(text: &str) -> Option<usize> {
    let doc = toml_edit::Document::parse(text).ok()?;
    let span = doc.as_table().key("version")?.span()?;
    Some(crate::diag::line_col(text, span.start).0)
}

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
    let Some(item) = doc.get("version") else {
        return Err(ConfigError::Unsupported(
            "config.toml has no `version` key, so containerd reads it as a version 1 file \
             (plugin names like `cri`), which regtrust does not edit: run `containerd config \
             default` for a current layout, or convert the file to version 2"
                .to_string(),
        ));
    };
    let n = item.as_integer().ok_or_else(|| {
        ConfigError::Unsupported("config.toml `version` is not an integer".to_string())
    })?;
    let layout = ConfigLayout::from_number(n).ok_or_else(|| {
        ConfigError::Unsupported(format!(
            "config.toml has `version = {n}`: regtrust edits versions 2, 3 and 4"
        ))
    })?;
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
