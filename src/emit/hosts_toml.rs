//! `hosts.toml`, serialised with toml_edit (never by string concatenation of values).
use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::plan::{HostEntry, HostsConfig, Origin};

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
