//! The spec as written (YAML or JSON), with source positions. Validation turns it into
//! [`super::ValidSpec`]; nothing else reads these types.
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    #[serde(default)]
    pub containerd: Option<RawContainerd>,
    pub registries: Spanned<Vec<Spanned<RawRegistry>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContainerd {
    #[serde(default)]
    pub version: Option<Spanned<String>>,
    #[serde(default)]
    pub config_path: Option<Spanned<String>>,
}

/// One registry: the host as written in image references, how to reach it, and its mirrors.
///
/// The per-host settings (capabilities … dial_timeout) repeat those of [`RawEndpoint`] on
/// purpose: `#[serde(flatten)]` would lose the source positions (`Spanned`) that every
/// validation error needs. Validation reads both through one `Settings` struct.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    pub host: Spanned<String>,
    /// The registry itself speaks plain HTTP.
    #[serde(default)]
    pub http: Option<Spanned<bool>>,
    /// Explicit upstream URL (default: `https://<host>`, `http://<host>` with `http: true`).
    #[serde(default)]
    pub server: Option<Spanned<String>>,
    /// `false`: never contact the upstream, only the endpoints.
    #[serde(default)]
    pub fallback: Option<Spanned<bool>>,
    #[serde(default)]
    pub endpoints: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
    #[serde(default)]
    pub capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub ca: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub ca_pem: Option<Spanned<String>>,
    #[serde(default)]
    pub client: Option<Spanned<RawClient>>,
    #[serde(default)]
    pub skip_verify: Option<Spanned<bool>>,
    #[serde(default)]
    pub headers: Option<Spanned<BTreeMap<String, OneOrMany>>>,
    #[serde(default)]
    pub override_path: Option<Spanned<bool>>,
    #[serde(default)]
    pub dial_timeout: Option<Spanned<String>>,
}

/// A mirror or alternative endpoint, tried in order before the upstream.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub url: Spanned<String>,
    #[serde(default)]
    pub capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub ca: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub ca_pem: Option<Spanned<String>>,
    #[serde(default)]
    pub client: Option<Spanned<RawClient>>,
    #[serde(default)]
    pub skip_verify: Option<Spanned<bool>>,
    #[serde(default)]
    pub headers: Option<Spanned<BTreeMap<String, OneOrMany>>>,
    #[serde(default)]
    pub override_path: Option<Spanned<bool>>,
    #[serde(default)]
    pub dial_timeout: Option<Spanned<String>>,
}

/// A TLS client certificate: node paths or inline PEM.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub cert_pem: Option<String>,
    #[serde(default)]
    pub key_pem: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
