//! doctor for Docker Engine: daemon.json (`insecure-registries` against the spec's plain-HTTP
//! and `skip_verify` registries, the image store), and /etc/docker/certs.d (entries dockerd
//! ignores or refuses). What dockerd does was measured on dockerd 20.10, 26.1 and 28.5
//! (tests/real/docker.rs).
use std::path::Path;

use serde::Serialize;

use super::{Finding, Level};
use crate::diag::Code;
use crate::docker::{self, daemon_json};
use crate::spec::ValidSpec;

/// What doctor says about Docker Engine beside its findings: which file it read, which image
/// store dockerd uses, and which registry settings dockerd reads with it.
#[derive(Debug, Serialize)]
pub struct DockerSummary {
    pub daemon_json: String,
    /// `classic` (graph drivers) or `containerd` (`features.containerd-snapshotter`).
    pub image_store: &'static str,
    /// The registry settings dockerd reads with that store.
    pub reads: String,
}

const READS_CLASSIC: &str = "insecure-registries, registry-mirrors (docker.io only), \
     /etc/docker/certs.d/<host>/*.crt and client *.cert + *.key; a hosts.toml there is ignored";
const READS_CONTAINERD: &str = "insecure-registries, registry-mirrors (docker.io only), \
     /etc/docker/certs.d/<host>/*.crt and client *.cert + *.key, and also a hosts.toml in \
     /etc/docker/certs.d/<host>/; never containerd's /etc/containerd/certs.d (measured on dockerd \
     28.5)";

/// Line (1-based) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle).map(|at| super::line_of(text, at))
}

/// The Docker checks, when Docker Engine is installed under `root`. `spec`: the spec to check
/// daemon.json against (`doctor --spec`), with its file name.
pub fn check(
    root: &Path,
    spec: Option<(&ValidSpec, &str)>,
    findings: &mut Vec<Finding>,
) -> Option<DockerSummary> {
    docker::installed(root)?;
    let file = docker::DAEMON_JSON.to_string();
    let text = crate::root::resolve(root, docker::DAEMON_JSON)
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok());
    let value: serde_json::Value = match text.as_deref() {
        None => serde_json::json!({}),
        Some(t) if t.trim().is_empty() => serde_json::json!({}),
        Some(t) => match serde_json::from_str(t) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) | Err(_) => {
                let line = serde_json::from_str::<serde_json::Value>(t)
                    .err()
                    .map(|e| e.line());
                findings.push(Finding::found(
                    Level::Error,
                    Code::DockerConfigInvalid,
                    &file,
                    line,
                    "daemon.json is not a valid JSON object".into(),
                    "dockerd refuses to start (and a reload keeps the old settings)".into(),
                    "fix the JSON, then regtrust apply --runtime docker".into(),
                ));
                serde_json::json!({})
            }
        },
    };
    let list = |key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let insecure = list(daemon_json::INSECURE);
    let containerd_store = value
        .pointer("/features/containerd-snapshotter")
        .and_then(|v| v.as_bool())
        == Some(true);
    let source = text.as_deref().unwrap_or_default();
    if let Some((spec, spec_file)) = spec {
        for reg in spec.registries.iter().filter(|r| r.host != "*") {
            let up = &reg.upstream;
            let http = up.is_http();
            if (http || up.tls.skip_verify == Some(true)) && !is_insecure(&reg.host, &insecure) {
                let effect = if http {
                    "dockerd pulls over HTTPS: `http: server gave HTTP response to HTTPS client`"
                } else {
                    "dockerd verifies the registry's certificate: `x509: certificate signed by \
                     unknown authority`"
                };
                findings.push(Finding::found(
                    Level::Error,
                    Code::DockerInsecureMissing,
                    &file,
                    line_of(source, "\"insecure-registries\""),
                    format!(
                        "{} ({} in {spec_file}) is not in insecure-registries",
                        reg.host,
                        if http { "http: true" } else { "skip_verify" }
                    ),
                    effect.into(),
                    "regtrust apply --runtime docker, then systemctl reload docker".into(),
                ));
            }
            if reg.host != docker::DOCKER_HUB && !reg.endpoints.is_empty() {
                findings.push(Finding::found(
                    Level::Warning,
                    Code::DockerMirrorNotHub,
                    spec_file,
                    None,
                    format!("{} has endpoints (mirrors) in the spec", reg.host),
                    format!(
                        "dockerd uses registry-mirrors for docker.io only: it pulls from {} \
                         itself",
                        reg.host
                    ),
                    "push the images to the registry itself, or use the containerd image store \
                     with a hosts.toml in /etc/docker/certs.d/<host>/"
                        .into(),
                ));
            }
        }
    }
    certs_d_checks(root, containerd_store, findings);
    Some(DockerSummary {
        daemon_json: file,
        image_store: if containerd_store {
            "containerd"
        } else {
            "classic"
        },
        reads: if containerd_store {
            READS_CONTAINERD
        } else {
            READS_CLASSIC
        }
        .to_string(),
    })
}

/// Whether dockerd treats `host` as insecure: listed, an IP in a listed CIDR, or on
/// 127.0.0.0/8 (dockerd's default).
fn is_insecure(host: &str, insecure: &[String]) -> bool {
    if insecure.iter().any(|e| e == host) {
        return true;
    }
    let name = crate::spec::host::upstream_host(host);
    let bare = name
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(name, |(h, _)| h);
    let Ok(ip) = bare.parse::<std::net::Ipv4Addr>() else {
        return false;
    };
    let defaults = ["127.0.0.0/8".to_string()];
    insecure.iter().chain(&defaults).any(|e| {
        e.split_once('/').is_some_and(|(net, bits)| {
            match (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) {
                (Ok(net), Ok(bits)) if bits <= 32 => {
                    let mask = if bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    u32::from(ip) & mask == u32::from(net) & mask
                }
                _ => false,
            }
        })
    })
}

/// /etc/docker/certs.d: a directory named after a URL (never read); CA files not named `*.crt`
/// (ignored); a client key without its certificate or the reverse (dockerd fails every pull from
/// that registry); a hosts.toml with the classic image store (ignored).
fn certs_d_checks(root: &Path, containerd_store: bool, findings: &mut Vec<Finding>) {
    let Ok(base) = crate::root::resolve(root, docker::CERTS_D) else {
        return;
    };
    let Ok(dirs) = std::fs::read_dir(&base) else {
        return;
    };
    let mut dirs: Vec<_> = dirs
        .flatten()
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    for dir in dirs {
        let node_dir = format!("{}/{dir}", docker::CERTS_D);
        if dir == "http:" || dir == "https:" {
            findings.push(Finding::found(
                Level::Error,
                Code::DockerCertsDirIsUrl,
                &node_dir,
                None,
                format!("{node_dir}/… is a URL (certs.d/{dir}//host), not certs.d/<host[:port]>"),
                "dockerd looks only in certs.d/<host[:port]>/: these certificates are never read"
                    .into(),
                "move the files to /etc/docker/certs.d/<host[:port]>/ (no scheme)".into(),
            ));
            continue;
        }
        let Ok(entries) = std::fs::read_dir(base.join(&dir)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in &names {
            let path = format!("{node_dir}/{name}");
            if [".pem", ".cer", ".ca"].iter().any(|s| name.ends_with(s)) {
                findings.push(Finding::found(
                    Level::Warning,
                    Code::DockerCaNotCrt,
                    &path,
                    None,
                    format!("{name}: dockerd reads CA certificates only from *.crt"),
                    "this file is ignored: the registry's certificate is not verified with it \
                     (`x509: certificate signed by unknown authority`)"
                        .into(),
                    format!(
                        "rename it to {}.crt",
                        name.rsplit_once('.').map_or(name.as_str(), |(b, _)| b)
                    ),
                ));
            }
            let (pair, missing) = if let Some(b) = name.strip_suffix(".key") {
                (format!("{b}.cert"), "its certificate")
            } else if let Some(b) = name.strip_suffix(".cert") {
                (format!("{b}.key"), "its key")
            } else {
                continue;
            };
            if !names.contains(&pair) {
                findings.push(Finding::found(
                    Level::Error,
                    Code::DockerClientPairIncomplete,
                    &path,
                    None,
                    format!("{name} without {missing} ({pair})"),
                    format!(
                        "dockerd fails every pull from {dir} (`missing {}`)",
                        if missing == "its key" {
                            format!("key {pair} for client certificate {name}")
                        } else {
                            format!("client certificate {pair} for key {name}")
                        }
                    ),
                    format!("add {pair}, or remove {name}"),
                ));
            }
        }
        if !containerd_store && names.iter().any(|n| n == "hosts.toml") {
            findings.push(Finding::found(
                Level::Warning,
                Code::DockerHostsTomlIgnored,
                format!("{node_dir}/hosts.toml"),
                None,
                "a hosts.toml in Docker's certs.d, with the classic image store".into(),
                "dockerd ignores it (only the containerd image store reads it: measured on \
                 dockerd 28.5)"
                    .into(),
                "use insecure-registries and *.crt files (regtrust apply --runtime docker), or \
                 enable the containerd image store"
                    .into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_dockerd_counts_as_insecure() {
        let list = ["my.registry:5000".to_string(), "10.1.0.0/16".to_string()];
        assert!(is_insecure("my.registry:5000", &list));
        assert!(!is_insecure("my.registry", &list));
        assert!(is_insecure("10.1.2.3:5000", &list));
        assert!(!is_insecure("10.2.0.1:5000", &list));
        assert!(is_insecure("127.0.0.7:5000", &[]));
        assert!(!is_insecure("192.0.2.10:5000", &[]));
    }
}
