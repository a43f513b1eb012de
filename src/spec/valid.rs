//! The validated spec: every value checked, every default filled in.
use std::collections::BTreeMap;

use crate::containerd::Version;
use crate::diag::Pos;
use crate::secret::Secret;

pub use crate::containerd::layout::DEFAULT_CONFIG_PATH;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSpec {
    /// `runtimes` from the spec, if given (each once, in the spec's order).
    pub runtimes: Option<Vec<Runtime>>,
    /// `containerd.version` from the spec, if given.
    pub containerd: Option<Version>,
    /// `containerd.config_path` from the spec, if given (one absolute directory).
    pub config_path: Option<String>,
    pub registries: Vec<Registry>,
}

/// A container runtime `apply` configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Runtime {
    Containerd,
    Docker,
    /// Everything that reads the containers-image configuration: Podman, CRI-O, Buildah,
    /// Skopeo (`cri-o` is another name for it).
    Podman,
}

impl Runtime {
    pub const ALL: [Runtime; 3] = [Runtime::Containerd, Runtime::Docker, Runtime::Podman];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
        }
    }

    /// A runtime name as written in the spec or on the command line (`cri-o` and `crio` are
    /// other names for podman: they read the same containers-image files); the error says what
    /// is known.
    pub fn parse(s: &str) -> Result<Runtime, String> {
        match s {
            "containerd" => Ok(Runtime::Containerd),
            "docker" => Ok(Runtime::Docker),
            "podman" | "cri-o" | "crio" => Ok(Runtime::Podman),
            _ => Err(format!(
                "unknown runtime `{s}`: the runtimes are containerd, docker and podman (also \
                 named cri-o: Podman, CRI-O, Buildah and Skopeo read the same containers-image \
                 files)"
            )),
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The host as written in image references (`"*"` for the catch-all).
    pub host: String,
    /// The directory under config_path: the host, or `_default` for `"*"`.
    pub dir_name: String,
    /// The upstream registry (hosts.toml `server`) and its settings.
    pub upstream: Endpoint,
    /// Mirrors, tried in order before the upstream.
    pub endpoints: Vec<Endpoint>,
    /// Whether the upstream is contacted at all.
    pub fallback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// `None`: containerd's default (pull, resolve, push).
    pub capabilities: Option<Vec<Capability>>,
    pub tls: Tls,
    pub headers: BTreeMap<String, Vec<String>>,
    pub override_path: bool,
    pub dial_timeout: Option<String>,
    /// Credentials for this host only.
    pub auth: Option<Auth>,
}

impl Endpoint {
    pub fn new(url: String) -> Endpoint {
        Endpoint {
            url,
            capabilities: None,
            tls: Tls::default(),
            headers: BTreeMap::new(),
            override_path: false,
            dial_timeout: None,
            auth: None,
        }
    }

    pub fn is_http(&self) -> bool {
        self.url.starts_with("http://")
    }

    /// `host[:port]` of the URL.
    pub fn authority(&self) -> &str {
        super::host::authority(&self.url)
    }
}

/// Credentials for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// The user name; empty only with an identity token.
    pub username: String,
    /// What the secret is: a password or an identity token.
    pub kind: SecretKind,
    pub source: PasswordSource,
    /// The secret (password or identity token): set at validation for an inline one, by
    /// [`super::secrets::read`] for a file or an environment variable (at render/apply time,
    /// never by `check`).
    pub password: Option<Secret>,
    /// How containerd gets them; `None`: the default for the containerd version
    /// ([`AuthMethod::default_for`]).
    pub method: Option<AuthMethod>,
    /// Where `auth` is in the spec, for the errors of reading the password.
    pub at: Option<Pos>,
}

/// What an `auth`'s secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Password,
    IdentityToken,
}

impl SecretKind {
    pub fn name(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::IdentityToken => "identity token",
        }
    }
}

/// How containerd gets a host's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// CRI's `registry.configs."host".auth` in config.toml: containerd's authorizer answers the
    /// registry's challenge, HTTP Basic or the Bearer token exchange.
    Config,
    /// A static `Authorization: Basic …` header in the host's hosts.toml table.
    Header,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<AuthMethod> {
        match s {
            "config" => Some(AuthMethod::Config),
            "header" => Some(AuthMethod::Header),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Config => "config",
            AuthMethod::Header => "header",
        }
    }

    /// The method that works by default on `containerd`, for HTTP Basic and token (Bearer)
    /// registries alike (measured on 1.6.20, 1.7.24 and 2.1.9, tests/real/auth_token.rs):
    /// - before 2.1, `config`: a hosts.toml header reaches the registry, but the token request
    ///   after a Bearer challenge goes out without credentials (refused);
    /// - from 2.1 on, `header`: containerd sends the host's headers with the token request too,
    ///   so it pulls from both kinds, with no restart and without `configs.*.auth`, which 2.x
    ///   deprecates (removal planned for 2.4) and which moves CRI to its local pull path.
    ///
    /// 2.0 is not measured here: `config`, which works on every version. Unknown: `config`.
    pub fn default_for(containerd: Option<&crate::containerd::Version>) -> AuthMethod {
        match containerd {
            Some(v) if v.at_least(2, 1) => AuthMethod::Header,
            _ => AuthMethod::Config,
        }
    }
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file where regtrust runs (absolute, or relative to the spec's directory).
    File(String),
    /// An environment variable of regtrust's process.
    Env(String),
    /// In the spec itself.
    Inline,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca: Vec<FileSource>,
    pub client: Option<ClientPair>,
    pub skip_verify: Option<bool>,
}

impl Tls {
    pub fn is_empty(&self) -> bool {
        self.ca.is_empty() && self.client.is_none() && self.skip_verify.is_none()
    }
}

/// A file the node must have: an existing node path, or content regtrust writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    Path(String),
    Inline(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPair {
    pub cert: FileSource,
    pub key: Option<FileSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Pull,
    Resolve,
    Push,
    Referrers,
}

impl Capability {
    pub fn parse(s: &str) -> Option<Capability> {
        match s {
            "pull" => Some(Capability::Pull),
            "resolve" => Some(Capability::Resolve),
            "push" => Some(Capability::Push),
            "referrers" => Some(Capability::Referrers),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Pull => "pull",
            Capability::Resolve => "resolve",
            Capability::Push => "push",
            Capability::Referrers => "referrers",
        }
    }
}
