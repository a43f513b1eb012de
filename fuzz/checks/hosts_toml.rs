//! The hosts.toml writer: arbitrary URLs, header names and values (validation bypassed, host
//! names checked) must give a hosts.toml that parses and says exactly what it was given.
//!
//! Plain Rust, no libFuzzer: `fuzz_targets/hosts_toml.rs` calls [`check`] on every input,
//! and a test can replay saved inputs through it (docs/testing.md, "Fuzzing").
use std::collections::BTreeMap;

use regtrust::plan::{FileKind, Plan};
use regtrust::spec::{Endpoint, Registry, ValidSpec};

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.split('\u{1}');
    let host = parts.next().unwrap_or("");
    if regtrust::spec::host::check_host(host).is_err() || host == "*" {
        return;
    }
    let mut endpoints = Vec::new();
    let mut headers = BTreeMap::new();
    while let (Some(a), Some(b)) = (parts.next(), parts.next()) {
        if a.starts_with("http") && !endpoints.iter().any(|e: &Endpoint| e.url == a) {
            let mut e = Endpoint::new(a.to_string());
            e.dial_timeout = Some(b.to_string());
            endpoints.push(e);
        } else if !a.starts_with("http") {
            headers.insert(a.to_string(), vec![b.to_string()]);
        }
    }
    let mut upstream = Endpoint::new(format!("https://{host}"));
    upstream.headers = headers.clone();
    let spec = ValidSpec {
        runtimes: None,
        containerd: None,
        config_path: None,
        registries: vec![Registry {
            host: host.to_string(),
            dir_name: host.to_string(),
            upstream,
            endpoints: endpoints.clone(),
            fallback: true,
        }],
    };
    let plan = Plan::build(&spec, &[], "/etc/containerd/certs.d", None);
    let f = plan
        .files
        .iter()
        .find(|f| f.kind == FileKind::HostsToml)
        .unwrap();
    assert_eq!(f.path, format!("/etc/containerd/certs.d/{host}/hosts.toml"));
    let doc: toml_edit::DocumentMut = f.content.parse().expect("hosts.toml parses");
    assert_eq!(
        doc["server"].as_str(),
        Some(format!("https://{host}").as_str())
    );
    for (name, values) in &headers {
        assert_eq!(
            doc["header"][name.as_str()][0].as_str(),
            Some(values[0].as_str())
        );
    }
    let tables = doc["host"].as_table().expect("a [host] table");
    for e in &endpoints {
        assert_eq!(
            tables[e.url.as_str()]["dial_timeout"].as_str(),
            e.dial_timeout.as_deref()
        );
    }
}
