//! k3s / RKE2 `registries.yaml` → legacy registry settings (then → a regtrust spec).
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::legacy::{Legacy, LegacyTls};

#[derive(Debug, Deserialize, Default)]
struct RegistriesYaml {
    /// `docker.io:` or `"*":` with nothing under it (k3s's embedded-registry documentation
    /// writes them so) is a mirror without endpoints.
    #[serde(default)]
    mirrors: BTreeMap<String, Option<Mirror>>,
    #[serde(default)]
    configs: BTreeMap<String, Option<Config>>,
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
        let m = m.unwrap_or_default();
        if !m.rewrite.is_empty() {
            notes.push(format!(
                "warning: mirrors.\"{host}\".rewrite is dropped: hosts.toml has no rewrites, \
                 so image names are not rewritten"
            ));
        }
        legacy.mirrors.push((host, m.endpoint));
    }
    for (host, c) in y.configs {
        let c = c.unwrap_or_default();
        if c.auth.is_some() {
            notes.push(format!(
                "warning: configs.\"{host}\".auth is dropped: the credentials are not carried over \
                 (keep them in containerd's registry.configs.\"{host}\".auth, or use an \
                 Authorization header)"
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
