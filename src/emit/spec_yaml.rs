//! A registry spec written back as YAML (for `migrate` and `import k3s`): what legacy settings
//! said, in the spec's own terms, so that the next `apply` manages those hosts.
use std::collections::BTreeMap;

use serde::Serialize;
use serde_saphyr::{DoubleQuoted, LitString};

use crate::spec::host::upstream_host;
use crate::spec::{Auth, Capability, Endpoint, FileSource, PasswordSource, Registry, SecretKind};

#[derive(Serialize)]
struct SpecOut {
    registries: Vec<RegistryOut>,
}

#[derive(Serialize)]
struct RegistryOut {
    host: DoubleQuoted<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<bool>,
    #[serde(flatten)]
    settings: SettingsOut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    endpoints: Vec<EndpointOut>,
}

#[derive(Serialize)]
struct EndpointOut {
    url: String,
    #[serde(flatten)]
    settings: SettingsOut,
}

#[derive(Serialize, Default)]
struct SettingsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ca: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_pem: Option<LitString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<BTreeMap<&'static str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skip_verify: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    override_path: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    dial_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthOut>,
}

#[derive(Serialize, Default)]
struct AuthOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_token_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_token_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
}

fn settings(e: &Endpoint, http: bool) -> SettingsOut {
    let mut s = SettingsOut {
        capabilities: e
            .capabilities
            .as_ref()
            .map(|c| c.iter().map(|c| Capability::as_str(*c)).collect()),
        headers: e.headers.clone(),
        override_path: e.override_path,
        dial_timeout: e.dial_timeout.clone(),
        auth: e.auth.as_ref().and_then(auth),
        ..SettingsOut::default()
    };
    if http {
        // TLS settings on plain HTTP only make containerd try HTTPS first: leave them out.
        return s;
    }
    s.skip_verify = e.tls.skip_verify;
    for ca in &e.tls.ca {
        match ca {
            FileSource::Path(p) => s.ca.push(p.clone()),
            FileSource::Inline(pem) => s.ca_pem = Some(LitString(pem.clone())),
        }
    }
    if let Some(c) = &e.tls.client {
        let mut m = BTreeMap::new();
        let mut put = |src: &FileSource, path_key, pem_key| match src {
            FileSource::Path(p) => m.insert(path_key, p.clone()),
            FileSource::Inline(pem) => m.insert(pem_key, pem.clone()),
        };
        put(&c.cert, "cert", "cert_pem");
        if let Some(k) = &c.key {
            put(k, "key", "key_pem");
        }
        s.client = Some(m);
    }
    s
}

/// `auth` by reference: the username and where the secret is (an inline secret is never
/// written back).
fn auth(a: &Auth) -> Option<AuthOut> {
    let mut out = AuthOut {
        username: (!a.username.is_empty()).then(|| a.username.clone()),
        method: a.method.map(|m| m.name()),
        ..AuthOut::default()
    };
    let token = a.kind == SecretKind::IdentityToken;
    match &a.source {
        PasswordSource::File(p) if token => out.identity_token_file = Some(p.clone()),
        PasswordSource::File(p) => out.password_file = Some(p.clone()),
        PasswordSource::Env(v) if token => out.identity_token_env = Some(v.clone()),
        PasswordSource::Env(v) => out.password_env = Some(v.clone()),
        PasswordSource::Inline => return None,
    }
    Some(out)
}

/// The registries as a spec document, with a header saying where they came from.
pub fn render(registries: &[Registry], header: &str) -> String {
    let out = SpecOut {
        registries: registries
            .iter()
            .map(|r| {
                let url = r.upstream.url.as_str();
                let http = url == format!("http://{}", r.host);
                let server = (!url.is_empty()
                    && !http
                    && url != format!("https://{}", upstream_host(&r.host)))
                .then(|| url.to_string());
                RegistryOut {
                    host: DoubleQuoted(r.host.clone()),
                    http: http.then_some(true),
                    server,
                    fallback: (!r.fallback).then_some(false),
                    settings: settings(&r.upstream, r.upstream.is_http()),
                    endpoints: r
                        .endpoints
                        .iter()
                        .map(|e| EndpointOut {
                            url: e.url.clone(),
                            settings: settings(e, e.is_http()),
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    let body = serde_saphyr::to_string(&out).expect("plain data serialises");
    let comments: String = header.lines().map(|l| format!("# {l}\n")).collect();
    format!("{comments}{body}")
}
