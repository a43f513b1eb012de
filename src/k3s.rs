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

/// `registries.yaml` as regtrust writes it (`render --target k3s`).
#[derive(Debug, serde::Serialize, Default)]
struct RegistriesOut {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    mirrors: BTreeMap<String, MirrorOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<String, ConfigOut>,
}

#[derive(Debug, serde::Serialize)]
struct MirrorOut {
    endpoint: Vec<serde_saphyr::DoubleQuoted<String>>,
}

#[derive(Debug, serde::Serialize, Default, PartialEq)]
struct ConfigOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsOut>,
}

#[derive(Debug, serde::Serialize, PartialEq)]
struct AuthOut {
    username: serde_saphyr::DoubleQuoted<String>,
    password: serde_saphyr::DoubleQuoted<String>,
}

#[derive(Debug, serde::Serialize, Default, PartialEq)]
struct TlsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    insecure_skip_verify: Option<bool>,
}

/// The spec as k3s / RKE2 `registries.yaml`: `mirrors."<host>".endpoint` lists the endpoints in
/// order and then the registry itself (k3s reads an endpoint that is the registry as its own
/// upstream: that is how `http: true` is said); `configs."<host[:port]>"` carries each contacted
/// host's `tls` (node paths) and `auth`. What registries.yaml cannot say is left out, each named
/// in a warning: headers, capabilities, override_path, dial_timeout, `fallback: false`, inline
/// PEMs (registries.yaml names files only), more than one CA. `import k3s` reads the output back
/// into the same registries, with the passwords read from environment variables.
pub fn export(spec: &crate::spec::ValidSpec) -> (String, Vec<String>) {
    use crate::spec::{Capability, FileSource};
    use serde_saphyr::DoubleQuoted as Q;
    let mut out = RegistriesOut::default();
    let mut warnings = Vec::new();
    for reg in &spec.registries {
        let mut dropped: Vec<String> = Vec::new();
        let mut endpoints = Vec::new();
        let up = &reg.upstream;
        let mut contacted: Vec<(&crate::spec::Endpoint, String)> = Vec::new();
        for ep in &reg.endpoints {
            if ep.override_path {
                dropped.push(format!(
                    "`override_path` of {} (the endpoint is left out)",
                    ep.url
                ));
                continue;
            }
            if ep.capabilities.as_deref() != Some(&[Capability::Pull, Capability::Resolve][..]) {
                dropped.push(format!("the capabilities of {}", ep.url));
            }
            endpoints.push(Q(ep.url.clone()));
            contacted.push((ep, ep.authority().to_string()));
        }
        if !reg.fallback {
            dropped.push("`fallback: false` (k3s tries the registry itself last)".to_string());
        } else if !up.url.is_empty() {
            let own = [
                reg.host.as_str(),
                crate::spec::host::upstream_host(&reg.host),
            ];
            if !own.contains(&up.authority()) {
                dropped.push(format!(
                    "`server` {} as the upstream (written as the last endpoint; k3s still tries \
                     the registry itself after it)",
                    up.url
                ));
            }
            if up.capabilities.is_some() {
                dropped.push("the upstream's capabilities".to_string());
            }
            endpoints.push(Q(up.url.clone()));
            contacted.push((up, up.authority().to_string()));
        }
        for ep in std::iter::once(up).chain(&reg.endpoints) {
            if !ep.headers.is_empty() {
                dropped.push(format!("the headers of {}", name_of(ep, &reg.host)));
            }
            if ep.dial_timeout.is_some() {
                dropped.push(format!("the dial_timeout of {}", name_of(ep, &reg.host)));
            }
        }
        for (ep, key) in contacted {
            let mut c = ConfigOut::default();
            if let Some(a) = &ep.auth {
                match &a.password {
                    Some(p) => {
                        c.auth = Some(AuthOut {
                            username: Q(a.username.clone()),
                            password: Q(p.expose().to_string()),
                        })
                    }
                    None => dropped.push(format!("the credentials of {} (no password)", ep.url)),
                }
            }
            if !ep.is_http() {
                let mut t = TlsOut {
                    insecure_skip_verify: ep.tls.skip_verify,
                    ..TlsOut::default()
                };
                for (i, ca) in ep.tls.ca.iter().enumerate() {
                    match ca {
                        FileSource::Path(p) if i == 0 => t.ca_file = Some(p.clone()),
                        FileSource::Path(p) => {
                            dropped.push(format!("CA {p} of {} (one ca_file per host)", ep.url))
                        }
                        FileSource::Inline(_) => dropped.push(format!(
                            "the inline CA (ca_pem) of {} (registries.yaml names files only: put \
                             it in a file on the node and name it with `ca`)",
                            ep.url
                        )),
                    }
                }
                match &ep.tls.client {
                    Some(crate::spec::ClientPair {
                        cert: FileSource::Path(cert),
                        key: None,
                    }) => t.cert_file = Some(cert.clone()),
                    Some(crate::spec::ClientPair {
                        cert: FileSource::Path(cert),
                        key: Some(FileSource::Path(key)),
                    }) => {
                        t.cert_file = Some(cert.clone());
                        t.key_file = Some(key.clone());
                    }
                    Some(_) => dropped.push(format!(
                        "the inline client certificate of {} (registries.yaml names files only)",
                        ep.url
                    )),
                    None => {}
                }
                if t != TlsOut::default() {
                    c.tls = Some(t);
                }
            }
            if c == ConfigOut::default() {
                continue;
            }
            match out.configs.get(&key) {
                Some(old) if *old != c => dropped.push(format!(
                    "the settings of {} for {} (configs.\"{key}\" already holds another \
                     registry's)",
                    ep.url, reg.host
                )),
                Some(_) => {}
                None => {
                    out.configs.insert(key, c);
                }
            }
        }
        if !endpoints.is_empty() {
            out.mirrors.insert(
                reg.host.clone(),
                MirrorOut {
                    endpoint: endpoints,
                },
            );
        }
        dropped.dedup();
        for d in dropped {
            warnings.push(format!(
                "warning: {}: registries.yaml has no place for {d}: dropped",
                reg.host
            ));
        }
    }
    let body = if out.mirrors.is_empty() && out.configs.is_empty() {
        "{}\n".to_string()
    } else {
        serde_saphyr::to_string(&out).expect("plain data serialises")
    };
    (
        format!(
            "# k3s / RKE2 registries.yaml, written by regtrust from a registry spec.\n\
             # /etc/rancher/k3s/registries.yaml (RKE2: /etc/rancher/rke2/registries.yaml);\n\
             # k3s reads it at start: restart k3s (or rke2-server / rke2-agent) after a change.\n\
             {body}"
        ),
        warnings,
    )
}

fn name_of(ep: &crate::spec::Endpoint, host: &str) -> String {
    if ep.url.is_empty() {
        host.to_string()
    } else {
        ep.url.clone()
    }
}
