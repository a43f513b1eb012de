//! The config.toml change: takes the current text (or none) and returns the patched text.
//! Comment- and format-preserving (toml_edit); never touches the disk.
use std::collections::{BTreeMap, BTreeSet};

use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

use crate::containerd::{ConfigLayout, Version};
use crate::spec::host::{check_host, dir_name, upstream_host};
use crate::spec::{Capability, ClientPair, DEFAULT_CONFIG_PATH, Endpoint, FileSource, Registry};

pub struct PatchRequest<'a> {
    /// The current config.toml, or `None` when the file does not exist.
    pub existing: Option<&'a str>,
    pub containerd: Version,
    /// config_path the spec asks for; `None`: keep the file's (first directory), else the default.
    pub config_path: Option<&'a str>,
    /// Host directories the spec covers: legacy settings for them are dropped, not migrated.
    pub covered_dirs: &'a BTreeSet<String>,
}

#[derive(Debug)]
pub struct Patched {
    pub text: String,
    pub changed: bool,
    pub layout: ConfigLayout,
    pub config_path: String,
    /// What the patch did or decided, for the report.
    pub notes: Vec<String>,
    /// Legacy registry settings turned into hosts.toml entries, with what they came from.
    pub migrated: Vec<(Registry, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum PatchError {
    /// config.toml is not valid TOML.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A config this containerd cannot read, or a shape regtrust will not guess about.
    Unsupported(String),
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatchError::Syntax {
                line,
                column,
                message,
            } => {
                write!(f, "{line}:{column}: not valid TOML: {message}")
            }
            PatchError::Unsupported(m) => f.write_str(m),
        }
    }
}

pub fn patch(req: &PatchRequest<'_>) -> Result<Patched, PatchError> {
    let original = req.existing.unwrap_or("");
    let mut doc: DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e
            .span()
            .map(|s| crate::diag::line_col(original, s.start))
            .unwrap_or((1, 1));
        let message = e.message().trim().to_string();
        PatchError::Syntax {
            line,
            column,
            message,
        }
    })?;
    let mut notes = Vec::new();
    let blank = doc.as_table().is_empty();
    let layout = if blank {
        let l = ConfigLayout::native_for(&req.containerd);
        doc.insert("version", toml_edit::value(l.number()));
        l
    } else {
        file_layout(&doc, &req.containerd, &mut notes)?
    };
    let plugin = layout.cri_plugin();
    let registry = registry_table(&mut doc, plugin)?;

    let existing_path = registry
        .get("config_path")
        .and_then(Item::as_str)
        .map(str::to_string);
    let config_path = decide_config_path(req.config_path, existing_path.as_deref(), &mut notes);
    let legacy = take_legacy(registry, &mut notes)?;
    set_config_path(registry, &config_path);
    let migrated = migrate(legacy, req.covered_dirs, &mut notes);

    let text = doc.to_string();
    let changed = req.existing.is_none_or(|old| old != text);
    if changed {
        notes.insert(
            0,
            format!(
                "config_path = \"{config_path}\" in [{}]",
                layout.registry_table()
            ),
        );
    }
    Ok(Patched {
        text,
        changed,
        layout,
        config_path,
        notes,
        migrated,
    })
}

fn file_layout(
    doc: &DocumentMut,
    v: &Version,
    notes: &mut Vec<String>,
) -> Result<ConfigLayout, PatchError> {
    let Some(item) = doc.get("version") else {
        return Err(PatchError::Unsupported(
            "config.toml has no `version` key, so containerd reads it as a version 1 file \
             (plugin names like `cri`), which regtrust does not edit: run `containerd config \
             default` for a current layout, or convert the file to version 2"
                .to_string(),
        ));
    };
    let n = item.as_integer().ok_or_else(|| {
        PatchError::Unsupported("config.toml `version` is not an integer".to_string())
    })?;
    let layout = ConfigLayout::from_number(n).ok_or_else(|| {
        PatchError::Unsupported(format!(
            "config.toml has `version = {n}`: regtrust edits versions 2, 3 and 4"
        ))
    })?;
    let native = ConfigLayout::native_for(v);
    if layout.number() > native.number() {
        return Err(PatchError::Unsupported(format!(
            "config.toml has `version = {n}`, which containerd {v} cannot read (it reads up to \
             version {})",
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
fn registry_table<'d>(
    doc: &'d mut DocumentMut,
    plugin: &str,
) -> Result<&'d mut dyn TableLike, PatchError> {
    let plugins = child_table(doc.as_table_mut(), "plugins", true)?;
    let cri = child_table(plugins, plugin, true)?;
    child_table(cri, "registry", false)
}

fn child_table<'t>(
    parent: &'t mut dyn TableLike,
    key: &str,
    implicit: bool,
) -> Result<&'t mut dyn TableLike, PatchError> {
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
        .ok_or_else(|| PatchError::Unsupported(format!("config.toml: `{key}` is not a table")))
}

fn decide_config_path(
    spec: Option<&str>,
    existing: Option<&str>,
    notes: &mut Vec<String>,
) -> String {
    let existing = existing.filter(|p| !p.is_empty());
    let first = existing.and_then(|p| p.split(':').find(|d| !d.is_empty()));
    let chosen = spec
        .or(first)
        .unwrap_or(DEFAULT_CONFIG_PATH)
        .trim_end_matches('/')
        .to_string();
    if let Some(old) = existing {
        if old.contains(':') {
            notes.push(format!(
                "config_path was the list \"{old}\": containerd 2.1+ CRI pulls do not split it \
                 (and fall back to HTTPS), so it is now the one directory \"{chosen}\""
            ));
        } else if old.trim_end_matches('/') != chosen {
            notes.push(format!(
                "config_path changed from \"{old}\" to \"{chosen}\" (the spec's)"
            ));
        }
    }
    chosen
}

fn set_config_path(registry: &mut dyn TableLike, path: &str) {
    match registry.get_mut("config_path").and_then(Item::as_value_mut) {
        Some(v) if v.as_str() == Some(path) => {}
        Some(v) => {
            let decor = v.decor().clone();
            *v = Value::from(path);
            *v.decor_mut() = decor;
        }
        None => {
            registry.insert("config_path", toml_edit::value(path));
            // Indented like containerd's own `config default` output.
            if let Some(mut k) = registry.key_mut("config_path") {
                k.leaf_decor_mut().set_prefix("  ");
            }
        }
    }
}

/// TLS settings of a legacy `registry.configs."host".tls` table (or k3s `configs`).
#[derive(Debug, Default, Clone)]
pub struct LegacyTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

/// Legacy registry settings: CRI `registry.mirrors` / `registry.configs`, or k3s registries.yaml.
#[derive(Debug, Default)]
pub struct Legacy {
    /// registry host → mirror endpoints, in file order
    pub mirrors: Vec<(String, Vec<String>)>,
    /// endpoint or registry host → TLS settings
    pub tls: BTreeMap<String, LegacyTls>,
}

/// Removes `mirrors` (non-empty) and `configs.*.tls` / `configs.*.http`, returning what they said.
fn take_legacy(
    registry: &mut dyn TableLike,
    notes: &mut Vec<String>,
) -> Result<Legacy, PatchError> {
    let mut legacy = Legacy::default();
    let mirrors_nonempty = registry
        .get("mirrors")
        .and_then(Item::as_table_like)
        .is_some_and(|t| !t.is_empty());
    if mirrors_nonempty {
        let item = registry.remove("mirrors").expect("checked above");
        let table = item.as_table_like().expect("checked above");
        for (host, m) in table.iter() {
            let endpoints = m
                .as_table_like()
                .and_then(|t| t.get("endpoint"))
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            legacy.mirrors.push((host.to_string(), endpoints));
        }
        notes.push(format!(
            "removed `registry.mirrors` ({}): it cannot coexist with config_path (the CRI plugin \
             would not load)",
            legacy
                .mirrors
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(configs) = registry
        .get_mut("configs")
        .and_then(Item::as_table_like_mut)
    {
        let hosts: Vec<String> = configs.iter().map(|(k, _)| k.to_string()).collect();
        for host in hosts {
            let Some(entry) = configs.get_mut(&host).and_then(Item::as_table_like_mut) else {
                continue;
            };
            if let Some(tls) = entry.remove("tls") {
                let t = tls.as_table_like();
                let s = |k: &str| {
                    t.and_then(|t| t.get(k))
                        .and_then(Item::as_str)
                        .map(str::to_string)
                };
                legacy.tls.insert(
                    host.clone(),
                    LegacyTls {
                        ca_file: s("ca_file").filter(|p| !p.is_empty()),
                        cert_file: s("cert_file").filter(|p| !p.is_empty()),
                        key_file: s("key_file").filter(|p| !p.is_empty()),
                        insecure_skip_verify: t
                            .and_then(|t| t.get("insecure_skip_verify"))
                            .and_then(Item::as_bool),
                    },
                );
                notes.push(format!(
                    "removed `registry.configs.\"{host}\".tls`: TLS settings belong in hosts.toml \
                     (next to config_path, containerd 1.x refuses them; 2.x ignores them)"
                ));
            }
            if entry.remove("http").is_some() {
                notes.push(format!(
                    "removed `registry.configs.\"{host}\".http`: containerd has no such setting"
                ));
            }
            if entry.is_empty() {
                configs.remove(&host);
            }
        }
    }
    Ok(legacy)
}

fn strip_scheme(h: &str) -> &str {
    let h = h.split_once("://").map_or(h, |(_, r)| r);
    h.trim_end_matches('/')
}

fn authority(url: &str) -> &str {
    strip_scheme(url).split('/').next().unwrap_or("")
}

fn tls_of(t: Option<&LegacyTls>) -> crate::spec::Tls {
    let mut tls = crate::spec::Tls::default();
    if let Some(t) = t {
        tls.ca.extend(t.ca_file.clone().map(FileSource::Path));
        tls.client = t.cert_file.clone().map(|c| ClientPair {
            cert: FileSource::Path(c),
            key: t.key_file.clone().map(FileSource::Path),
        });
        tls.skip_verify = t.insecure_skip_verify.filter(|v| *v);
    }
    tls
}

/// Legacy settings as registries (hosts.toml semantics), skipping hosts in `covered`.
pub fn migrate(
    mut legacy: Legacy,
    covered: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Vec<(Registry, String)> {
    let mut out: Vec<(Registry, String)> = Vec::new();
    let mut used_tls: BTreeSet<String> = BTreeSet::new();
    for (host, endpoints) in std::mem::take(&mut legacy.mirrors) {
        let dir = dir_name(strip_scheme(&host));
        if covered.contains(&dir) {
            notes.push(format!(
                "legacy mirror for `{host}` dropped: the spec covers {dir}"
            ));
            continue;
        }
        let h = strip_scheme(&host).to_string();
        if check_host(&h).is_err() {
            notes.push(format!(
                "legacy mirror key `{host}` is not a registry host: not migrated"
            ));
            continue;
        }
        let default_host = upstream_host(&h);
        let mut upstream = None;
        let mut eps = Vec::new();
        for url in endpoints {
            let url = url.trim_end_matches('/').to_string();
            let auth = authority(&url).to_string();
            let mut ep = Endpoint::new(url.clone());
            ep.tls = tls_of(legacy.tls.get(&auth));
            used_tls.insert(auth.clone());
            if h != "*" && (auth == h || auth == default_host) {
                // Legacy CRI stops at the registry itself: it becomes the upstream.
                upstream = Some(ep);
                break;
            }
            ep.capabilities = Some(vec![Capability::Pull, Capability::Resolve]);
            eps.push(ep);
        }
        let upstream = upstream.unwrap_or_else(|| {
            let url = if h == "*" {
                String::new()
            } else {
                format!("https://{default_host}")
            };
            let mut ep = Endpoint::new(url);
            ep.tls = tls_of(legacy.tls.get(&h));
            used_tls.insert(h.clone());
            ep
        });
        if h == "*" && eps.is_empty() {
            notes.push("legacy mirror `*` has no endpoints: nothing to migrate".to_string());
            continue;
        }
        out.push((
            Registry {
                dir_name: dir,
                host: h,
                upstream,
                endpoints: eps,
                fallback: true,
            },
            "registry.mirrors".to_string(),
        ));
    }
    for (host, tls) in &legacy.tls {
        if used_tls.contains(host) {
            continue;
        }
        let h = strip_scheme(host).to_string();
        if h != host.as_str() {
            notes.push(format!(
                "legacy `configs.\"{host}\"` is a URL; migrated as host `{h}`"
            ));
        }
        let dir = dir_name(&h);
        if covered.contains(&dir) || out.iter().any(|(r, _)| r.dir_name == dir) {
            continue;
        }
        if check_host(&h).is_err() || h == "*" {
            notes.push(format!(
                "legacy `configs.\"{host}\".tls` is not for a registry host: not migrated"
            ));
            continue;
        }
        let t = tls_of(Some(tls));
        if t.is_empty() {
            continue;
        }
        let mut upstream = Endpoint::new(format!("https://{h}"));
        upstream.tls = t;
        out.push((
            Registry {
                dir_name: dir,
                host: h,
                upstream,
                endpoints: Vec::new(),
                fallback: true,
            },
            "registry.configs.*.tls".to_string(),
        ));
    }
    for (r, from) in &out {
        notes.push(format!(
            "migrated {from} for `{}` into {}/hosts.toml",
            r.host, r.dir_name
        ));
    }
    out
}
