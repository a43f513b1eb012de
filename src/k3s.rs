//! k3s / RKE2 `registries.yaml` → legacy registry settings (then → a regtrust spec).
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::legacy::{Legacy, LegacyTls};

#[derive(Debug, Deserialize, Default)]
struct RegistriesYaml {
    #[serde(default)]
    mirrors: BTreeMap<String, Mirror>,
    #[serde(default)]
    configs: BTreeMap<String, Config>,
}

#[derive(Debug, Deserialize, Default)]
struct Mirror {
    #[serde(default)]
    endpoint: Vec<String>,
    #[serde(default)]
    rewrite: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, Default)]
struct Config {
    #[serde(default)]
    auth: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    tls: Option<Tls>,
}

#[derive(Debug, Deserialize, Default)]
struct Tls {
    #[serde(default)]
    ca_file: Option<String>,
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    insecure_skip_verify: Option<bool>,
}

/// Parses registries.yaml; returns the legacy settings and what could not be carried over.
pub fn parse(name: &str, text: &str) -> Result<(Legacy, Vec<String>), String> {
    let y: RegistriesYaml = serde_saphyr::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        format!(
            "{name}{at}: {}",
            e.without_snippet().to_string().lines().next().unwrap_or("")
        )
    })?;
    let mut legacy = Legacy::default();
    let mut notes = Vec::new();
    for (host, m) in y.mirrors {
        if !m.rewrite.is_empty() {
            notes.push(format!(
                "mirrors.\"{host}\".rewrite is not carried over: hosts.toml has no rewrites"
            ));
        }
        legacy.mirrors.push((host, m.endpoint));
    }
    for (host, c) in y.configs {
        if c.auth.is_some() {
            notes.push(format!(
                "configs.\"{host}\".auth is not carried over: hosts.toml has no credentials (keep them in containerd's registry.configs.\"{host}\".auth, or use an Authorization header)"
            ));
        }
        if let Some(t) = c.tls {
            legacy.tls.insert(
                host,
                LegacyTls {
                    ca_file: t.ca_file,
                    cert_file: t.cert_file,
                    key_file: t.key_file,
                    insecure_skip_verify: t.insecure_skip_verify,
                },
            );
        }
    }
    Ok((legacy, notes))
}
