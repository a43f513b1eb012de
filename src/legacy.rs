//! Legacy registry settings — CRI `registry.mirrors` / `registry.configs.*.tls` in config.toml,
//! and k3s's registries.yaml — read into the spec's model (hosts.toml semantics). Used by apply
//! (which migrates them), migrate, import k3s and doctor.
use std::collections::{BTreeMap, BTreeSet};

use toml_edit::{Item, TableLike};

use crate::containerd::config::ConfigError;
use crate::secret::Secret;
use crate::spec::host::{authority, check_host, dir_name, strip_scheme, upstream_host};
use crate::spec::{
    Capability, ClientPair, Endpoint, FileSource, PasswordSource, Registry, SecretKind,
};

/// TLS settings of a legacy `registry.configs."host".tls` table (or k3s `configs`).
#[derive(Debug, Default, Clone)]
pub struct LegacyTls {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

/// Legacy registry settings: CRI `registry.mirrors` / `registry.configs`, or k3s registries.yaml.
#[derive(Debug, Default)]
pub struct Legacy {
    /// registry host → mirror endpoints, in file order
    pub mirrors: Vec<(String, Vec<String>)>,
    /// endpoint or registry host → TLS settings
    pub tls: BTreeMap<String, LegacyTls>,
    /// endpoint or registry host → credentials (read, never removed from a config.toml: `apply`
    /// leaves them; `migrate` and `import k3s` carry them into the spec)
    pub auth: Vec<(String, LegacyAuth)>,
}

/// `configs."host".auth` of CRI's config or k3s's registries.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    /// base64 of `username:password`.
    pub auth: Option<String>,
    pub identitytoken: Option<String>,
}

impl LegacyAuth {
    /// Reads the keys of an `auth` table (`identity_token` is k3s's spelling).
    pub fn from_table(t: &dyn TableLike) -> LegacyAuth {
        let s = |k: &str| {
            t.get(k)
                .and_then(Item::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        LegacyAuth {
            username: s("username"),
            password: s("password"),
            auth: s("auth"),
            identitytoken: s("identitytoken").or_else(|| s("identity_token")),
        }
    }

    /// (username, what the secret is, the secret), as containerd reads them: an identity token
    /// first, then username and password, then `auth`.
    pub fn credential(&self) -> Result<(String, SecretKind, Secret), String> {
        let user = self.username.clone().unwrap_or_default();
        if let Some(t) = &self.identitytoken {
            return Ok((user, SecretKind::IdentityToken, Secret::new(t.clone())));
        }
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            return Ok((u.clone(), SecretKind::Password, Secret::new(p.clone())));
        }
        if let Some(a) = &self.auth {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or("`auth` is not base64 of user:password")?;
            let (u, p) = decoded
                .split_once(':')
                .ok_or("`auth` is not base64 of user:password")?;
            return Ok((
                u.to_string(),
                SecretKind::Password,
                Secret::new(p.to_string()),
            ));
        }
        Err("it has no username and password, `auth` or identity token".into())
    }
}

/// Puts the legacy credentials on the endpoints of `regs` they are for (every endpoint, mirror or
/// upstream, whose host is the key; a registry of its own when none is). `store` saves one
/// secret where the spec can name it and returns that path; the spec holds only the path.
pub fn attach_auth(
    regs: &mut Vec<Registry>,
    auths: &[(String, LegacyAuth)],
    store: &mut dyn FnMut(&str, SecretKind, &Secret) -> Result<String, String>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    for (key, la) in auths {
        let host = strip_scheme(key).to_string();
        let (username, kind, secret) = match la.credential() {
            Ok(c) => c,
            Err(why) => {
                notes.push(format!("warning: configs.\"{key}\".auth is dropped: {why}"));
                continue;
            }
        };
        if username.contains(':') || username.chars().any(char::is_control) {
            notes.push(format!(
                "warning: configs.\"{key}\".auth is dropped: its username cannot be sent as HTTP \
                 Basic credentials"
            ));
            continue;
        }
        let path = store(&host, kind, &secret)?;
        let auth = crate::spec::Auth {
            username: username.clone(),
            kind,
            source: PasswordSource::File(path.clone()),
            password: None,
            method: None,
            at: None,
        };
        let mut placed = 0;
        for r in regs.iter_mut() {
            for ep in std::iter::once(&mut r.upstream).chain(r.endpoints.iter_mut()) {
                if ep.authority() == host {
                    ep.auth = Some(auth.clone());
                    placed += 1;
                }
            }
        }
        if placed == 0 {
            if check_host(&host).is_err() || host == "*" {
                notes.push(format!(
                    "warning: configs.\"{key}\".auth is dropped: `{key}` is not a registry host"
                ));
                continue;
            }
            let mut upstream = Endpoint::new(format!("https://{host}"));
            upstream.auth = Some(auth);
            regs.push(Registry {
                dir_name: dir_name(&host),
                host: host.clone(),
                upstream,
                endpoints: Vec::new(),
                fallback: true,
            });
        }
        notes.push(format!(
            "carried the credentials of configs.\"{key}\".auth into the spec: the {} is in {path} \
             (0600), which the spec names",
            kind.name()
        ));
    }
    Ok(())
}

/// Registries made from legacy settings, each with what it came from.
pub type Migrated = Vec<(Registry, String)>;

/// The legacy registry settings of a node's config.toml as registries, without changing it
/// (what `apply` would migrate), its `configs.*.auth` credentials, and what was decided on the
/// way.
#[allow(clippy::type_complexity)]
pub fn read_config(
    text: &str,
    containerd: crate::containerd::Version,
) -> Result<(Migrated, Vec<(String, LegacyAuth)>, Vec<String>), ConfigError> {
    use crate::containerd::config::{file_layout, registry_table};
    let mut doc = crate::containerd::config::parse(text)?;
    let mut notes = Vec::new();
    let layout = file_layout(&doc, text, &containerd, &mut notes)?;
    let plugin = crate::containerd::config::effective_registry_plugin(
        &mut doc,
        text,
        layout,
        &containerd,
        &mut notes,
    )?;
    let registry = registry_table(&mut doc, plugin)?;
    let mut legacy = take_legacy(registry, &mut notes)?;
    let auth = std::mem::take(&mut legacy.auth);
    let regs = migrate(legacy, &BTreeSet::new(), &mut notes);
    // Only what concerns the spec: not the notes about removing tables from config.toml.
    notes.retain(|n| !n.starts_with("removed ") && !n.starts_with("migrated "));
    Ok((regs, auth, notes))
}

/// Removes `mirrors` (non-empty) and `configs.*.tls` / `configs.*.http`, returning what they said.
pub fn take_legacy(
    registry: &mut dyn TableLike,
    notes: &mut Vec<String>,
) -> Result<Legacy, ConfigError> {
    let mut legacy = Legacy::default();
    let mirrors_nonempty = registry
        .get("mirrors")
        .and_then(Item::as_table_like)
        .is_some_and(|t| !t.is_empty());
    if mirrors_nonempty {
        let item = registry.remove("mirrors").expect("checked above");
        let table = item.as_table_like().expect("checked above");
        for (host, m) in table.iter() {
            // k3s's containerd also reads `rewrite` (and others could be there): hosts.toml has
            // no such setting, so what is dropped is said.
            for (key, _) in m.as_table_like().into_iter().flat_map(|t| t.iter()) {
                if key != "endpoint" {
                    notes.push(format!(
                        "warning: `registry.mirrors.\"{host}\".{key}` is dropped: hosts.toml has no \
                         such setting{}",
                        if key == "rewrite" {
                            " (repository rewrites exist only in k3s's containerd)"
                        } else {
                            ""
                        }
                    ));
                }
            }
            let endpoints = m
                .as_table_like()
                .and_then(|t| t.get("endpoint"))
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            legacy.mirrors.push((host.to_string(), endpoints));
        }
        notes.push(format!(
            "removed `registry.mirrors` ({}): it cannot coexist with config_path (the CRI plugin \
             would not load)",
            legacy
                .mirrors
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(configs) = registry
        .get_mut("configs")
        .and_then(Item::as_table_like_mut)
    {
        let hosts: Vec<String> = configs.iter().map(|(k, _)| k.to_string()).collect();
        for host in hosts {
            let Some(entry) = configs.get_mut(&host).and_then(Item::as_table_like_mut) else {
                continue;
            };
            if let Some(a) = entry.get("auth").and_then(Item::as_table_like) {
                legacy.auth.push((host.clone(), LegacyAuth::from_table(a)));
            }
            if let Some(tls) = entry.remove("tls") {
                let t = tls.as_table_like();
                let s = |k: &str| {
                    t.and_then(|t| t.get(k))
                        .and_then(Item::as_str)
                        .map(str::to_string)
                };
                legacy.tls.insert(
                    host.clone(),
                    LegacyTls {
                        ca_file: s("ca_file").filter(|p| !p.is_empty()),
                        cert_file: s("cert_file").filter(|p| !p.is_empty()),
                        key_file: s("key_file").filter(|p| !p.is_empty()),
                        insecure_skip_verify: t
                            .and_then(|t| t.get("insecure_skip_verify"))
                            .and_then(Item::as_bool),
                    },
                );
                notes.push(format!(
                    "removed `registry.configs.\"{host}\".tls`: TLS settings belong in hosts.toml \
                     (next to config_path, containerd 1.x refuses them; 2.x ignores them)"
                ));
            }
            if entry.remove("http").is_some() {
                notes.push(format!(
                    "removed `registry.configs.\"{host}\".http`: containerd has no such setting"
                ));
            }
            if entry.is_empty() {
                configs.remove(&host);
            }
        }
    }
    Ok(legacy)
}

fn tls_of(t: Option<&LegacyTls>) -> crate::spec::Tls {
    let mut tls = crate::spec::Tls::default();
    if let Some(t) = t {
        tls.ca.extend(t.ca_file.clone().map(FileSource::Path));
        tls.client = t.cert_file.clone().map(|c| ClientPair {
            cert: FileSource::Path(c),
            key: t.key_file.clone().map(FileSource::Path),
        });
        tls.skip_verify = t.insecure_skip_verify.filter(|v| *v);
    }
    tls
}

/// Legacy settings as registries (hosts.toml semantics), skipping hosts in `covered`.
pub fn migrate(
    mut legacy: Legacy,
    covered: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Vec<(Registry, String)> {
    let mut out: Vec<(Registry, String)> = Vec::new();
    let mut used_tls: BTreeSet<String> = BTreeSet::new();
    for (host, endpoints) in std::mem::take(&mut legacy.mirrors) {
        let dir = dir_name(strip_scheme(&host));
        if covered.contains(&dir) {
            notes.push(format!(
                "legacy mirror for `{host}` dropped: the spec covers {dir}"
            ));
            continue;
        }
        let h = strip_scheme(&host).to_string();
        if check_host(&h).is_err() {
            notes.push(format!(
                "legacy mirror key `{host}` is not a registry host: not migrated"
            ));
            continue;
        }
        let default_host = upstream_host(&h);
        let mut upstream = None;
        let mut eps = Vec::new();
        for url in endpoints {
            let url = url.trim_end_matches('/');
            // containerd's legacy mirrors read an endpoint without a scheme as https://.
            let url = if url.contains("://") {
                url.to_string()
            } else {
                notes.push(format!(
                    "legacy mirror endpoint `{url}` of `{host}` has no scheme: containerd used \
                     https://{url}, so that is what is migrated"
                ));
                format!("https://{url}")
            };
            let auth = authority(&url).to_string();
            let mut ep = Endpoint::new(url.clone());
            ep.tls = tls_of(legacy.tls.get(&auth));
            if ep.is_http() && !ep.tls.is_empty() {
                // The recipe: an http:// endpoint plus `insecure_skip_verify`. TLS settings on
                // plain HTTP only make containerd try HTTPS first: they are not carried over.
                notes.push(format!(
                    "the TLS settings of `{auth}` are not migrated to {url}: it is plain HTTP, \
                     where they do not apply"
                ));
                ep.tls = crate::spec::Tls::default();
            }
            used_tls.insert(auth.clone());
            if h != "*" && (auth == h || auth == default_host) {
                // Legacy CRI stops at the registry itself: it becomes the upstream.
                upstream = Some(ep);
                break;
            }
            ep.capabilities = Some(vec![Capability::Pull, Capability::Resolve]);
            eps.push(ep);
        }
        let upstream = upstream.unwrap_or_else(|| {
            let url = if h == "*" {
                String::new()
            } else {
                format!("https://{default_host}")
            };
            let mut ep = Endpoint::new(url);
            ep.tls = tls_of(legacy.tls.get(&h));
            used_tls.insert(h.clone());
            ep
        });
        if h == "*" && eps.is_empty() {
            notes.push("legacy mirror `*` has no endpoints: nothing to migrate".to_string());
            continue;
        }
        out.push((
            Registry {
                dir_name: dir,
                host: h,
                upstream,
                endpoints: eps,
                fallback: true,
            },
            "registry.mirrors".to_string(),
        ));
    }
    for (host, tls) in &legacy.tls {
        if used_tls.contains(host) {
            continue;
        }
        let h = strip_scheme(host).to_string();
        if h != host.as_str() {
            notes.push(format!(
                "legacy `configs.\"{host}\"` is a URL; migrated as host `{h}`"
            ));
        }
        let dir = dir_name(&h);
        if covered.contains(&dir) || out.iter().any(|(r, _)| r.dir_name == dir) {
            continue;
        }
        if check_host(&h).is_err() || h == "*" {
            notes.push(format!(
                "legacy `configs.\"{host}\".tls` is not for a registry host: not migrated"
            ));
            continue;
        }
        let t = tls_of(Some(tls));
        if t.is_empty() {
            continue;
        }
        let mut upstream = Endpoint::new(format!("https://{h}"));
        upstream.tls = t;
        out.push((
            Registry {
                dir_name: dir,
                host: h,
                upstream,
                endpoints: Vec::new(),
                fallback: true,
            },
            "registry.configs.*.tls".to_string(),
        ));
    }
    for (r, from) in &out {
        notes.push(format!(
            "migrated {from} for `{}` into {}/hosts.toml",
            r.host, r.dir_name
        ));
    }
    out
}

/// What an endpoint answered when asked (see `doctor::probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Https,
    PlainHttp,
    /// Unreachable, or no answer regtrust understands: the detail is in the words.
    Unknown,
}

/// The recipe's trap, settled: an `https://` endpoint with `skip_verify` (from
/// `insecure_skip_verify`) is what people write for a registry that speaks only plain HTTP, and
/// containerd then fails with `server gave HTTP response to HTTPS client`. `ask` says what the
/// endpoint speaks (`None`: not asked, `--no-probe`): plain HTTP → the endpoint becomes
/// `http://` (the registry's `http: true`) without TLS settings; HTTPS → kept; unknown → kept,
/// with a warning. Every decision is said, with why.
pub fn settle_schemes(
    regs: &mut [Registry],
    ask: &mut dyn FnMut(&str) -> Option<(Answer, String)>,
    notes: &mut Vec<String>,
) {
    for r in regs.iter_mut() {
        let host = r.host.clone();
        for (is_upstream, ep) in std::iter::once((true, &mut r.upstream))
            .chain(r.endpoints.iter_mut().map(|e| (false, e)))
        {
            if ep.is_http() || ep.tls.skip_verify != Some(true) {
                continue;
            }
            let auth = ep.authority().to_string();
            let setting = if is_upstream {
                format!("`http: true` on {host}")
            } else {
                format!("an http:// URL for the endpoint {auth}")
            };
            match ask(&auth) {
                Some((Answer::PlainHttp, words)) => {
                    notes.push(format!(
                        "{auth} {words}: written as {setting} (the legacy `insecure_skip_verify` \
                         would keep containerd on HTTPS, and every pull would fail with `server \
                         gave HTTP response to HTTPS client`)"
                    ));
                    ep.url = format!("http://{}", &ep.url["https://".len()..]);
                    ep.tls = crate::spec::Tls::default();
                }
                Some((Answer::Https, words)) => notes.push(format!(
                    "{auth} {words}: `skip_verify: true` kept (HTTPS without certificate checks; \
                     `ca` with the registry's CA is the safer choice)"
                )),
                Some((Answer::Unknown, words)) => notes.push(format!(
                    "warning: {auth}: {words}; `skip_verify: true` kept — if {auth} speaks plain \
                     HTTP, write {setting} instead: `skip_verify` only disables certificate checks"
                )),
                None => notes.push(format!(
                    "warning: {auth} was not probed (--no-probe): `skip_verify: true` kept — if \
                     it speaks plain HTTP, write {setting} instead: `skip_verify` only disables \
                     certificate checks"
                )),
            }
        }
    }
}
