//! The spec as written (YAML or JSON), with source positions. Validation turns it into
//! [`super::ValidSpec`]; nothing else reads these types. The doc comments here are also the
//! descriptions in `regtrust schema` (JSON Schema).
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A regtrust registry spec: the registries containerd nodes must trust.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    /// The container runtimes `apply` configures: containerd, docker, podman (Podman, CRI-O,
    /// Buildah, Skopeo: `cri-o` is another name for it). Default: what is installed under the
    /// root.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RuntimeName>>")]
    pub runtimes: Option<Spanned<Vec<Spanned<String>>>>,
    /// The containerd the nodes run (optional).
    #[serde(default)]
    pub containerd: Option<RawContainerd>,
    /// The registries, each once.
    #[schemars(with = "Vec<RawRegistry>")]
    pub registries: Spanned<Vec<Spanned<RawRegistry>>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContainerd {
    /// containerd release: 1.6, 1.7, 2.0, 2.1, 2.2 or 2.3, optionally with a patch level (1.6.20).
    #[serde(default)]
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^v?(1\.[67]|2\.[0-3])(\.[0-9]+)?$")
    )]
    pub version: Option<Spanned<String>>,
    /// The one directory holding `<host>/hosts.toml` (default /etc/containerd/certs.d).
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^/[^:]*$"))]
    pub config_path: Option<Spanned<String>>,
}

// The per-host settings (capabilities … dial_timeout) repeat those of `RawEndpoint` on
// purpose: `#[serde(flatten)]` would lose the source positions (`Spanned`) that every
// validation error needs. Validation reads both through one `Settings` struct.
/// One registry: the host as written in image references, how to reach it, and its mirrors.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    /// The registry as written in image references: name[:port], IPv4[:port], [IPv6][:port],
    /// or "*" for every other registry (the `_default` directory). Never a URL.
    #[schemars(with = "String")]
    pub host: Spanned<String>,
    /// The registry itself speaks plain HTTP.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub http: Option<Spanned<bool>>,
    /// Explicit upstream URL (default: `https://<host>`, `http://<host>` with `http: true`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub server: Option<Spanned<String>>,
    /// `false`: never contact the upstream, only the endpoints.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub fallback: Option<Spanned<bool>>,
    /// Mirrors, tried in order before the upstream.
    #[serde(default)]
    #[schemars(with = "Option<Vec<RawEndpoint>>")]
    pub endpoints: Option<Spanned<Vec<Spanned<RawEndpoint>>>>,
    /// What the upstream may be used for (default: pull, resolve, push).
    #[serde(default)]
    #[schemars(with = "Option<Vec<CapabilityName>>")]
    pub capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    /// CA certificate file(s) on the node, absolute paths.
    #[serde(default)]
    #[schemars(with = "Option<OneOrManySchema>")]
    pub ca: Option<Spanned<OneOrMany>>,
    /// An inline PEM CA certificate, written next to hosts.toml.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_pem: Option<Spanned<String>>,
    /// A TLS client certificate.
    #[serde(default)]
    #[schemars(with = "Option<RawClient>")]
    pub client: Option<Spanned<RawClient>>,
    /// Skip certificate verification (HTTPS only).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub skip_verify: Option<Spanned<bool>>,
    /// HTTP headers sent with every request: a value or a list of values.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, OneOrManySchema>>")]
    pub headers: Option<Spanned<BTreeMap<String, Spanned<OneOrMany>>>>,
    /// The URL path is the full API path (no `/v2` appended).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub override_path: Option<Spanned<bool>>,
    /// Connection timeout, a Go duration such as 5s (containerd 2.0.7+).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub dial_timeout: Option<Spanned<String>>,
    /// Credentials for this host only: a username and password (HTTP Basic, or the token
    /// exchange of a Bearer registry), or an identity token.
    #[serde(default)]
    #[schemars(with = "Option<RawAuth>")]
    pub auth: Option<Spanned<RawAuth>>,
}

/// A mirror or alternative endpoint, tried in order before the upstream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    /// The endpoint's URL: http(s)://host[:port][/path].
    #[schemars(with = "String", regex(pattern = r"^https?://"))]
    pub url: Spanned<String>,
    /// What the endpoint may be used for (default: pull, resolve).
    #[serde(default)]
    #[schemars(with = "Option<Vec<CapabilityName>>")]
    pub capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    /// CA certificate file(s) on the node, absolute paths.
    #[serde(default)]
    #[schemars(with = "Option<OneOrManySchema>")]
    pub ca: Option<Spanned<OneOrMany>>,
    /// An inline PEM CA certificate, written next to hosts.toml.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_pem: Option<Spanned<String>>,
    /// A TLS client certificate.
    #[serde(default)]
    #[schemars(with = "Option<RawClient>")]
    pub client: Option<Spanned<RawClient>>,
    /// Skip certificate verification (https:// endpoints only).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub skip_verify: Option<Spanned<bool>>,
    /// HTTP headers sent with every request: a value or a list of values.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, OneOrManySchema>>")]
    pub headers: Option<Spanned<BTreeMap<String, Spanned<OneOrMany>>>>,
    /// The URL path is the full API path (no `/v2` appended).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub override_path: Option<Spanned<bool>>,
    /// Connection timeout, a Go duration such as 5s (containerd 2.0.7+).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub dial_timeout: Option<Spanned<String>>,
    /// Credentials for this host only: a username and password (HTTP Basic, or the token
    /// exchange of a Bearer registry), or an identity token.
    #[serde(default)]
    #[schemars(with = "Option<RawAuth>")]
    pub auth: Option<Spanned<RawAuth>>,
}

/// Credentials for one registry host: a username and exactly one password source, or exactly
/// one identity token source. Secrets are read when regtrust renders or applies (never by
/// `check`), and are never printed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// The user name (no `:`); needed with a password, optional with an identity token.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub username: Option<Spanned<String>>,
    /// A file holding the password (read where regtrust runs, not under --root; a relative path
    /// is relative to the spec's directory; one trailing line break is dropped).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password_file: Option<Spanned<String>>,
    /// An environment variable holding the password.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password_env: Option<Spanned<String>>,
    /// The password itself, inline (`check` warns: prefer password_file or password_env).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub password: Option<Spanned<String>>,
    /// A file holding an identity token (an OAuth2 refresh token, what `docker login` stores as
    /// `identitytoken`) instead of a password: containerd exchanges it for registry tokens
    /// (`method: config` only).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub identity_token_file: Option<Spanned<String>>,
    /// An environment variable holding the identity token.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub identity_token_env: Option<Spanned<String>>,
    /// The identity token itself, inline (`check` warns).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub identity_token: Option<Spanned<String>>,
    /// How containerd gets the credentials: `config` (CRI's `registry.configs."host".auth` in
    /// config.toml, mode 0600; needs a restart; the default before containerd 2.1) or `header`
    /// (an `Authorization: Basic` header in hosts.toml, no restart; the default from 2.1 on).
    /// Both serve HTTP Basic registries; for token (Bearer) registries (Docker Hub, Harbor,
    /// GitLab) a header works only from containerd 2.1 on.
    #[serde(default)]
    #[schemars(with = "Option<AuthMethodName>")]
    pub method: Option<Spanned<String>>,
}

/// How containerd gets a host's credentials.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum AuthMethodName {
    Config,
    Header,
}

/// A TLS client certificate: node paths, or inline PEM written next to hosts.toml.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawClient {
    /// Certificate file on the node (absolute path).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cert: Option<Spanned<String>>,
    /// Private key file on the node (absolute path).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key: Option<Spanned<String>>,
    /// Inline PEM certificate.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub cert_pem: Option<Spanned<String>>,
    /// Inline PEM private key (written with mode 0600).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub key_pem: Option<Spanned<String>>,
}

/// A string or a list of strings; anything else is kept as a description of what was found,
/// so that validation can say, at that value's line, what was expected.
#[derive(Debug, Clone)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
    /// Not a string or a list of strings: what it was (`the number 42`, `a mapping`).
    Other(String),
}

// The JSON Schema shape of `OneOrMany`.
/// A string or a list of strings.
#[derive(JsonSchema)]
#[schemars(rename = "OneOrMany", untagged)]
#[allow(dead_code)]
pub enum OneOrManySchema {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, or what was found instead.
    pub fn strings(self) -> Result<Vec<String>, String> {
        match self {
            OneOrMany::One(s) => Ok(vec![s]),
            OneOrMany::Many(v) => Ok(v),
            OneOrMany::Other(what) => Err(what),
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OneOrManyVisitor { in_list: false })
    }
}

struct OneOrManyVisitor {
    /// Inside a list only strings are kept; a nested list is "other".
    in_list: bool,
}

impl<'de> serde::de::Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or a list of strings")
    }
    fn visit_str<E>(self, v: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany::One(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<OneOrMany, E> {
        Ok(OneOrMany::One(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other(format!("the boolean {v}")))
    }
    fn visit_i64<E>(self, v: i64) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other(format!("the number {v}")))
    }
    fn visit_u64<E>(self, v: u64) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other(format!("the number {v}")))
    }
    fn visit_f64<E>(self, v: f64) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other(format!("the number {v}")))
    }
    fn visit_unit<E>(self) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other("nothing (null)".to_string()))
    }
    fn visit_none<E>(self) -> Result<OneOrMany, E> {
        Ok(OneOrMany::Other("nothing (null)".to_string()))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<OneOrMany, A::Error> {
        while m
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(OneOrMany::Other("a mapping".to_string()))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<OneOrMany, A::Error> {
        if self.in_list {
            while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(OneOrMany::Other("a list".to_string()));
        }
        let mut items = Vec::new();
        let mut other = None;
        while let Some(item) = s.next_element_seed(ListItem)? {
            match item {
                OneOrMany::One(v) => items.push(v),
                OneOrMany::Many(_) => {}
                OneOrMany::Other(what) => {
                    other.get_or_insert(format!("a list holding {what}"));
                }
            }
        }
        Ok(match other {
            Some(what) => OneOrMany::Other(what),
            None => OneOrMany::Many(items),
        })
    }
}

struct ListItem;

impl<'de> serde::de::DeserializeSeed<'de> for ListItem {
    type Value = OneOrMany;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<OneOrMany, D::Error> {
        d.deserialize_any(OneOrManyVisitor { in_list: true })
    }
}

/// A hosts.toml capability (`referrers` needs containerd 2.2+).
// Used only by the JSON Schema: validation reads capabilities as strings, for its messages.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum CapabilityName {
    Pull,
    Resolve,
    Push,
    Referrers,
}

/// A container runtime `apply` configures.
// Used only by the JSON Schema: validation reads runtimes as strings, for its messages.
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RuntimeName {
    Containerd,
    Docker,
    Podman,
    #[serde(rename = "cri-o")]
    CriO,
}

/// The JSON Schema of the spec, for editors (yaml-language-server) and CI checks.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawSpec);
    schema.insert("$id".into(), "regtrust-spec.schema.json".into());
    schema.insert("title".into(), "regtrust registry spec".into());
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    s.push('\n');
    s
}
