//! containers-image's part of the plan, built from the spec: the drop-in's registries, the
//! certs.d files, the auth.json entries, and what the spec asks that containers-image cannot do.
use std::collections::BTreeMap;

use super::{CERTS_D, DROP_IN, registries_conf};
use crate::plan::{FileKind, PlannedFile};
use crate::spec::host::upstream_host;
use crate::spec::{Capability, Endpoint, Registry, Runtime, ValidSpec};

/// One `[[registry]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEntry {
    /// The name in image references (`prefix`); the spec's host.
    pub prefix: String,
    /// Where it is pulled from: the host itself, the authority of `server`, or (with
    /// `fallback: false`) the last endpoint.
    pub location: String,
    /// Plain HTTP, or HTTPS without certificate checks (containers-image's `insecure` allows
    /// both).
    pub insecure: bool,
    /// `[[registry.mirror]]` tables, tried in order before `location`.
    pub mirrors: Vec<Mirror>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub location: String,
    pub insecure: bool,
}

/// An auth.json entry: `auths."<key>".auth` = base64(user:password).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthEntry {
    pub key: String,
    pub token: crate::secret::Secret,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthEntry({}, {:?})", self.key, self.token)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainersPlan {
    pub registries: Vec<RegistryEntry>,
    /// certs.d files: `ca.crt` (`ca-N.crt`), `client.cert`, `client.key` (0600).
    pub files: Vec<PlannedFile>,
    /// auth.json entries, in the spec's order.
    pub auths: Vec<AuthEntry>,
    /// What the spec asks that containers-image does not do (said, not pretended).
    pub notes: Vec<String>,
}

/// The authority and path of an endpoint URL (`http://h:5000/x` → `h:5000`, `/x`).
fn split_url(url: &str) -> (&str, &str) {
    let rest = crate::spec::host::strip_scheme(url);
    match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    }
}

fn insecure(ep: &Endpoint) -> bool {
    ep.is_http() || ep.tls.skip_verify == Some(true)
}

impl ContainersPlan {
    pub fn build(spec: &ValidSpec) -> ContainersPlan {
        let mut p = ContainersPlan::default();
        let mut files: BTreeMap<String, PlannedFile> = BTreeMap::new();
        for reg in &spec.registries {
            p.add(reg, &mut files);
        }
        p.files = files
            .into_values()
            .map(|f| PlannedFile {
                runtime: Runtime::Podman,
                ..f
            })
            .collect();
        p
    }

    /// The drop-in's text.
    pub fn drop_in(&self) -> PlannedFile {
        PlannedFile {
            path: DROP_IN.to_string(),
            mode: 0o644,
            content: registries_conf::render(self),
            kind: FileKind::ContainersConf,
            secret: false,
            runtime: Runtime::Podman,
        }
    }

    fn add(&mut self, reg: &Registry, files: &mut BTreeMap<String, PlannedFile>) {
        if reg.host == "*" {
            self.notes.push(
                "podman: host \"*\" has no containers-image equivalent (registries.conf has no \
                 entry for every registry): left out"
                    .to_string(),
            );
            return;
        }
        let mut ignored: Vec<String> = Vec::new();
        // The endpoints containers-image can use: a mirror's `location` path is a repository
        // namespace there, the API root in containerd, so an endpoint with a path is left out.
        let mut usable: Vec<&Endpoint> = Vec::new();
        for ep in &reg.endpoints {
            let (_, path) = split_url(&ep.url);
            if !path.is_empty() || ep.override_path {
                self.notes.push(format!(
                    "podman: endpoint {} of {} has a path, which containers-image reads as a \
                     repository namespace (containerd: the API root): left out",
                    ep.url, reg.host
                ));
                continue;
            }
            if ep
                .capabilities
                .as_ref()
                .is_some_and(|c| c.as_slice() != [Capability::Pull, Capability::Resolve])
            {
                ignored.push(format!("the capabilities of {}", ep.url));
            }
            usable.push(ep);
        }
        let up = &reg.upstream;
        let (up_auth, up_path) = split_url(&up.url);
        let own = [reg.host.as_str(), upstream_host(&reg.host)];
        let upstream_location = if up.url.is_empty() || own.contains(&up_auth) {
            reg.host.clone()
        } else if !up_path.is_empty() {
            self.notes.push(format!(
                "podman: `server` {} of {} has a path, which containers-image reads as a \
                 repository namespace: pulled from {} itself",
                up.url, reg.host, reg.host
            ));
            reg.host.clone()
        } else {
            up_auth.to_string()
        };
        let (location, loc_ep, mirrors) = if reg.fallback {
            (upstream_location, up, &usable[..])
        } else if let Some((last, rest)) = usable.split_last() {
            // Never the upstream: the last endpoint takes its place (as in hosts.toml).
            (split_url(&last.url).0.to_string(), *last, rest)
        } else {
            self.notes.push(format!(
                "podman: {} has `fallback: false` but no endpoint containers-image can use: \
                 left out",
                reg.host
            ));
            return;
        };
        let mut entry = RegistryEntry {
            prefix: reg.host.clone(),
            location: location.clone(),
            insecure: insecure(loc_ep),
            mirrors: Vec::new(),
        };
        for m in mirrors {
            let loc = split_url(&m.url).0.to_string();
            self.endpoint_files(&loc, m, files, &mut ignored);
            entry.mirrors.push(Mirror {
                location: loc,
                insecure: insecure(m),
            });
        }
        self.endpoint_files(&location, loc_ep, files, &mut ignored);
        if reg.fallback
            && up
                .capabilities
                .as_ref()
                .is_some_and(|c| !c.contains(&Capability::Pull))
        {
            ignored.push("the upstream's capabilities".to_string());
        }
        for ep in std::iter::once(up).chain(&reg.endpoints) {
            if !ep.headers.is_empty() {
                ignored.push("`headers`".to_string());
            }
            if ep.dial_timeout.is_some() {
                ignored.push("`dial_timeout`".to_string());
            }
        }
        if !ignored.is_empty() {
            ignored.dedup();
            self.notes.push(format!(
                "podman: for {} containers-image has no equivalent of {}: not applied to \
                 containers-image",
                reg.host,
                ignored.join(", ")
            ));
        }
        self.registries.push(entry);
    }

    /// The certs.d files and the auth.json entry of one host containers-image contacts.
    fn endpoint_files(
        &mut self,
        location: &str,
        ep: &Endpoint,
        files: &mut BTreeMap<String, PlannedFile>,
        ignored: &mut Vec<String>,
    ) {
        if let Some(crate::spec::Auth {
            username,
            password: Some(password),
            ..
        }) = &ep.auth
        {
            let header = crate::secret::basic_authorization(username, password);
            let token = header.trim_start_matches("Basic ").to_string();
            if !self.auths.iter().any(|a| a.key == location) {
                self.auths.push(AuthEntry {
                    key: location.to_string(),
                    token: crate::secret::Secret::new(token),
                });
            }
        }
        if ep.is_http() {
            return;
        }
        let dir = format!("{CERTS_D}/{}", crate::spec::host::dir_name(location));
        let certs = crate::plan::certs_d_files(&dir, &ep.tls);
        for f in certs.files {
            match files.get(&f.path) {
                Some(old) if old.content != f.content => self.notes.push(format!(
                    "podman: {} is named twice with different contents: the first is kept",
                    f.path
                )),
                Some(_) => {}
                None => {
                    files.insert(f.path.clone(), f);
                }
            }
        }
        if certs.ca_paths {
            ignored.push(
                "`ca` paths (containers-image reads CAs only from certs.d/<host>/*.crt: use \
                 ca_pem)"
                    .to_string(),
            );
        }
        if certs.client_paths {
            ignored.push("`client` paths (use cert_pem and key_pem)".to_string());
        }
    }
}
