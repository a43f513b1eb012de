//! `doctor --probe`: asks each endpoint what it really speaks. A TLS ClientHello is sent first;
//! a TLS record back means HTTPS, an `HTTP/` line means plain HTTP on that port. For `https://`
//! endpoints a full handshake then verifies the certificate against the CAs containerd would use
//! (the host's `ca` files, else the node's system bundle). `GET /v2/` over plain HTTP where that
//! is what it speaks. Short timeouts; only the endpoints the node's own configuration names.
use crate::diag::Code;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::config_checks::ConfigInfo;
use super::hosts_checks::HostsInfo;
use super::{Finding, Level};

const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub endpoint: String,
    pub speaks: Speaks,
    pub verdict: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Speaks {
    Tls,
    PlainHttp,
    Unreachable,
    Unknown,
}

fn connect(authority: &str) -> std::io::Result<TcpStream> {
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    s.set_write_timeout(Some(TIMEOUT))?;
    Ok(s)
}

/// A minimal TLS 1.2/1.3 ClientHello with SNI.
fn client_hello(server_name: &str) -> Vec<u8> {
    let name = server_name.as_bytes();
    let mut ext = Vec::new();
    // server_name
    let sni_len = name.len() + 5;
    ext.extend_from_slice(&[0x00, 0x00]);
    ext.extend_from_slice(&(sni_len as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    ext.extend_from_slice(&[
        0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,
    ]);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2f, 0xc0, 0x2b]); // ECDHE GCM suites
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// What the endpoint at `authority` (host:port) speaks.
pub fn probe(authority: &str) -> ProbeResult {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_matches(['[', ']']);
    let mut r = ProbeResult {
        endpoint: authority.to_string(),
        speaks: Speaks::Unknown,
        verdict: String::new(),
    };
    let mut s = match connect(authority) {
        Ok(s) => s,
        Err(e) => {
            r.speaks = Speaks::Unreachable;
            r.verdict = format!("unreachable: {e}");
            return r;
        }
    };
    let mut buf = [0u8; 64];
    let n = s
        .write_all(&client_hello(host))
        .and_then(|_| s.read(&mut buf))
        .unwrap_or(0);
    match buf.get(..n) {
        Some([0x16 | 0x15, 0x03, ..]) => {
            r.speaks = Speaks::Tls;
            r.verdict = "speaks TLS (HTTPS)".into();
        }
        Some(b) if b.starts_with(b"HTTP/") => {
            r.speaks = Speaks::PlainHttp;
            let v2 = get_v2(authority, host).unwrap_or_else(|e| format!("GET /v2/ failed: {e}"));
            r.verdict = format!("speaks plain HTTP, not HTTPS; over HTTP {v2}");
        }
        _ => r.verdict = "no answer to a TLS ClientHello".into(),
    }
    r
}

/// The system CA bundle of the node (Debian/Ubuntu, then RHEL-style).
fn system_bundle(root: &Path) -> Option<PathBuf> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .iter()
    .filter_map(|p| crate::root::resolve(root, p).ok())
    .find(|p| p.is_file())
}

/// A verifying TLS handshake with the CAs containerd would use; Err says what is wrong.
pub fn verify_tls(authority: &str, cas: &[PathBuf]) -> Result<(), String> {
    tls_stream(authority, cas).map(drop)
}

/// A TLS connection to `authority` whose certificate verified against `cas`, handshake done.
pub fn tls_stream(
    authority: &str,
    cas: &[PathBuf],
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_matches(['[', ']']);
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        let certs = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        for c in certs {
            let c = c.map_err(|e| format!("CA file {}: {e}", ca.display()))?;
            roots
                .add(c)
                .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut sock = connect(authority).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
    }
    Ok(rustls::StreamOwned::new(conn, sock))
}

/// A TCP connection with the probe's timeouts.
pub fn connect_plain(authority: &str) -> std::io::Result<TcpStream> {
    connect(authority)
}

/// The CAs containerd would use for an endpoint: its `ca` files, else the node's bundle.
pub fn cas_for(root: &Path, ca: &[String]) -> Vec<PathBuf> {
    if ca.is_empty() {
        system_bundle(root).into_iter().collect()
    } else {
        ca.iter()
            .filter_map(|c| crate::root::resolve(root, c).ok())
            .collect()
    }
}

fn get_v2(authority: &str, host: &str) -> std::io::Result<String> {
    let mut s = connect(authority)?;
    write!(
        s,
        "GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf)?;
    let line = String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    Ok(format!("GET /v2/ answers `{line}`"))
}

pub fn authority_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let a = rest.split('/').next()?;
    Some(if a.contains(':') && !a.ends_with(']') {
        a.to_string()
    } else if scheme == "http" {
        format!("{a}:80")
    } else {
        format!("{a}:443")
    })
}

/// Probes every endpoint of every hosts.toml containerd reads; reports https:// endpoints that
/// only speak HTTP.
pub fn probe_all(
    root: &Path,
    cfg: &ConfigInfo,
    hosts: &HostsInfo,
    version: crate::containerd::Version,
    out: &mut Vec<Finding>,
) -> Vec<ProbeResult> {
    let mut results: Vec<ProbeResult> = Vec::new();
    for (host, line) in &cfg.insecure {
        let auth = authority_of(&format!("https://{host}")).unwrap_or_default();
        let r = probe(&auth);
        if r.speaks == Speaks::PlainHttp {
            out.push(Finding::found(Level::Error, Code::SkipVerifyForHttpRegistry, String::from("config.toml"), Some(*line), format!("`insecure_skip_verify` for {host}, which speaks only plain HTTP"), "pulls fail with `server gave HTTP response to HTTPS client`: skip_verify never switches to HTTP".into(), format!("describe {host} with `http: true` in a spec and run `regtrust apply` (it also removes this table)")));
        }
        results.push(r);
    }
    for d in &hosts.dirs {
        let mut checked: Vec<&str> = Vec::new();
        for e in d.entries.iter().flatten() {
            let Some(auth) = authority_of(&e.url) else {
                continue;
            };
            // The root `server` repeating a [host] table is only the last resort: judge the table.
            if e.is_server && checked.contains(&e.url.as_str()) {
                continue;
            }
            checked.push(&e.url);
            let r = match results.iter().find(|r| r.endpoint == auth) {
                Some(r) => r.clone(),
                None => {
                    let r = probe(&auth);
                    results.push(r.clone());
                    r
                }
            };
            if e.url.starts_with("https://") && r.speaks == Speaks::Tls {
                let cas = cas_for(root, &e.ca);
                let verdict = match verify_tls(&auth, &cas) {
                    Ok(()) => "certificate verified".to_string(),
                    Err(err) if e.skip_verify => format!(
                        "certificate NOT valid ({err}), accepted only because of skip_verify"
                    ),
                    Err(err) => {
                        out.push(Finding::found(Level::Error, Code::TlsCertificateRejected, d.file.clone(), None, format!("{}: the certificate does not verify: {err}", e.url), "pulls fail with a TLS error (x509: certificate signed by unknown authority, or similar)".into(), "give the registry's CA (spec: `ca_pem:` or `ca:`) and run `regtrust apply`".into()));
                        format!("certificate rejected: {err}")
                    }
                };
                // One line per URL: its CAs decide the verdict.
                results.push(ProbeResult {
                    endpoint: e.url.clone(),
                    speaks: Speaks::Tls,
                    verdict,
                });
            }
            if r.speaks == Speaks::Unreachable {
                out.push(Finding::found(
                    Level::Error,
                    Code::EndpointUnreachable,
                    d.file.clone(),
                    None,
                    format!("{} cannot be reached from here ({})", e.url, r.verdict),
                    "pulls through it fail (or fall through to the next endpoint) if the node \
                     cannot reach it either"
                        .into(),
                    format!(
                        "check the name, port and route to {auth} from the node; probes run from \
                         where doctor runs"
                    ),
                ));
            }
            if e.url.starts_with("https://") && r.speaks == Speaks::PlainHttp {
                let with = if e.skip_verify {
                    " with skip_verify"
                } else {
                    ""
                };
                let plain = format!("http://{}", auth.trim_end_matches(":80"));
                // The fix names the setting of this very endpoint: the registry's own `http:
                // true` only for the upstream, the endpoint's URL for a mirror.
                let fix = if e.is_server {
                    format!(
                        "use {plain} (spec: `http: true` for {}), then `regtrust apply`",
                        d.name
                    )
                } else {
                    format!(
                        "write this endpoint as `url: {plain}` in the spec's `endpoints` of {}, \
                         then `regtrust apply`",
                        d.name
                    )
                };
                out.push(Finding::found(Level::Error, Code::HttpsToHttpRegistry, d.file.clone(), None, format!("{}{with} is configured as HTTPS, but {auth} speaks only plain HTTP", e.url), "every pull fails with `server gave HTTP response to HTTPS client`; skip_verify cannot change that".into(), fix));
            }
            // What it asks of a client, and whether the node's credentials work.
            // (An http:// endpoint is asked over HTTP even when it did not answer the TLS
            // question: some servers wait for a line that never comes.)
            let speaks_its_scheme = (e.url.starts_with("http://")
                && r.speaks != Speaks::Unreachable)
                || (e.url.starts_with("https://") && r.speaks == Speaks::Tls);
            if speaks_its_scheme
                && let Some(p) = super::auth_probe::probe_endpoint(
                    root, &d.file, &d.name, e, &cfg.auth, version, out,
                )
            {
                results.push(p);
            }
        }
    }
    results
}

/// With containerd running: is its CRI plugin loaded? Asks `ctr plugins ls` on the socket.
pub fn cri_status(socket: &Path) -> Option<ProbeResult> {
    if !socket.exists() {
        return None;
    }
    let out = std::process::Command::new("ctr")
        .arg("--address")
        .arg(socket)
        .args(["plugins", "ls"])
        .output();
    let endpoint = format!("containerd at {}", socket.display());
    let out = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            let verdict = format!(
                "`ctr plugins ls` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return Some(ProbeResult {
                endpoint,
                speaks: Speaks::Unknown,
                verdict,
            });
        }
        Err(e) => {
            let verdict = format!("`ctr` is not available to ask containerd: {e}");
            return Some(ProbeResult {
                endpoint,
                speaks: Speaks::Unknown,
                verdict,
            });
        }
    };
    let status = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri")
        .map(|f| f[f.len() - 1].to_string())
        .unwrap_or_else(|| "missing".into());
    Some(ProbeResult {
        endpoint,
        speaks: Speaks::Unknown,
        verdict: format!("CRI plugin: {status}"),
    })
}
