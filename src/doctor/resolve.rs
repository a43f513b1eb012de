//! `doctor --image REF`: which hosts.toml applies to a reference and the endpoints containerd
//! will try, in order, with scheme and TLS.
use std::fmt::Write as _;

use serde::Serialize;

use super::config_checks::ConfigInfo;
use super::hosts_checks::HostsInfo;
use crate::containerd::Version;
use crate::containerd::version::Support;
use crate::hosts::Endpoint;

#[derive(Debug, Serialize)]
pub struct Resolution {
    pub image: String,
    pub host: String,
    /// Which configuration decides, in words.
    pub via: String,
    pub endpoints: Vec<Endpoint>,
}

/// The registry host of an image reference (docker.io when it names none).
pub fn registry_host(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

fn default_entry(host: &str) -> Endpoint {
    let local = host == "localhost" || host.starts_with("localhost:") || host.starts_with("127.");
    Endpoint {
        url: format!("https://{}", crate::spec::host::upstream_host(host)),
        capabilities: vec!["pull".into(), "resolve".into(), "push".into()],
        ca: vec![],
        client: false,
        client_files: Vec::new(),
        skip_verify: false,
        is_server: !local,
        auth_header: false,
        auth_header_value: None,
    }
}

pub fn resolve(reference: &str, cfg: &ConfigInfo, hosts: &HostsInfo, v: Version) -> Resolution {
    let host = registry_host(reference);
    let mut r = Resolution {
        image: reference.to_string(),
        host: host.clone(),
        via: String::new(),
        endpoints: vec![],
    };
    if cfg.cri_disabled {
        r.via = "the CRI plugin does not load with this config: the pull fails before any request"
            .into();
        return r;
    }
    if !cfg.effective_dirs.is_empty() {
        let exact = hosts.dirs.iter().find(|d| d.name == host);
        let default = (v.default_host_dir() != Support::No)
            .then(|| hosts.dirs.iter().find(|d| d.name == "_default"))
            .flatten();
        if let Some(d) = exact.or(default) {
            match &d.entries {
                Some(e) => {
                    r.via = d.file.clone();
                    r.endpoints = e.iter().map(|x| fill_default(x, &host)).collect();
                }
                None => {
                    r.via = format!("{} (ignored by containerd: see its finding)", d.file);
                    r.endpoints = vec![default_entry(&host)];
                }
            }
            return r;
        }
        r.via = format!(
            "no hosts.toml for {host} under {}: the default",
            cfg.effective_dirs.join(", ")
        );
        r.endpoints = vec![default_entry(&host)];
        return r;
    }
    if let Some((_, eps)) = cfg
        .mirrors
        .iter()
        .find(|(h, _)| *h == host)
        .or_else(|| cfg.mirrors.iter().find(|(h, _)| h == "*"))
    {
        r.via = "legacy registry.mirrors in config.toml".into();
        for e in eps {
            r.endpoints.push(Endpoint {
                url: e.clone(),
                is_server: false,
                ..default_entry(&host)
            });
        }
        if !eps
            .iter()
            .any(|e| crate::spec::host::strip_scheme(e).starts_with(&host))
        {
            r.endpoints.push(default_entry(&host));
        }
        return r;
    }
    r.via = format!("{}: the default", cfg.no_dirs_reason);
    r.endpoints = vec![default_entry(&host)];
    r
}

fn fill_default(e: &Endpoint, host: &str) -> Endpoint {
    let mut e = e.clone();
    if e.url == "https://<host>" {
        e.url = default_entry(host).url;
    }
    e
}

impl Resolution {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "image {} → registry {}", self.image, self.host);
        let _ = writeln!(s, "  via: {}", self.via);
        for (i, e) in self.endpoints.iter().enumerate() {
            let scheme = if e.url.starts_with("http://") {
                "plain HTTP"
            } else {
                "HTTPS"
            };
            let mut tls = Vec::new();
            if e.url.starts_with("https://") {
                tls.push(if e.ca.is_empty() {
                    "system CAs".to_string()
                } else {
                    format!("ca {}", e.ca.join(", "))
                });
                if e.client {
                    tls.push("client certificate".into());
                }
                if e.skip_verify {
                    tls.push("certificate NOT verified (skip_verify)".into());
                }
            }
            let role = if e.is_server { " (server)" } else { "" };
            let tls = if tls.is_empty() {
                String::new()
            } else {
                format!("; {}", tls.join(", "))
            };
            let _ = writeln!(
                s,
                "  {}. {}{role}: {scheme}{tls}; {}",
                i + 1,
                e.url,
                e.capabilities.join(", ")
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::registry_host;

    #[test]
    fn registry_host_of_references() {
        assert_eq!(registry_host("nginx"), "docker.io");
        assert_eq!(registry_host("library/nginx:1"), "docker.io");
        assert_eq!(
            registry_host("my.private.registry:5000/app:1"),
            "my.private.registry:5000"
        );
        assert_eq!(registry_host("localhost/app"), "localhost");
        assert_eq!(registry_host("reg:5000/a/b@sha256:00"), "reg:5000");
    }
}
