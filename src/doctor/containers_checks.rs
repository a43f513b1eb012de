//! containers-image (Podman, CRI-O, Buildah, Skopeo) on the same node: registries.conf and its
//! drop-ins, /etc/containers/certs.d, and whether a registry containerd reaches over plain HTTP
//! is `insecure` for them too. Checked only when the root shows containers-image is installed
//! (`containers_image::installed`).
//!
//! What each finding says containers-image does was measured with Podman 4.3.1 (Debian 12's,
//! containers-image 5.23): see tests/real/podman.rs.
use std::path::Path;

use super::hosts_checks::HostsInfo;
use super::{Finding, Level};
use crate::containers_image::registries_conf::{self, Format};
use crate::containers_image::{CERTS_D, DROP_IN_DIR, REGISTRIES_CONF};
use crate::diag::Code;

/// The line (1-based) of the first line of `text` that starts with `prefix` (after spaces).
fn line_starting(text: &str, prefix: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .map(|i| i + 1)
}

pub fn check(root: &Path, hosts: &HostsInfo, out: &mut Vec<Finding>) {
    if crate::containers_image::installed(root).is_none() {
        return;
    }
    let read = |node_path: &str| {
        crate::root::resolve(root, node_path)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    // The files containers-image reads, in its order: registries.conf, then the drop-ins.
    let mut files: Vec<(String, String, bool)> = Vec::new();
    if let Some(t) = read(REGISTRIES_CONF) {
        files.push((REGISTRIES_CONF.to_string(), t, false));
    }
    if let Ok(rd) = crate::root::resolve(root, DROP_IN_DIR).and_then(std::fs::read_dir) {
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".conf"))
            .collect();
        names.sort();
        for n in names {
            let p = format!("{DROP_IN_DIR}/{n}");
            if let Some(t) = read(&p) {
                files.push((p, t, true));
            }
        }
    }
    let mut main_v1: Option<(String, Option<usize>)> = None;
    let mut v2_drop_in = false;
    let mut insecure: Vec<String> = Vec::new();
    for (file, text, drop_in) in &files {
        let format = match registries_conf::format_of(text) {
            Ok(f) => f,
            Err(e) => {
                out.push(Finding::found(
                    Level::Error,
                    Code::ContainersConfInvalid,
                    file,
                    None,
                    format!("{file} is not valid TOML: {e}"),
                    "every pull is refused (`loading registries configuration`)".into(),
                    "fix the file's syntax".into(),
                ));
                continue;
            }
        };
        let v1_line = line_starting(text, "[registries");
        if format == Some(Format::V1) && has_v2_settings(text) {
            out.push(Finding::found(
                Level::Error,
                Code::ContainersConfMixed,
                file,
                v1_line,
                format!(
                    "{file} mixes the v1 format ([registries.*] tables) with v2 settings \
                     ([[registry]], unqualified-search-registries…)"
                ),
                "the file is refused: every pull fails (`mixing sysregistry v1/v2 is not \
                 supported`)"
                    .into(),
                "rewrite the [registries.*] tables in the v2 format ([[registry]] with location \
                 and insecure; unqualified-search-registries)"
                    .into(),
            ));
        } else if format == Some(Format::V1) && *drop_in {
            out.push(Finding::found(
                Level::Error,
                Code::ContainersDropInV1,
                file,
                v1_line,
                format!("the drop-in {file} is in the v1 format ([registries.*] tables)"),
                "the drop-in is refused: every pull fails (`registry must be in v2 format but \
                 is in v1`)"
                    .into(),
                "rewrite it in the v2 format ([[registry]] with location and insecure)".into(),
            ));
        } else if format == Some(Format::V1) {
            main_v1 = Some((file.clone(), v1_line));
        } else if format == Some(Format::V2) && *drop_in {
            v2_drop_in = true;
        }
        insecure.extend(registries_conf::insecure_locations(text));
    }
    if let (Some((file, line)), true) = (main_v1, v2_drop_in) {
        out.push(Finding::found(
            Level::Warning,
            Code::ContainersConfV1,
            &file,
            line,
            format!("{file} is in the v1 format ([registries.*] tables) while drop-ins use v2"),
            "both apply (measured on Podman 4.3.1), but the v1 format is deprecated, and one v2 \
             table added to this file makes containers-image refuse it (every pull fails)"
                .into(),
            "rewrite it in the v2 format ([[registry]] with location and insecure; \
             unqualified-search-registries)"
                .into(),
        ));
    }
    // A registry containerd reaches over plain HTTP needs `insecure = true` here too (said once
    // per host: `server` and its `[host]` table name the same URL).
    let mut said = std::collections::BTreeSet::new();
    for d in &hosts.dirs {
        let Some(entries) = &d.entries else { continue };
        for e in entries.iter().filter(|e| e.url.starts_with("http://")) {
            let authority = crate::spec::host::authority(&e.url);
            let host = if e.is_server {
                d.name.as_str()
            } else {
                authority
            };
            if host == "_default"
                || insecure.iter().any(|i| i == host || i == authority)
                || !said.insert((d.file.clone(), host.to_string()))
            {
                continue;
            }
            out.push(Finding::found(
                Level::Error,
                Code::ContainersHttpNotInsecure,
                &d.file,
                None,
                format!(
                    "containerd reaches {host} over plain HTTP ({}), but no registries.conf file \
                     sets `insecure = true` for it",
                    e.url
                ),
                format!(
                    "they use HTTPS for {host} and fail (`server gave HTTP response to HTTPS \
                     client`)"
                ),
                "run `regtrust apply --runtime containerd,podman` (it writes \
                 /etc/containers/registries.conf.d/50-regtrust.conf), or add [[registry]] \
                 location = \"…\" insecure = true"
                    .into(),
            ));
        }
    }
    certs_checks(root, out);
}

fn has_v2_settings(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return false;
    };
    doc.iter().any(|(k, _)| k != "registries")
}

/// /etc/containers/certs.d: containers-image reads `<host[:port]>/*.crt` (CAs) and `*.cert` +
/// `*.key` pairs (client certificates), nothing else.
fn certs_checks(root: &Path, out: &mut Vec<Finding>) {
    let Ok(rd) = crate::root::resolve(root, CERTS_D).and_then(std::fs::read_dir) else {
        return;
    };
    let mut dirs: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    dirs.sort();
    for name in dirs {
        let dir = format!("{CERTS_D}/{name}");
        if name == "http:" || name == "https:" {
            out.push(Finding::found(
                Level::Warning,
                Code::ContainersCertIgnored,
                &dir,
                None,
                format!(
                    "`{dir}` comes from a URL used as a directory name ({CERTS_D}/{name}//<host>)"
                ),
                "never read: they look up certs.d/<host[:port]>/".into(),
                "name the directory after the host as written in image references, e.g. \
                 my.registry:5000"
                    .into(),
            ));
            continue;
        }
        let Ok(rd) = crate::root::resolve(root, &dir).and_then(std::fs::read_dir) else {
            continue;
        };
        let mut files: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        files.sort();
        for f in &files {
            let path = format!("{dir}/{f}");
            if let Some(stem) = f.strip_suffix(".key") {
                if !files.contains(&format!("{stem}.cert")) {
                    out.push(Finding::found(
                        Level::Error,
                        Code::ContainersClientPairIncomplete,
                        &path,
                        None,
                        format!("{path} has no client certificate {stem}.cert beside it"),
                        format!(
                            "every pull from {name} fails (`missing client certificate \
                             {stem}.cert for key {f}`)"
                        ),
                        format!("add {stem}.cert, or remove {f}"),
                    ));
                }
            } else if let Some(stem) = f.strip_suffix(".cert") {
                if !files.contains(&format!("{stem}.key")) {
                    out.push(Finding::found(
                        Level::Error,
                        Code::ContainersClientPairIncomplete,
                        &path,
                        None,
                        format!("{path} has no key {stem}.key beside it"),
                        format!(
                            "every pull from {name} fails (`missing key {stem}.key for client \
                             certificate {f}`)"
                        ),
                        format!("add {stem}.key; a CA certificate must be named *.crt, not *.cert"),
                    ));
                }
            } else if !f.ends_with(".crt")
                && [".pem", ".ca", ".cer", ".crt.pem"]
                    .iter()
                    .any(|x| f.ends_with(x))
            {
                out.push(Finding::found(
                    Level::Warning,
                    Code::ContainersCertIgnored,
                    &path,
                    None,
                    format!("{path} is not named *.crt"),
                    format!("ignored: they read CAs for {name} only from *.crt files"),
                    format!("rename it to {dir}/ca.crt"),
                ));
            }
        }
    }
}
