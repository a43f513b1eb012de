//! config.toml's `imports`: the drop-in files containerd reads after the main file, and what each
//! containerd makes of them. 1.x replaces a plugin's whole table with an imported one (so a
//! drop-in's `[plugins."io.containerd.grpc.v1.cri"]` resets the main file's SystemdCgroup and
//! sandbox_image); 2.x merges them deeply, the last file winning key by key (measured, see
//! docs/reference.md). `apply` and `doctor` both read them through here.
use std::path::Path;

use toml_edit::{DocumentMut, Item};

use super::config::{ConfigError, parse};
use super::{ConfigLayout, Version};

/// One imported file, as a node path, with its text.
#[derive(Debug)]
pub struct DropIn {
    pub node_path: String,
    pub text: String,
}

/// The import patterns of a config.toml (relative ones are relative to its directory).
pub fn patterns(main_text: &str, main_node_path: &str) -> Vec<String> {
    let Ok(doc) = main_text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let dir = main_node_path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .to_string();
    doc.get("imports")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(|p| {
                    if p.starts_with('/') {
                        p.to_string()
                    } else {
                        format!("{dir}/{p}")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `*` in the last path component only, as containerd's imports use; sorted, like Go's glob.
pub fn glob(root: &Path, pattern: &str) -> Vec<String> {
    if !pattern.contains('*') {
        return vec![pattern.to_string()];
    }
    let (dir, pat) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    let Ok(rd) = crate::root::resolve(root, dir).and_then(std::fs::read_dir) else {
        return vec![];
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| matches(pat, n))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    out.sort();
    out
}

/// Whether a file name matches one `*`-pattern component.
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.starts_with(pre) && name.ends_with(post) && name.len() >= pre.len() + post.len()
        }
    }
}

/// The drop-ins a config.toml imports, in the order containerd reads them (existing files only).
pub fn read(root: &Path, main_text: &str, main_node_path: &str) -> Result<Vec<DropIn>, String> {
    let mut out = Vec::new();
    for pattern in patterns(main_text, main_node_path) {
        for node_path in glob(root, &pattern) {
            if node_path == main_node_path {
                continue;
            }
            let path =
                crate::root::resolve(root, &node_path).map_err(|e| format!("{node_path}: {e}"))?;
            match crate::fs::read_optional(&path) {
                Ok(Some(text)) => out.push(DropIn { node_path, text }),
                Ok(None) => {}
                Err(e) => return Err(format!("cannot read the imported {node_path}: {e}")),
            }
        }
    }
    Ok(out)
}

/// What `apply` changes in a drop-in so that `config_path` takes effect and nothing else moves.
#[derive(Debug)]
pub struct Edit {
    pub text: String,
    pub note: String,
}

const CRI_V1: &str = ConfigLayout::V2.cri_plugin();

/// The drop-in's own edit for containerd `v` and the chosen `config_path`:
/// - 1.x: an imported `[plugins."io.containerd.grpc.v1.cri"]` table replaces the main file's whole
///   CRI table. One that holds nothing but `registry.config_path` is removed (config.toml carries
///   config_path); one with other settings is refused: regtrust will not guess how to merge them.
/// - 2.x: a drop-in that sets `config_path` wins over config.toml (merged after it): it is set
///   there too.
pub fn edit(d: &DropIn, v: &Version, config_path: &str) -> Result<Option<Edit>, ConfigError> {
    let mut doc = parse(&d.text)
        .map_err(|e| ConfigError::Unsupported(format!("the imported {}: {e}", d.node_path)))?;
    if v.is_1x() {
        let Some(cri) = doc
            .get("plugins")
            .and_then(Item::as_table_like)
            .and_then(|p| p.get(CRI_V1))
        else {
            return Ok(None);
        };
        let only_config_path = cri.as_table_like().is_some_and(|t| {
            t.iter().all(|(k, item)| {
                k == "registry"
                    && item
                        .as_table_like()
                        .is_some_and(|r| r.iter().all(|(k, _)| k == "config_path"))
            })
        });
        let line = super::config::table_line(&d.text, &["plugins", CRI_V1]);
        if !only_config_path {
            return Err(ConfigError::Unsupported(format!(
                "{}{line}: a `[plugins.\"{CRI_V1}\"]` table in an imported drop-in: containerd {v} \
                 replaces the whole CRI table of config.toml with it (SystemdCgroup and \
                 sandbox_image revert to defaults), and it holds more than config_path, so \
                 regtrust does not guess how to merge it: move its settings into config.toml, \
                 remove the table from the drop-in, then run regtrust apply",
                d.node_path
            )));
        }
        let plugins = doc
            .get_mut("plugins")
            .and_then(Item::as_table_like_mut)
            .expect("checked above");
        plugins.remove(CRI_V1);
        if plugins.is_empty() {
            doc.remove("plugins");
        }
        return Ok(Some(Edit {
            text: doc.to_string(),
            note: format!(
                "removed [plugins.\"{CRI_V1}\"] (only config_path) from the imported {}: \
                 containerd {v} would replace config.toml's whole CRI table with it; \
                 config_path is set in config.toml",
                d.node_path
            ),
        }));
    }
    let layout = doc
        .get("version")
        .and_then(Item::as_integer)
        .and_then(ConfigLayout::from_number)
        .unwrap_or(ConfigLayout::V2);
    let Some(value) = doc
        .get_mut("plugins")
        .and_then(Item::as_table_like_mut)
        .and_then(|p| p.get_mut(layout.cri_plugin()))
        .and_then(Item::as_table_like_mut)
        .and_then(|c| c.get_mut("registry"))
        .and_then(Item::as_table_like_mut)
        .and_then(|r| r.get_mut("config_path"))
        .and_then(Item::as_value_mut)
    else {
        return Ok(None);
    };
    if value.as_str() == Some(config_path) {
        return Ok(None);
    }
    let old = value.as_str().unwrap_or("").to_string();
    super::config::replace_keeping_style(value, config_path);
    Ok(Some(Edit {
        text: doc.to_string(),
        note: format!(
            "config_path = \"{old}\" in the imported {}, which containerd {v} merges after \
             config.toml (its value wins): set to \"{config_path}\" there too",
            d.node_path
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    fn drop_in(text: &str) -> DropIn {
        DropIn {
            node_path: "/etc/containerd/conf.d/10.toml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn on_1x_a_cri_table_holding_only_config_path_is_removed() {
        let d = drop_in(
            "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/x\"\n",
        );
        let e = edit(&d, &v("1.7"), "/etc/containerd/certs.d")
            .unwrap()
            .unwrap();
        assert_eq!(e.text, "version = 2\n");
    }

    #[test]
    fn on_1x_a_cri_table_with_more_is_refused_with_its_line() {
        let d = drop_in(
            "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"p\"\n",
        );
        let e = edit(&d, &v("1.6"), "/etc/containerd/certs.d")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/etc/containerd/conf.d/10.toml (line 3)"), "{e}");
    }

    #[test]
    fn on_2x_a_drop_in_config_path_is_set_in_place() {
        let d = drop_in(
            "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/etc/docker/certs.d\" # ours\n",
        );
        let e = edit(&d, &v("2.1"), "/etc/containerd/certs.d")
            .unwrap()
            .unwrap();
        assert_eq!(
            e.text,
            "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"/etc/containerd/certs.d\" # ours\n"
        );
        let same = drop_in(&e.text);
        assert!(
            edit(&same, &v("2.1"), "/etc/containerd/certs.d")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_literal_config_path_in_a_drop_in_stays_literal() {
        let d = drop_in(
            "version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = '/etc/cri/conf.d/hosts'\n",
        );
        let e = edit(&d, &v("2.1"), "/etc/containerd/certs.d")
            .unwrap()
            .unwrap();
        assert!(
            e.text.contains("config_path = '/etc/containerd/certs.d'\n"),
            "{}",
            e.text
        );
    }

    #[test]
    fn glob_component_matching() {
        assert!(matches("*.toml", "10-registry.toml"));
        assert!(!matches("*.toml", "10-registry.toml.bak"));
        assert!(matches("*", "x.toml.bak"));
        assert!(matches("a.toml", "a.toml"));
    }
}
