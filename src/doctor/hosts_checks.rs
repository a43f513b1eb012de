//! Every hosts.toml under the directories containerd reads (and under the usual directories,
//! to report files containerd ignores).
use crate::diag::Code;
use std::path::Path;

use crate::hosts::Endpoint;
use toml_edit::{Document, Item};

use super::config_checks::ConfigInfo;
use super::{Finding, Level, line_of};
use crate::containerd::Version;
use crate::containerd::version::Support;

/// A host directory with its parsed hosts.toml (None: missing or ignored by containerd).
#[derive(Debug, Clone)]
pub struct HostDir {
    pub name: String,
    pub file: String,
    /// Endpoints in the order containerd tries them; None when containerd ignores the file.
    pub entries: Option<Vec<Endpoint>>,
}

#[derive(Debug, Default)]
pub struct HostsInfo {
    /// Directories containerd reads, in config_path order.
    pub dirs: Vec<HostDir>,
}

pub fn check(root: &Path, cfg: &ConfigInfo, v: Version, out: &mut Vec<Finding>) -> HostsInfo {
    let mut info = HostsInfo::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut scan: Vec<(String, bool)> = cfg
        .effective_dirs
        .iter()
        .map(|d| (d.clone(), true))
        .collect();
    scan.extend(cfg.usual_dirs.iter().map(|d| (d.clone(), false)));
    for (dir, effective) in scan {
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Ok(rd) = crate::root::resolve(root, &dir).and_then(std::fs::read_dir) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            if effective && (name == "http:" || name == "https:") {
                out.push(Finding::found(Level::Error, Code::HostDirIsUrl, format!("{dir}/{name}"), None, format!("`{dir}/{name}` comes from a URL used as a directory name (certs.d/{name}//<host>/hosts.toml)"), "never used: containerd looks up <config_path>/<host[:port]>/hosts.toml".into(), "name the directory after the host as written in image references, e.g. my.registry:5000".into()));
                continue;
            }
            let file = format!("{dir}/{name}/hosts.toml");
            let Ok(text) = crate::root::resolve(root, &file).and_then(std::fs::read_to_string)
            else {
                continue;
            };
            if !effective {
                out.push(Finding::found(
                    Level::Warning,
                    Code::HostsNotRead,
                    file.clone(),
                    None,
                    format!("{file} is not under a directory containerd reads"),
                    format!("ignored: pulls from {name} do not use it"),
                    "set config_path to this one directory (`regtrust apply` does it)".into(),
                ));
                continue;
            }
            let entries = check_file(root, &file, &name, &text, v, out);
            if entries.iter().flatten().any(|e| e.auth_header) {
                super::credentials::readable(root, &file, out);
            }
            info.dirs.push(HostDir {
                name,
                file,
                entries,
            });
        }
    }
    info
}

fn check_file(
    root: &Path,
    file: &str,
    name: &str,
    text: &str,
    v: Version,
    out: &mut Vec<Finding>,
) -> Option<Vec<Endpoint>> {
    let hosts_dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let mut add =
        |level, code, line: Option<usize>, problem: String, effect: String, fix: String| {
            let d = Finding::found(level, code, file, line, problem, effect, fix);
            out.push(d.with_source(text));
        };
    if name == "http:" || name == "https:" {
        add(Level::Error, Code::HostDirIsUrl, None,
            format!("the directory `{name}` comes from a URL (`certs.d/{name}//<host>`)"),
            "never used: containerd looks up <config_path>/<host[:port]>".into(),
            "name the directory after the host as written in image references, e.g. my.registry:5000".into());
    }
    if name == "_default" && v.default_host_dir() == Support::No {
        add(
            Level::Error,
            Code::DefaultDirUnsupported,
            None,
            format!("`_default` needs containerd 1.6.17 or later; this is {v}"),
            "ignored".into(),
            "upgrade containerd, or list the registries".into(),
        );
    }
    let doc = match Document::parse(text.to_string()) {
        Ok(d) => d,
        Err(e) => {
            add(
                Level::Error,
                Code::HostsInvalidToml,
                e.span().map(|s| line_of(text, s.start)),
                format!("not valid TOML: {}", e.message().trim()),
                format!(
                    "containerd logs the error and ignores the file: pulls from {name} fall back to https://{name} with system CAs"
                ),
                "fix the file, or let `regtrust apply` write it".into(),
            );
            return None;
        }
    };
    let t = doc.as_table();
    let hosts = t.get("host").and_then(Item::as_table_like);
    let old_tree = match (v.major, v.minor, v.patch) {
        (1, 6, _) => true,
        (1, 7, Some(p)) => p < 32,
        (1, 7, None) => true,
        _ => false,
    };
    if hosts.is_none_or(|h| h.is_empty()) && old_tree {
        add(
            Level::Error,
            Code::HostsNoHostTable,
            None,
            "no `[host.\"…\"]` table".into(),
            format!(
                "containerd {v} rejects the file (\"invalid `host` tree\") and pulls from {name} silently use HTTPS"
            ),
            "add a [host.\"<url>\"] table (`regtrust apply` always writes one)".into(),
        );
        return None;
    }
    let mut entries = Vec::new();
    if let Some(h) = hosts {
        for (url, item) in h.iter() {
            let line = item
                .as_table()
                .and_then(|t| t.span())
                .map(|s| line_of(text, s.start));
            let Some(tt) = item.as_table_like() else {
                continue;
            };
            let mut e = Endpoint::read(url, tt, false);
            if !url.contains("://") {
                e.url = format!("https://{url}");
                add(
                    Level::Warning,
                    Code::HostWithoutScheme,
                    line,
                    format!("`[host.\"{url}\"]` has no scheme"),
                    format!("containerd uses https://{url}"),
                    format!("write http://{url} if it speaks plain HTTP"),
                );
            }
            lint_entry(&mut add, root, hosts_dir, &e, line);
            entries.push(e);
        }
    }
    let server = t.get("server").and_then(Item::as_str).map(String::from);
    if let Some(s) = &server
        && let Err(why) = url_of_one_host(s)
    {
        let line = t
            .get("server")
            .and_then(|i| i.span().or_else(|| i.as_value().and_then(|v| v.span())))
            .map(|sp| line_of(text, sp.start));
        add(
            Level::Error,
            Code::ServerNotAUrl,
            line,
            format!("`server = \"{s}\"` is not the URL of one registry: {why}"),
            format!("pulls from {name} fail (containerd cannot reach that server)"),
            format!(
                "write the upstream's URL, e.g. server = \"https://{}\" (`regtrust apply` writes it)",
                crate::spec::host::upstream_host(name)
            ),
        );
    }
    let server_url = server.unwrap_or_else(|| match name {
        "_default" => String::from("https://<host>"),
        n => format!("https://{}", crate::spec::host::upstream_host(n)),
    });
    let root_entry = Endpoint::read(&server_url, t, true);
    lint_entry(&mut add, root, hosts_dir, &root_entry, None);
    if !root_entry.capabilities.is_empty() {
        entries.push(root_entry);
    }
    Some(entries)
}

/// `http(s)://host[:port][/path]` with one valid host: what `server` must be.
fn url_of_one_host(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("no http:// or https://".into());
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("the scheme `{scheme}` is not http or https"));
    }
    if rest.contains("://") {
        return Err("it holds a second `://`".into());
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() || authority.contains('*') {
        return Err(format!("`{authority}` is not a host"));
    }
    crate::spec::host::check_host(authority)
}

fn lint_entry(
    add: &mut impl FnMut(Level, Code, Option<usize>, String, String, String),
    root: &Path,
    hosts_dir: &str,
    e: &Endpoint,
    line: Option<usize>,
) {
    // Every CA and client file must be there, under the root, and readable; a relative path is
    // resolved against the host directory, as containerd does.
    for (what, path) in
        e.ca.iter()
            .map(|p| ("ca", p))
            .chain(e.client_files.iter().map(|p| ("client", p)))
            .map(|(what, p)| {
                if p.starts_with('/') {
                    (what, p.clone())
                } else {
                    (what, format!("{hosts_dir}/{p}"))
                }
            })
    {
        let path = &path;
        let readable =
            crate::root::resolve(root, path).is_ok_and(|p| crate::fs::is_readable_file(&p));
        if !readable {
            add(
                Level::Error,
                Code::TlsFileMissing,
                line,
                format!(
                    "`{what}` names {path}, which does not exist or cannot be read on the node"
                ),
                format!(
                    "every pull through {} fails (`unable to read CA cert` / client certificate \
                     errors)",
                    e.url
                ),
                format!(
                    "put the file at {path}, or give it inline in the spec (ca_pem / cert_pem, \
                     key_pem) so regtrust writes it"
                ),
            );
        }
    }
    let http = e.url.starts_with("http://");
    if http && e.skip_verify {
        add(
            Level::Warning,
            Code::SkipVerifyOnHttp,
            line,
            format!("`skip_verify` on {}", e.url),
            "does nothing: an http:// endpoint has no certificate".into(),
            "remove it".into(),
        );
    }
    if http && (!e.ca.is_empty() || e.client) {
        add(
            Level::Warning,
            Code::TlsOnHttp,
            line,
            format!("TLS settings (ca/client) on {}", e.url),
            "containerd tries HTTPS first on this endpoint and falls back to HTTP".into(),
            "use an https:// URL, or remove the TLS settings".into(),
        );
    }
    for ca in &e.ca {
        if !ca.starts_with('/') {
            add(
                Level::Warning,
                Code::RelativeCaPath,
                line,
                format!("`ca = \"{ca}\"` is relative"),
                "resolved against the host directory; some versions and pull paths ignore it"
                    .into(),
                "use an absolute path (regtrust writes absolute paths)".into(),
            );
        }
    }
}

#[cfg(test)]
mod server_url_tests {
    use super::url_of_one_host;

    #[test]
    fn malformed_server_urls_from_containerd_8053_are_caught() {
        assert!(url_of_one_host("*").is_err());
        assert!(url_of_one_host("https://*").is_err());
        assert!(url_of_one_host("https://docker.i://registry-1.docker.io").is_err());
        assert!(url_of_one_host("ftp://registry.example").is_err());
        assert!(url_of_one_host("https://registry-1.docker.io").is_ok());
        assert!(url_of_one_host("http://my.private.registry:5000/v2").is_ok());
        assert!(url_of_one_host("https://[::1]:5000").is_ok());
    }
}
