//! The plan: the one intermediate representation every output serialises. It holds the files a
//! node must have (path, mode, content), the config.toml requirement, and what must happen after.
use crate::containerd::Version;
use crate::hosts::{self, HostEntry, HostsConfig, Origin};
use crate::secret::Secret;
use crate::spec::{
    Auth, AuthMethod, Capability, ClientPair, Endpoint, FileSource, Registry, Runtime, SecretKind,
    ValidSpec,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    HostsToml,
    Certificate,
    PrivateKey,
    /// dockerd's daemon.json (edited in place).
    DaemonJson,
    /// root's docker config.json (edited in place; holds credentials: 0600, redacted).
    DockerConfig,
    /// regtrust's record of what it added for Docker Engine.
    DockerRecord,
    /// The boot outputs' config.toml credentials (`containerd::credentials`), 0600.
    ConfigCredentials,
    /// containers-image's registries.conf drop-in.
    ContainersConf,
    /// containers-image's auth.json (credentials: never shown).
    AuthJson,
}

/// A file the node must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Absolute path on the node.
    pub path: String,
    pub mode: u32,
    pub content: String,
    pub kind: FileKind,
    /// The file carries a credential (an `Authorization` header): mode 0600, and every printed
    /// form of it is redacted.
    pub secret: bool,
    /// The runtime that reads it.
    pub runtime: Runtime,
}

/// A planned file as the text outputs show it: path, mode as octal text ("0644"), content.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileView<'a> {
    pub path: &'a str,
    pub mode: String,
    pub content: &'a str,
}

impl PlannedFile {
    pub fn view(&self) -> FileView<'_> {
        FileView {
            path: &self.path,
            mode: format!("{:04o}", self.mode),
            content: &self.content,
        }
    }
}

/// Credentials containerd's CRI plugin reads from config.toml (`method: config`): a
/// `registry.configs."host".auth` table of the registry plugin, for the host containerd
/// contacts (an endpoint's own, or the upstream's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigCredential {
    /// `host[:port]`, the key of `registry.configs`.
    pub host: String,
    /// The URL the credentials are for (for messages).
    pub url: String,
    /// Empty with an identity token that has no username.
    pub username: String,
    pub kind: SecretKind,
    pub secret: Secret,
}

/// What must happen after the files are in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// config.toml changed: containerd reads it only at start.
    RestartContainerd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The one directory containerd's `config_path` must name.
    pub config_path: String,
    pub containerd: Option<Version>,
    pub hosts: Vec<HostsConfig>,
    pub files: Vec<PlannedFile>,
    /// Host directories (under config_path) that belong to the spec.
    pub managed_dirs: Vec<String>,
    /// Credentials for config.toml (`method: config`), in the spec's order.
    pub credentials: Vec<ConfigCredential>,
    pub actions: Vec<Action>,
    /// Docker Engine's part, for the boot outputs (cloud-init, the installer): its certs.d files
    /// are in `files` too; its daemon.json entries are merged on the node
    /// (`emit::docker_merge`). None when docker is not among the runtimes.
    pub docker: Option<DockerPlan>,
    /// The boot outputs configure Docker Engine's and containers-image's parts only where the
    /// node has the runtime (the runtimes were not pinned by the spec or `--runtime`); otherwise
    /// every part in the plan is applied.
    pub runtimes_on_node: bool,
}

impl Plan {
    /// Builds the plan for a spec, with `config_path` already decided.
    pub fn build(
        spec: &ValidSpec,
        migrated: &[(Registry, String)],
        config_path: &str,
        containerd: Option<Version>,
    ) -> Plan {
        let mut plan = Plan {
            config_path: config_path.trim_end_matches('/').to_string(),
            containerd,
            hosts: Vec::new(),
            files: Vec::new(),
            managed_dirs: Vec::new(),
            credentials: config_credentials(spec, containerd.as_ref()),
            actions: Vec::new(),
            docker: None,
            runtimes_on_node: false,
        };
        let entries = spec
            .registries
            .iter()
            .map(|r| (r, Origin::Spec, String::new()))
            .chain(
                migrated
                    .iter()
                    .map(|(r, l)| (r, Origin::Migrated, l.clone())),
            );
        for (reg, origin, legacy) in entries {
            plan.add_registry(reg, origin, legacy);
        }
        plan
    }

    fn add_registry(&mut self, reg: &Registry, origin: Origin, legacy: String) {
        let dir = format!("{}/{}", self.config_path, reg.dir_name);
        let mut files = Vec::new();
        let mut secret = false;
        // containerd always tries the root last: `server`, or the registry itself when there is
        // none, and it reads `capabilities = []` as every capability. So with `fallback: false`
        // the last endpoint is also the root (tried once more), and the upstream is left out.
        let fallback = upstream_contacted(reg);
        let upstream =
            fallback.then(|| self.entry(&reg.upstream, &dir, "", &mut files, &mut secret));
        let mut hosts = Vec::new();
        for (i, ep) in reg.endpoints.iter().enumerate() {
            let prefix = format!("endpoint{}-", i + 1);
            hosts.push((
                ep.url.clone(),
                self.entry(ep, &dir, &prefix, &mut files, &mut secret),
            ));
        }
        let (server, root) = match (upstream, hosts.last()) {
            (Some(root), _) => (
                (!reg.upstream.url.is_empty()).then(|| reg.upstream.url.clone()),
                root,
            ),
            (None, Some((url, last))) => (Some(url.clone()), last.clone()),
            (None, None) => unreachable!("fallback is set when there is no endpoint"),
        };
        if hosts.is_empty() {
            // containerd 1.6 and 1.7 < 1.7.32 reject a hosts.toml without a [host] table.
            let mut table = root.clone();
            table.capabilities.get_or_insert_with(|| {
                vec![Capability::Pull, Capability::Resolve, Capability::Push]
            });
            hosts.push((reg.upstream.url.clone(), table));
        }
        let cfg = HostsConfig {
            host: reg.host.clone(),
            dir_name: reg.dir_name.clone(),
            origin,
            legacy,
            server,
            root,
            hosts,
        };
        self.files.push(PlannedFile {
            path: format!("{dir}/hosts.toml"),
            mode: if secret { 0o600 } else { 0o644 },
            content: hosts::render(&cfg),
            kind: FileKind::HostsToml,
            secret,
            runtime: Runtime::Containerd,
        });
        self.files.extend(files);
        if origin == Origin::Spec {
            self.managed_dirs.push(reg.dir_name.clone());
        }
        self.hosts.push(cfg);
    }

    /// Resolves an endpoint's settings to node paths, planning inline PEM files. Its
    /// credentials become an `Authorization` header of its own table only (`secret` is set), or
    /// with `method: config` a credential of config.toml for its host.
    fn entry(
        &self,
        ep: &Endpoint,
        dir: &str,
        prefix: &str,
        files: &mut Vec<PlannedFile>,
        secret: &mut bool,
    ) -> HostEntry {
        let mut e = HostEntry {
            capabilities: ep.capabilities.clone(),
            skip_verify: ep.tls.skip_verify,
            headers: ep.headers.clone(),
            override_path: ep.override_path,
            dial_timeout: ep.dial_timeout.clone(),
            ..HostEntry::default()
        };
        // The password is read before the plan is built (`spec::secrets::read`, called by every
        // command that builds one from a spec); the fuzz property builds plans of specs whose
        // files are not read, which then carry no header.
        if let Some(
            auth @ Auth {
                password: Some(password),
                ..
            },
        ) = &ep.auth
        {
            match self.auth_method(auth) {
                AuthMethod::Header => {
                    e.headers.insert(
                        "Authorization".to_string(),
                        vec![crate::secret::basic_authorization(&auth.username, password)],
                    );
                    *secret = true;
                }
                // In config.toml: see `config_credentials`.
                AuthMethod::Config => {}
            }
        }
        let inline_cas = ep
            .tls
            .ca
            .iter()
            .filter(|c| matches!(c, FileSource::Inline(_)))
            .count();
        let mut n = 0;
        for ca in &ep.tls.ca {
            match ca {
                FileSource::Path(p) => e.ca.push(p.clone()),
                FileSource::Inline(pem) => {
                    n += 1;
                    let name = if inline_cas == 1 {
                        format!("{prefix}ca.crt")
                    } else {
                        format!("{prefix}ca-{n}.crt")
                    };
                    let path = format!("{dir}/{name}");
                    files.push(pem_file(&path, pem, 0o644, FileKind::Certificate));
                    e.ca.push(path);
                }
            }
        }
        if let Some(ClientPair { cert, key }) = &ep.tls.client {
            let mut place = |src: &FileSource, name: &str, mode, kind| match src {
                FileSource::Path(p) => p.clone(),
                FileSource::Inline(pem) => {
                    let path = format!("{dir}/{prefix}{name}");
                    files.push(pem_file(&path, pem, mode, kind));
                    path
                }
            };
            let c = place(cert, "client.cert", 0o644, FileKind::Certificate);
            let k = key
                .as_ref()
                .map(|k| place(k, "client.key", 0o600, FileKind::PrivateKey));
            e.client = Some((c, k));
        }
        e
    }
}

impl Plan {
    /// For the boot outputs (cloud-init, Ignition, the installer): the file holding the
    /// credentials blocks their script appends to config.toml, 0600 (None without credentials
    /// for config.toml). The registry plugin's name is left as a placeholder: the script decides
    /// it on the node, from the file's `version`.
    pub fn credentials_file(&self) -> Option<PlannedFile> {
        use crate::containerd::credentials::{PLUGIN_PLACEHOLDER, block};
        (!self.credentials.is_empty()).then(|| PlannedFile {
            path: crate::containerd::layout::CREDENTIALS_FILE.to_string(),
            mode: 0o600,
            content: self
                .credentials
                .iter()
                .map(|c| block(PLUGIN_PLACEHOLDER, c))
                .collect(),
            kind: FileKind::ConfigCredentials,
            secret: true,
            runtime: Runtime::Containerd,
        })
    }

    /// How containerd gets `auth`'s credentials: the spec's `method`, else the default for the
    /// plan's containerd.
    pub fn auth_method(&self, auth: &Auth) -> AuthMethod {
        auth_method(auth, self.containerd.as_ref())
    }
}

fn auth_method(auth: &Auth, containerd: Option<&Version>) -> AuthMethod {
    match (auth.method, auth.kind) {
        (Some(m), _) => m,
        // Only containerd's authorizer can exchange an identity token.
        (None, SecretKind::IdentityToken) => AuthMethod::Config,
        (None, SecretKind::Password) => AuthMethod::default_for(containerd),
    }
}

/// Whether containerd contacts the registry itself: with `fallback: false` and endpoints, the
/// last endpoint takes the root's place.
fn upstream_contacted(reg: &Registry) -> bool {
    reg.fallback || reg.endpoints.is_empty()
}

/// The credentials of `spec` that go into config.toml (`method: config`, explicit or the
/// default for `containerd`), one per host containerd contacts, in the spec's order. Secrets
/// not read yet (a plan of an unread spec) are left out, as the header is.
pub fn config_credentials(spec: &ValidSpec, containerd: Option<&Version>) -> Vec<ConfigCredential> {
    let mut out: Vec<ConfigCredential> = Vec::new();
    for reg in &spec.registries {
        let upstream = upstream_contacted(reg).then_some(&reg.upstream);
        for ep in upstream.into_iter().chain(&reg.endpoints) {
            let Some(
                auth @ Auth {
                    password: Some(secret),
                    ..
                },
            ) = &ep.auth
            else {
                continue;
            };
            if auth_method(auth, containerd) != AuthMethod::Config
                || out.iter().any(|c| c.host == ep.authority())
            {
                continue;
            }
            out.push(ConfigCredential {
                host: ep.authority().to_string(),
                url: ep.url.clone(),
                username: auth.username.clone(),
                kind: auth.kind,
                secret: secret.clone(),
            });
        }
    }
    out
}

/// The certs.d files Docker Engine and containers-image read for TLS settings (`dir`: the host's
/// certs.d directory): the inline CAs as `ca.crt` (`ca-N.crt` when there are several) and an
/// inline client pair as `client.cert` + `client.key` (0600). What those runtimes cannot read
/// is flagged for the caller to say: CAs and a client given as node paths.
pub(crate) struct CertsD {
    pub files: Vec<PlannedFile>,
    pub ca_paths: bool,
    pub client_paths: bool,
}

pub(crate) fn certs_d_files(dir: &str, tls: &crate::spec::Tls) -> CertsD {
    let inline: Vec<&String> = tls
        .ca
        .iter()
        .filter_map(|c| match c {
            FileSource::Inline(pem) => Some(pem),
            FileSource::Path(_) => None,
        })
        .collect();
    let mut files: Vec<PlannedFile> = inline
        .iter()
        .enumerate()
        .map(|(n, pem)| {
            let name = if inline.len() == 1 {
                "ca.crt".to_string()
            } else {
                format!("ca-{}.crt", n + 1)
            };
            pem_file(&format!("{dir}/{name}"), pem, 0o644, FileKind::Certificate)
        })
        .collect();
    let client_paths = match &tls.client {
        Some(ClientPair {
            cert: FileSource::Inline(cert),
            key: Some(FileSource::Inline(key)),
        }) => {
            files.push(pem_file(
                &format!("{dir}/client.cert"),
                cert,
                0o644,
                FileKind::Certificate,
            ));
            files.push(pem_file(
                &format!("{dir}/client.key"),
                key,
                0o600,
                FileKind::PrivateKey,
            ));
            false
        }
        Some(_) => true,
        None => false,
    };
    CertsD {
        files,
        ca_paths: tls.ca.iter().any(|c| matches!(c, FileSource::Path(_))),
        client_paths,
    }
}

/// A PEM file (containerd's: the runtimes' plans relabel theirs).
pub(crate) fn pem_file(path: &str, pem: &str, mode: u32, kind: FileKind) -> PlannedFile {
    let mut content = pem.trim_end_matches('\n').to_string();
    content.push('\n');
    PlannedFile {
        path: path.to_string(),
        mode,
        content,
        kind,
        secret: false,
        runtime: Runtime::Containerd,
    }
}

/// Docker Engine's part of the plan: the entries daemon.json must have (an in-place edit, like
/// config.toml's), the certs.d files, and what the spec asks that dockerd cannot do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerPlan {
    /// `insecure-registries` entries (`host[:port]`): registries with `http: true` or
    /// `skip_verify`.
    pub insecure_registries: Vec<String>,
    /// `registry-mirrors` entries: the endpoints of `docker.io`, the only registry whose mirrors
    /// dockerd uses.
    pub registry_mirrors: Vec<String>,
    /// `/etc/docker/certs.d/<host>/ca.crt`, `client.cert`, `client.key` (0600).
    pub files: Vec<PlannedFile>,
    /// root's config.json `auths` entries: the key the docker CLI looks up (`host[:port]`, or
    /// Docker Hub's URL) and base64 of `user:password`.
    pub auths: Vec<(String, crate::secret::Secret)>,
    /// What the spec asks that dockerd does not do (said, not pretended).
    pub notes: Vec<String>,
}

impl DockerPlan {
    pub fn build(spec: &ValidSpec) -> DockerPlan {
        use crate::docker::{CERTS_D, DOCKER_HUB};
        let mut p = DockerPlan::default();
        for reg in &spec.registries {
            if reg.host == "*" {
                p.notes.push(
                    "docker: host \"*\" has no Docker Engine equivalent (dockerd has no default \
                     for every registry): left out"
                        .to_string(),
                );
                continue;
            }
            let up = &reg.upstream;
            let mut ignored: Vec<&str> = Vec::new();
            if reg.host == DOCKER_HUB {
                for ep in &reg.endpoints {
                    let path = ep.url.splitn(4, '/').nth(3).unwrap_or("");
                    if !path.is_empty() {
                        p.notes.push(format!(
                            "docker: mirror {} of docker.io has a path, which dockerd's \
                             registry-mirrors do not take: left out",
                            ep.url
                        ));
                        continue;
                    }
                    p.registry_mirrors.push(ep.url.clone());
                    if !ep.tls.is_empty() || ep.auth.is_some() || !ep.headers.is_empty() {
                        ignored.push("the mirrors' TLS, auth and headers");
                    }
                }
            } else if !reg.endpoints.is_empty() {
                p.notes.push(format!(
                    "docker: the endpoints of {} are not used by dockerd (Docker uses mirrors \
                     only for docker.io): it pulls from {} itself",
                    reg.host, reg.host
                ));
            }
            let own = [
                reg.host.as_str(),
                crate::spec::host::upstream_host(&reg.host),
            ];
            if !up.url.is_empty() && !own.contains(&up.authority()) {
                ignored.push("`server` (dockerd pulls from the host itself)");
            }
            if up.is_http() || up.tls.skip_verify == Some(true) {
                p.insecure_registries.push(reg.host.clone());
            }
            let certs = certs_d_files(&format!("{CERTS_D}/{}", reg.dir_name), &up.tls);
            p.files.extend(certs.files.into_iter().map(|f| PlannedFile {
                runtime: Runtime::Docker,
                ..f
            }));
            if certs.ca_paths {
                ignored.push(
                    "`ca` paths (dockerd reads CAs only from certs.d/<host>/*.crt: use ca_pem)",
                );
            }
            if certs.client_paths {
                ignored.push("`client` paths (use cert_pem and key_pem)");
            }
            if up
                .auth
                .as_ref()
                .is_some_and(|a| a.kind == crate::spec::SecretKind::IdentityToken)
            {
                ignored.push(
                    "an identity token in config.json (only a user and password are written \
                     there)",
                );
            } else if let Some(auth) = &up.auth
                && let Some(password) = &auth.password
            {
                let basic = crate::secret::basic_authorization(&auth.username, password);
                let token = basic.trim_start_matches("Basic ").to_string();
                p.auths.push((
                    crate::docker::config_json::auths_key(&reg.host),
                    crate::secret::Secret::new(token),
                ));
            }
            if !up.headers.is_empty() {
                ignored.push("`headers`");
            }
            if !reg.fallback {
                ignored.push("`fallback: false`");
            }
            if !ignored.is_empty() {
                ignored.dedup();
                p.notes.push(format!(
                    "docker: for {} dockerd has no equivalent of {}: not applied to Docker",
                    reg.host,
                    ignored.join(", ")
                ));
            }
        }
        p
    }
}
