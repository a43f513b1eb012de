//! k3s / RKE2 `registries.yaml` → legacy registry settings (then → a regtrust spec).
use std::collections::BTreeMap;

use serde::Deserialize;

use crate::legacy::{Legacy, LegacyAuth, LegacyTls};

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
    auth: Option<Auth>,
    #[serde(default)]
    tls: Option<Tls>,
}

#[derive(Debug, Deserialize, Default)]
struct Auth {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identity_token: Option<String>,
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
        if let Some(a) = c.auth {
            let nonempty = |v: Option<String>| v.filter(|v| !v.is_empty());
            legacy.auth.push((
                host.clone(),
                LegacyAuth {
                    username: nonempty(a.username),
                    password: nonempty(a.password),
                    auth: nonempty(a.auth),
                    identitytoken: nonempty(a.identity_token),
                },
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
