//! `doctor --probe` and credentials: asks each endpoint's `GET /v2/` without credentials (does
//! it want a login, and which scheme: `WWW-Authenticate: Basic` or `Bearer`), then with the
//! credentials the node has for that host (a hosts.toml `Authorization` header, or config.toml's
//! `registry.configs."host".auth`): `GET /v2/` with them for Basic, the token service's `GET
//! realm?service=…` with them for Bearer, or for an identity token the OAuth2 refresh-token
//! grant (`POST realm`) containerd sends. So it says whether the credentials work, and when a
//! header cannot (containerd before 2.1 sends no header with its token request). Never prints a
//! credential.
use std::io::{Read, Write};
use std::path::Path;

use super::probe::{ProbeResult, Speaks, authority_of, cas_for, connect_plain, tls_stream};
use super::{Finding, Level};
use crate::containerd::Version;
use crate::diag::Code;
use crate::hosts::Endpoint;

/// What an HTTP request answered: the status and the `WWW-Authenticate` header.
struct Answer {
    status: u16,
    challenge: Option<String>,
}

/// `GET path` on `url`'s host (http or https, the certificate verified with `cas`).
fn get(
    url: &str,
    path: &str,
    authorization: Option<&str>,
    cas: &[std::path::PathBuf],
) -> Result<Answer, String> {
    request(url, path, authorization, None, cas)
}

/// `GET path`, or `POST path` with an `application/x-www-form-urlencoded` body.
fn request(
    url: &str,
    path: &str,
    authorization: Option<&str>,
    form: Option<&str>,
    cas: &[std::path::PathBuf],
) -> Result<Answer, String> {
    let authority = authority_of(url).ok_or("not a URL")?;
    let host = url
        .split_once("://")
        .map_or(url, |(_, r)| r)
        .split('/')
        .next()
        .unwrap_or("");
    let method = if form.is_some() { "POST" } else { "GET" };
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    if let Some(a) = authorization {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    if let Some(body) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(form.unwrap_or(""));
    let mut head = Vec::new();
    let mut read = |s: &mut dyn ReadWrite| -> Result<(), String> {
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok(())
    };
    if url.starts_with("https://") {
        read(&mut tls_stream(&authority, cas)?)?;
    } else {
        read(&mut connect_plain(&authority).map_err(|e| e.to_string())?)?;
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("no HTTP answer")?;
    let challenge = lines.take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("www-authenticate")
            .then(|| v.trim().to_string())
    });
    Ok(Answer { status, challenge })
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// `Bearer realm="…",service="…"` → (scheme, realm, service).
fn parse_challenge(c: &str) -> (String, Option<String>, Option<String>) {
    let (scheme, params) = c.split_once(' ').unwrap_or((c, ""));
    let param = |name: &str| {
        params.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    (scheme.to_string(), param("realm"), param("service"))
}

/// What the node would present to an endpoint.
enum Credential {
    /// An `Authorization` value (`Basic …`).
    Header(String),
    /// An identity token: the token service's OAuth2 refresh-token grant.
    IdentityToken(crate::secret::Secret),
}

/// The credentials the node has for an endpoint: its hosts.toml header, else config.toml's for
/// its host (a user and password as `Basic …`, or an identity token), and where they are; None
/// with none (or ones that cannot be read, said in the source).
fn credentials(
    e: &Endpoint,
    config: &[super::config_checks::ConfigAuth],
) -> (Option<Credential>, &'static str) {
    if let Some(h) = &e.auth_header_value {
        return (Some(Credential::Header(h.clone())), "hosts.toml header");
    }
    let host = crate::spec::host::authority(&e.url);
    let Some(la) = config
        .iter()
        .find(|a| a.host == host)
        .and_then(|a| a.credentials.as_ref())
    else {
        return (None, "");
    };
    match la.credential() {
        Ok((user, crate::spec::SecretKind::Password, secret)) => (
            Some(Credential::Header(crate::secret::basic_authorization(
                &user, &secret,
            ))),
            "config.toml",
        ),
        Ok((_, crate::spec::SecretKind::IdentityToken, token)) => (
            Some(Credential::IdentityToken(token)),
            "config.toml (an identity token)",
        ),
        Err(_) => (None, "config.toml (credentials it cannot read: not probed)"),
    }
}

/// `application/x-www-form-urlencoded` for one value: unreserved bytes as they are, every other
/// byte as `%XX`.
fn form_value(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Probes one endpoint's authentication; pushes findings; returns the verdict line.
#[allow(clippy::too_many_arguments)]
pub fn probe_endpoint(
    root: &Path,
    file: &str,
    registry: &str,
    e: &Endpoint,
    config: &[super::config_checks::ConfigAuth],
    version: Version,
    out: &mut Vec<Finding>,
) -> Option<ProbeResult> {
    if e.url.starts_with("https://") && e.skip_verify {
        return None;
    }
    let cas = cas_for(root, &e.ca);
    let base = e.url.trim_end_matches('/');
    let answer = get(base, "/v2/", None, &cas).ok()?;
    let (creds, source) = credentials(e, config);
    let result = |verdict: String| ProbeResult {
        endpoint: format!("{} (credentials)", e.url),
        speaks: if e.url.starts_with("https://") {
            Speaks::Tls
        } else {
            Speaks::PlainHttp
        },
        verdict,
    };
    if answer.status != 401 {
        return Some(result(format!(
            "GET /v2/ answers {} without credentials{}",
            answer.status,
            if creds.is_some() {
                " (the configured credentials are not needed)"
            } else {
                ""
            }
        )));
    }
    let (scheme, realm, service) = parse_challenge(answer.challenge.as_deref().unwrap_or(""));
    let Some(creds) = creds else {
        if !source.is_empty() {
            return Some(result(format!("asks for {scheme} credentials; {source}")));
        }
        out.push(Finding::found(
            Level::Warning,
            Code::CredentialsMissing,
            file,
            None,
            format!(
                "{} asks for credentials ({scheme}) and the node has none for it",
                e.url
            ),
            "pulls through it fail with 401, unless the pod brings imagePullSecrets (sent to the \
             image's own registry only, never to a mirror)"
                .into(),
            format!(
                "give {registry}'s spec entry (or that endpoint) an `auth`, then `regtrust apply`"
            ),
        ));
        return Some(result(format!(
            "asks for {scheme} credentials; none configured"
        )));
    };
    let accepted = if scheme.eq_ignore_ascii_case("bearer") {
        let Some(realm) = realm else {
            return Some(result("Bearer challenge without a realm".into()));
        };
        let sep = if realm.contains('?') { '&' } else { '?' };
        let query = service
            .as_ref()
            .map(|s| format!("{sep}service={s}"))
            .unwrap_or_default();
        // The realm's own path and query (the POST goes there as given), and with `service`.
        let (realm_base, realm_own) = match realm.split_once("://") {
            Some((scheme, rest)) => {
                let (h, p) = rest.split_once('/').unwrap_or((rest, ""));
                (format!("{scheme}://{h}"), format!("/{p}"))
            }
            None => return Some(result(format!("Bearer realm `{realm}` is not a URL"))),
        };
        let realm_path = format!("{realm_own}{query}");
        let cas = cas_for(root, &[]);
        match &creds {
            Credential::Header(h) => {
                get(&realm_base, &realm_path, Some(h), &cas).map(|a| a.status == 200)
            }
            // What containerd does with an identity token: POST the refresh-token grant to the
            // realm; a token service without it (400, 401 or 404, as GCR, Artifactory and ACR
            // answer) gets the token as Basic `:token` on a GET, containerd's fallback.
            Credential::IdentityToken(t) => {
                let form = format!(
                    "grant_type=refresh_token&service={}&client_id=containerd-client&refresh_token={}",
                    form_value(service.as_deref().unwrap_or("")),
                    form_value(t.expose())
                );
                match request(&realm_base, &realm_own, None, Some(&form), &cas) {
                    Ok(a) if matches!(a.status, 400 | 401 | 404) => {
                        let basic = crate::secret::basic_authorization("", t);
                        get(&realm_base, &realm_path, Some(&basic), &cas).map(|a| a.status == 200)
                    }
                    other => other.map(|a| a.status == 200),
                }
            }
        }
    } else {
        match &creds {
            Credential::Header(h) => get(base, "/v2/", Some(h), &cas).map(|a| a.status == 200),
            // containerd answers a Basic challenge with a user and password only.
            Credential::IdentityToken(_) => {
                out.push(Finding::found(
                    Level::Error,
                    Code::CredentialsMissing,
                    file,
                    None,
                    format!(
                        "{} asks for Basic credentials and the node has an identity token for \
                         it, which containerd sends to token services only",
                        e.url
                    ),
                    "every pull through it fails with 401 (no basic auth credentials)".into(),
                    format!(
                        "give {registry}'s `auth` a username and password instead, then \
                         `regtrust apply`"
                    ),
                ));
                return Some(result(format!(
                    "asks for {scheme} credentials; {source} cannot answer Basic"
                )));
            }
        }
    };
    let token = scheme.eq_ignore_ascii_case("bearer");
    match accepted {
        Ok(true) => {
            if token && source == "hosts.toml header" && !version.at_least(2, 1) {
                out.push(Finding::found(
                    Level::Error,
                    Code::HeaderCannotDoToken,
                    file,
                    None,
                    format!(
                        "{} is a token (Bearer) registry and its credentials are a hosts.toml \
                         header, which containerd {version} does not send with its token request",
                        e.url
                    ),
                    "the token service sees an anonymous request: every pull fails with 401 \
                     (containerd 2.1 and newer send the header; measured)"
                        .into(),
                    "`method: config` on that `auth` in the spec (the default before 2.1), then \
                     `regtrust apply` and a containerd restart"
                        .into(),
                ));
            }
            Some(result(format!(
                "asks for {scheme} credentials; the ones in {source} are accepted{}",
                if token { " by the token service" } else { "" }
            )))
        }
        Ok(false) => {
            out.push(Finding::found(
                Level::Error,
                Code::CredentialsRejected,
                file,
                None,
                format!(
                    "{} refuses the credentials in {source} ({scheme}{})",
                    e.url,
                    if token { ", at its token service" } else { "" }
                ),
                "every pull through it fails with 401".into(),
                "check the username and the password the spec names, then `regtrust apply`".into(),
            ));
            Some(result(format!(
                "asks for {scheme} credentials; the ones in {source} are REFUSED"
            )))
        }
        Err(why) => Some(result(format!(
            "asks for {scheme} credentials; could not try them: {why}"
        ))),
    }
}
