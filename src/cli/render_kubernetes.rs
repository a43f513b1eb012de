//! `render --target kubernetes`: what the DaemonSet mounts and where its credentials come from,
//! decided from the spec, then serialised by `emit::kubernetes`.
use std::collections::BTreeSet;
use std::path::Path;

use super::args::{Escape, RenderArgs};
use super::{exit, load};
use crate::emit::kubernetes::{self, Credential, HostDir};
use crate::error::{Error, Result};
use crate::spec::valid::{FileSource, PasswordSource};
use crate::spec::{DEFAULT_CONFIG_PATH, Runtime, ValidSpec};

pub fn run(a: &RenderArgs) -> Result<u8> {
    let Some(image) = a.image.as_deref().filter(|i| !i.is_empty()) else {
        return Err(Error::Usage(
            "--target kubernetes needs --image: the container image with regtrust in it \
             (deploy/build-image builds one)"
                .into(),
        ));
    };
    if a.escape != Escape::None || a.hosts_only || a.mime || a.show_secrets {
        return Err(Error::Usage(
            "--escape, --hosts-only, --mime and --show-secrets do not apply to --target \
             kubernetes"
                .into(),
        ));
    }
    let namespace = a.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    let label = |s: &str| {
        (1..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !label(namespace) {
        return Err(Error::Usage(format!(
            "--namespace `{namespace}`: a namespace name is a DNS label (lower-case letters, \
             digits and `-`, at most 63)"
        )));
    }
    // The spec is validated (no password is read: the pods read them from the Secret), and its
    // text goes into the ConfigMap as it is.
    let (loaded, version) = load(&a.spec)?;
    let spec_text = std::fs::read_to_string(&a.spec.spec)
        .map_err(|e| Error::Node(format!("{}: {e}", a.spec.spec.display())))?;
    let spec = &loaded.spec;
    let credentials = credentials(spec)?;
    let runtimes = spec.runtimes.clone().unwrap_or(vec![Runtime::Containerd]);
    let opts = kubernetes::Options {
        spec_text: &spec_text,
        image,
        namespace,
        containerd: version.map(|v| v.to_string()),
        // The spec's runtimes, when it names them, are what apply reads from it.
        runtimes: if spec.runtimes.is_some() {
            Vec::new()
        } else {
            vec![Runtime::Containerd.name().to_string()]
        },
        restart_containerd: a.restart_containerd,
        host_dirs: host_dirs(spec, &runtimes),
        credentials: credentials.iter().map(|(c, _)| c.clone()).collect(),
    };
    if a.restart_containerd && !runtimes.contains(&Runtime::Containerd) {
        return Err(Error::Usage(
            "--restart-containerd: containerd is not among the spec's runtimes".into(),
        ));
    }
    let text = kubernetes::render(&opts);
    if !credentials.is_empty() {
        say_secret(&credentials, namespace, &a.spec.spec);
    }
    match &a.out {
        Some(path) => crate::fs::write_file(path, text.as_bytes(), 0o644)
            .map_err(|e| Error::Node(format!("{e}; nothing was written")))?,
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

/// Where the objects go without `--namespace`: it exists in every cluster, and Pod Security
/// admission lets its pods mount host directories.
pub const DEFAULT_NAMESPACE: &str = "kube-system";

/// The node directories apply writes (and containerd's socket directory, read-only).
fn host_dirs(spec: &ValidSpec, runtimes: &[Runtime]) -> Vec<HostDir> {
    let dir = |p: &str, read_only: bool, create: bool| HostDir {
        node_path: p.to_string(),
        read_only,
        create,
    };
    let mut v = Vec::new();
    for r in runtimes {
        match r {
            Runtime::Containerd => {
                let config_dir = Path::new(crate::containerd::layout::DEFAULT_CONFIG_FILE)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let config_path = spec.config_path.as_deref().unwrap_or(DEFAULT_CONFIG_PATH);
                v.push(dir(&config_dir, false, true));
                if !Path::new(config_path).starts_with(&config_dir) {
                    v.push(dir(config_path, false, true));
                }
                let socket_dir = Path::new(crate::containerd::running::SOCKET)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                v.push(dir(&socket_dir, true, false));
            }
            Runtime::Docker => {
                let docker_dir = Path::new(crate::docker::DAEMON_JSON)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                v.push(dir(&docker_dir, false, true));
            }
            Runtime::Podman => {
                // registries.conf.d, certs.d and auth.json: all under /etc/containers.
                let containers_dir = Path::new(crate::containers_image::DROP_IN_DIR)
                    .parent()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                v.push(dir(&containers_dir, false, true));
            }
        }
    }
    let lock_dir = Path::new(crate::lock::NODE_PATH)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    v.push(dir(&lock_dir, false, true));
    // CA and client files the spec names as node paths: apply only reads them (to warn when one
    // is missing), so their directories are mounted read-only; they must exist on the node.
    let mut tls_dirs = BTreeSet::new();
    for reg in &spec.registries {
        for ep in std::iter::once(&reg.upstream).chain(&reg.endpoints) {
            let client = ep
                .tls
                .client
                .iter()
                .flat_map(|c| std::iter::once(&c.cert).chain(c.key.as_ref()));
            for f in ep.tls.ca.iter().chain(client) {
                if let FileSource::Path(p) = f
                    && let Some(parent) = Path::new(p).parent()
                    && parent != Path::new("/")
                {
                    tls_dirs.insert(parent.to_path_buf());
                }
            }
        }
    }
    for d in tls_dirs {
        let covered = v.iter().any(|h| d.starts_with(&h.node_path));
        if !covered {
            v.push(dir(&d.display().to_string(), true, false));
        }
    }
    v
}

/// Each password source of the spec and the Secret key it comes from (with the local file or
/// variable it was, for the `kubectl create secret` hint). An inline password is refused: the
/// ConfigMap would carry it.
fn credentials(spec: &ValidSpec) -> Result<Vec<(Credential, String)>> {
    let mut out: Vec<(Credential, String)> = Vec::new();
    let mut keys = BTreeSet::new();
    let mut unique_key = |wanted: &str| {
        let base: String = wanted
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let base = base.trim_start_matches('.').to_string();
        let base = if base.is_empty() {
            "password".into()
        } else {
            base
        };
        let mut key = base.clone();
        let mut n = 2;
        while !keys.insert(key.clone()) {
            key = format!("{base}-{n}");
            n += 1;
        }
        key
    };
    for reg in &spec.registries {
        for ep in std::iter::once(&reg.upstream).chain(&reg.endpoints) {
            let Some(auth) = &ep.auth else { continue };
            let seen = |c: &dyn Fn(&Credential) -> bool| out.iter().any(|(x, _)| c(x));
            match &auth.source {
                PasswordSource::Inline => {
                    return Err(Error::Usage(format!(
                        "the spec has the password of `{}` for {} inline: the ConfigMap would \
                         carry it; name it with password_file (the DaemonSet reads it from the \
                         Secret `{}`); nothing was written",
                        auth.username,
                        ep.url,
                        kubernetes::SECRET
                    )));
                }
                PasswordSource::File(p) => {
                    if seen(&|c| matches!(c, Credential::File { path, .. } if path == p)) {
                        continue;
                    }
                    check_password_path(p)?;
                    let name = p.rsplit('/').next().unwrap_or(p);
                    let key = unique_key(name);
                    out.push((
                        Credential::File {
                            key,
                            path: p.clone(),
                        },
                        p.clone(),
                    ));
                }
                PasswordSource::Env(name) => {
                    if seen(&|c| matches!(c, Credential::Env { name: n, .. } if n == name)) {
                        continue;
                    }
                    let key = unique_key(name);
                    out.push((
                        Credential::Env {
                            key,
                            name: name.clone(),
                        },
                        format!("${name}"),
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// A password_file path the pod can have: relative without `..` (projected beside the spec), or
/// absolute in a directory of its own (not `/`, not where the pod sees the spec or the node).
fn check_password_path(p: &str) -> Result<()> {
    let path = Path::new(p);
    let bad = |why: &str| {
        Err(Error::Usage(format!(
            "password_file `{p}`: {why}; nothing was written"
        )))
    };
    if path
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return bad(
            "the pod projects password files from the Secret beside the spec or into \
                    their own directory; `..` cannot be mapped (name the file without `..`)",
        );
    }
    if p.trim_start_matches("./") == kubernetes::SPEC_FILE {
        return bad("the spec itself is projected under that name");
    }
    if path.is_absolute() {
        let parent = path.parent().unwrap_or(Path::new("/"));
        let taken = [
            kubernetes::HOST_ROOT,
            kubernetes::SPEC_DIR,
            "/proc",
            "/dev",
            "/sys",
        ];
        if parent == Path::new("/") || taken.iter().any(|t| path.starts_with(t)) {
            return bad(
                "the pod mounts the Secret on the file's directory, which cannot be `/`, \
                        /host, /etc/regtrust/spec, /proc, /dev or /sys",
            );
        }
    }
    Ok(())
}

/// How to create the Secret, on stderr (paths and variable names only, never a value).
fn say_secret(credentials: &[(Credential, String)], namespace: &str, spec_file: &Path) {
    let dir = spec_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut args = Vec::new();
    for (c, _) in credentials {
        match c {
            Credential::File { key, path } => {
                let local = if path.starts_with('/') {
                    path.clone()
                } else {
                    dir.join(path).display().to_string()
                };
                args.push(crate::templates::shell_quote(&format!(
                    "--from-file={key}={local}"
                )));
            }
            Credential::Env { key, name } => {
                args.push(crate::templates::shell_quote(&format!(
                    "--from-file={key}=<a file holding {name}'s value>"
                )));
            }
        }
    }
    eprintln!(
        "note: the DaemonSet reads the spec's passwords from the Secret `{}` in namespace `{}`, \
         which this output does not contain; create it from the password files first (the \
         pods wait for it):\n  kubectl -n {} create secret generic {} {}",
        kubernetes::SECRET,
        namespace,
        crate::templates::shell_quote(namespace),
        kubernetes::SECRET,
        args.join(" ")
    );
}
