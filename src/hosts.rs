//! The hosts.toml model: what regtrust writes (`HostsConfig`, rendered with toml_edit, never by
//! string concatenation of values) and what a node's file says to containerd (`Endpoint`, read
//! by doctor). Used by the plan, the emitters and doctor.
use std::collections::BTreeMap;

use serde::Serialize;
use toml_edit::{Array, DocumentMut, Item, Table, TableLike, value};

use crate::spec::Capability;

/// Who a hosts directory belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// From the spec: regtrust rewrites it and removes it when the registry leaves the spec.
    Spec,
    /// Migrated from legacy config.toml settings: written once, never removed by regtrust.
    Migrated,
}

/// One `[host."url"]` table (or the root of hosts.toml), with node paths resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEntry {
    pub capabilities: Option<Vec<Capability>>,
    pub ca: Vec<String>,
    /// `(cert, key)` node paths.
    pub client: Option<(String, Option<String>)>,
    pub skip_verify: Option<bool>,
    pub headers: BTreeMap<String, Vec<String>>,
    pub override_path: bool,
    pub dial_timeout: Option<String>,
}

/// The content of one `hosts.toml`, before serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsConfig {
    /// The registry host as written in image references.
    pub host: String,
    pub dir_name: String,
    pub origin: Origin,
    /// What legacy settings a migrated file came from (for its header).
    pub legacy: String,
    pub server: Option<String>,
    pub root: HostEntry,
    /// `[host."url"]` tables, in the order containerd tries them.
    pub hosts: Vec<(String, HostEntry)>,
}

/// One `[host."url"]` table or the root `server`, as containerd will use it.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub url: String,
    pub capabilities: Vec<String>,
    pub ca: Vec<String>,
    pub client: bool,
    /// The client certificate and key files (`client = "c"`, `["c", "k"]` or `[["c", "k"]]`).
    #[serde(skip)]
    pub client_files: Vec<String>,
    pub skip_verify: bool,
    pub is_server: bool,
    /// An `Authorization` header (credentials) in its `header` table.
    #[serde(skip)]
    pub auth_header: bool,
    /// Its value (for `doctor --probe`; never printed).
    #[serde(skip)]
    pub auth_header_value: Option<String>,
}

impl Endpoint {
    /// Reads one `[host."url"]` table (or the root, `is_server`) as containerd will use it.
    pub fn read(url: &str, t: &dyn TableLike, is_server: bool) -> Endpoint {
        let strings = |k: &str| -> Vec<String> {
            match t.get(k) {
                Some(i) if i.as_str().is_some() => vec![i.as_str().unwrap_or_default().to_string()],
                Some(i) => i
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                None => vec![],
            }
        };
        // containerd reads a missing *or empty* list as every capability
        // (`len(config.Capabilities) > 0` in remotes/docker/config/hosts.go).
        let capabilities = match strings("capabilities") {
            c if c.is_empty() => vec!["pull".into(), "resolve".into(), "push".into()],
            c => c,
        };
        let auth_header = t
            .get("header")
            .and_then(Item::as_table_like)
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                    .map(|(_, v)| v.clone())
            })
            .and_then(|v| match v.as_str() {
                Some(s) => Some(s.to_string()),
                None => v
                    .as_array()
                    .and_then(|a| a.get(0))
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
            });
        Endpoint {
            url: url.to_string(),
            capabilities,
            ca: strings("ca"),
            client: t.contains_key("client"),
            client_files: match t.get("client") {
                Some(i) if i.as_str().is_some() => vec![i.as_str().unwrap_or_default().into()],
                Some(i) => i
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|v| match v {
                        toml_edit::Value::Array(pair) => pair
                            .iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect::<Vec<_>>(),
                        other => other.as_str().map(String::from).into_iter().collect(),
                    })
                    .collect(),
                None => vec![],
            },
            skip_verify: t
                .get("skip_verify")
                .and_then(Item::as_bool)
                .unwrap_or(false),
            is_server,
            auth_header: auth_header.is_some(),
            auth_header_value: auth_header,
        }
    }
}

pub fn render(cfg: &HostsConfig) -> String {
    let mut doc = DocumentMut::new();
    if let Some(s) = &cfg.server {
        doc["server"] = value(s.as_str());
    }
    fill(doc.as_table_mut(), &cfg.root);
    let mut hosts = Table::new();
    hosts.set_implicit(true);
    for (url, entry) in &cfg.hosts {
        let mut t = Table::new();
        fill(&mut t, entry);
        hosts.insert(url, Item::Table(t));
    }
    doc.insert("host", Item::Table(hosts));
    let header = crate::templates::render(
        "hosts-header",
        minijinja::context! {
            origin => if cfg.origin == Origin::Spec { "spec" } else { "migrated" },
            host => cfg.host.as_str(),
            legacy => cfg.legacy.as_str(),
        },
    );
    doc.decor_mut().set_prefix(format!("{header}\n\n"));
    doc.to_string()
}

fn fill(t: &mut Table, e: &HostEntry) {
    if let Some(caps) = &e.capabilities {
        let arr: Array = caps.iter().map(|c| c.as_str()).collect();
        t.insert("capabilities", value(arr));
    }
    match e.ca.as_slice() {
        [] => {}
        [one] => {
            t.insert("ca", value(one.as_str()));
        }
        many => {
            let arr: Array = many.iter().map(String::as_str).collect();
            t.insert("ca", value(arr));
        }
    }
    match &e.client {
        None => {}
        Some((cert, None)) => {
            t.insert("client", value(cert.as_str()));
        }
        Some((cert, Some(key))) => {
            let pair: Array = [cert.as_str(), key.as_str()].into_iter().collect();
            let mut outer = Array::new();
            outer.push(pair);
            t.insert("client", value(outer));
        }
    }
    if let Some(v) = e.skip_verify {
        t.insert("skip_verify", value(v));
    }
    if e.override_path {
        t.insert("override_path", value(true));
    }
    if let Some(d) = &e.dial_timeout {
        t.insert("dial_timeout", value(d.as_str()));
    }
    if !e.headers.is_empty() {
        let mut h = Table::new();
        for (name, values) in &e.headers {
            let arr: Array = values.iter().map(String::as_str).collect();
            h.insert(name, value(arr));
        }
        t.insert("header", Item::Table(h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_capabilities_list_means_every_capability_as_containerd_reads_it() {
        for text in ["capabilities = []\n", ""] {
            let doc: DocumentMut = text.parse().unwrap();
            let e = Endpoint::read("https://upstream.example", doc.as_table(), true);
            assert_eq!(e.capabilities, ["pull", "resolve", "push"], "{text:?}");
        }
        let doc: DocumentMut = "capabilities = [\"pull\"]\n".parse().unwrap();
        let e = Endpoint::read("https://upstream.example", doc.as_table(), true);
        assert_eq!(e.capabilities, ["pull"]);
    }
}
