//! Semantic checks of a parsed spec. Every problem is collected, each with its position.
use crate::diag::{Code, Label};
use std::collections::{BTreeMap, HashMap};

use serde_saphyr::Spanned;

use super::host::{check_host, check_url, dir_name, upstream_host};
use super::model::{OneOrMany, RawAuth, RawClient, RawEndpoint, RawRegistry, RawSpec};
use super::valid::{
    Auth, AuthMethod, Capability, ClientPair, Endpoint, FileSource, PasswordSource, Registry,
    Runtime, SecretKind, ValidSpec,
};
use crate::containerd::Version;
use crate::containerd::version::Support;
use crate::diag::{Diagnostic, Pos};

struct Ctx<'a> {
    file: &'a str,
    version: Option<Version>,
    diags: Vec<Diagnostic>,
}

fn pos<T>(s: &Spanned<T>) -> Option<Pos> {
    let l = s.referenced;
    (l.line() > 0).then(|| Pos {
        line: l.line(),
        column: l.column(),
    })
}

impl Ctx<'_> {
    fn error<T>(&mut self, at: &Spanned<T>, code: Code, msg: String) {
        self.diags
            .push(Diagnostic::error(code, self.file, pos(at), msg));
    }
    fn warn<T>(&mut self, at: &Spanned<T>, code: Code, msg: String) {
        self.diags
            .push(Diagnostic::warning(code, self.file, pos(at), msg));
    }
}

/// Returns the valid spec (when there is no error) and every diagnostic, warnings included.
pub fn validate(
    file: &str,
    raw: RawSpec,
    version: Option<Version>,
) -> (Option<ValidSpec>, Vec<Diagnostic>) {
    let mut cx = Ctx {
        file,
        version: None,
        diags: Vec::new(),
    };
    let mut config_path = None;
    let runtimes = raw.runtimes.map(|list| {
        if list.value.is_empty() {
            cx.error(
                &list,
                Code::BadRuntime,
                "`runtimes` is empty: list containerd, docker, podman (or leave it out: apply \
                 then configures what is installed)"
                    .to_string(),
            );
        }
        let mut out: Vec<Runtime> = Vec::new();
        for r in list.value {
            match Runtime::parse(&r.value) {
                Ok(rt) if out.contains(&rt) => cx.error(
                    &r,
                    Code::BadRuntime,
                    format!("runtime `{rt}` is listed twice"),
                ),
                Ok(rt) => out.push(rt),
                Err(e) => cx.error(&r, Code::BadRuntime, e),
            }
        }
        out
    });
    if let Some(c) = raw.containerd {
        if let Some(v) = c.version {
            match Version::parse(&v.value) {
                Ok(ver) => cx.version = Some(ver),
                Err(e) => cx.error(&v, Code::BadContainerdVersion, e),
            }
        }
        if let Some(p) = c.config_path {
            if let Err(e) = check_config_path(&p.value) {
                cx.error(&p, Code::BadConfigPath, e);
            }
            config_path = Some(p.value.clone());
        }
    }
    let spec_version = cx.version;
    if version.is_some() {
        cx.version = version;
    }
    let mut seen: HashMap<String, Option<Pos>> = HashMap::new();
    let mut registries = Vec::new();
    for reg in raw.registries.value {
        let at = pos(&reg.value.host);
        let host = reg.value.host.value.clone();
        let dir = dir_name(&host);
        if let Some(first) = seen.get(&dir) {
            let where_ = first
                .map(|p| format!(" (first at line {})", p.line))
                .unwrap_or_default();
            cx.error(
                &reg.value.host,
                Code::DuplicateHost,
                format!("host `{host}` is listed twice{where_}: merge the two entries"),
            );
            if let (Some(d), Some(p)) = (cx.diags.last_mut(), first) {
                d.labels.push(Label {
                    file: cx.file.to_string(),
                    line: Some(p.line),
                    column: Some(p.column),
                    message: "first defined here".into(),
                    excerpt: None,
                });
            }
        } else {
            seen.insert(dir.clone(), at);
        }
        if let Some(r) = registry(&mut cx, reg.value) {
            registries.push(r);
        }
    }
    conflicting_credentials(&mut cx, &registries);
    cx.diags.sort_by_key(|d| d.pos.map(|p| (p.line, p.column)));
    let failed = cx.diags.iter().any(Diagnostic::is_error);
    let spec = (!failed).then_some(ValidSpec {
        runtimes,
        containerd: spec_version,
        config_path,
        registries,
    });
    (spec, cx.diags)
}

pub fn check_config_path(p: &str) -> Result<(), String> {
    if p.contains(':') {
        return Err(format!(
            "`{p}` is a `:`-separated list: config_path must be one directory, because \
             containerd 2.1+ CRI pulls do not split the list and silently fall back to HTTPS"
        ));
    }
    if p.contains(['"', '\\', '\'']) || p.chars().any(char::is_control) {
        return Err(format!(
            "`{p}` contains a quote, a backslash or a control character: expected a plain \
             absolute path"
        ));
    }
    if !p.starts_with('/') {
        return Err(format!(
            "`{p}` is not an absolute path: expected e.g. /etc/containerd/certs.d"
        ));
    }
    if p.split('/').any(|c| c == ".." || c == ".") || p.contains('\0') {
        return Err(format!(
            "`{p}` contains `.` or `..` components: expected a plain absolute path"
        ));
    }
    Ok(())
}

fn registry(cx: &mut Ctx<'_>, r: RawRegistry) -> Option<Registry> {
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    let host = r.host.value.clone();
    if let Err(e) = check_host(&host) {
        cx.error(&r.host, Code::BadHost, e);
        return None;
    }
    let is_default = host == "*";
    if is_default {
        match cx.version.map(|v| v.default_host_dir()) {
            Some(Support::No) => cx.error(&r.host, Code::DefaultHostUnsupported, format!(
                "host \"*\" (the `_default` directory) needs containerd 1.6.17 or later; this spec targets {}",
                cx.version.map(|v| v.to_string()).unwrap_or_default())),
            Some(Support::FromPatch(p)) => cx.warn(&r.host, Code::DefaultHostPatch, format!(
                "host \"*\" (the `_default` directory) needs containerd 1.6.{p} or later")),
            _ => {}
        }
    }
    let http = r.http.as_ref().is_some_and(|h| h.value);
    if let Some(h) = r.http.as_ref().filter(|h| h.value) {
        let tls_keys = [
            r.ca.is_some().then_some("ca"),
            r.ca_pem.is_some().then_some("ca_pem"),
            r.client.is_some().then_some("client"),
            r.skip_verify.is_some().then_some("skip_verify"),
        ];
        for k in tls_keys.into_iter().flatten() {
            cx.error(h, Code::HttpWithTls, format!(
                "`http: true` together with `{k}`: a plain-HTTP registry has no TLS; drop `{k}`, \
                 or drop `http: true` to reach it over HTTPS"));
        }
        if let Some(s) = &r.server {
            cx.error(
                s,
                Code::HttpWithServer,
                "`http: true` together with `server`: write the \
                upstream URL once, in `server` (http://…)"
                    .to_string(),
            );
        }
        if is_default {
            cx.error(
                h,
                Code::DefaultHostHttp,
                "host \"*\" cannot take `http: true`: hosts.toml \
                cannot name the upstream of every registry; list the registries, or add endpoints"
                    .to_string(),
            );
        }
    }
    let upstream_url = match &r.server {
        Some(s) => {
            if let Err(e) = check_url(&s.value) {
                cx.error(s, Code::BadUrl, e);
            }
            if is_default {
                cx.error(
                    s,
                    Code::DefaultHostServer,
                    "host \"*\" cannot take `server`: it stands \
                    for every registry"
                        .to_string(),
                );
            }
            s.value.trim_end_matches('/').to_string()
        }
        None if is_default => String::new(),
        None if http => format!("http://{host}"),
        None => format!("https://{}", upstream_host(&host)),
    };
    let mut upstream = Endpoint::new(upstream_url);
    let tls_reported = http;
    settings(
        cx,
        &mut upstream,
        Settings {
            capabilities: r.capabilities,
            ca: r.ca,
            ca_pem: r.ca_pem,
            client: r.client,
            skip_verify: r.skip_verify,
            headers: r.headers,
            override_path: r.override_path,
            dial_timeout: r.dial_timeout,
            auth: r.auth,
        },
        tls_reported,
    );
    let mut endpoints = Vec::new();
    let mut seen_urls: BTreeMap<String, ()> = BTreeMap::new();
    let endpoints_span = r.endpoints.as_ref().map(pos);
    if let Some(list) = r.endpoints {
        for e in list.value {
            let e = e.value;
            let url = e.url.value.trim_end_matches('/').to_string();
            if let Err(msg) = check_url(&url) {
                cx.error(&e.url, Code::BadUrl, msg);
                continue;
            }
            if seen_urls.insert(url.clone(), ()).is_some() {
                cx.error(
                    &e.url,
                    Code::DuplicateEndpoint,
                    format!("endpoint `{url}` is listed twice for `{host}`"),
                );
                continue;
            }
            endpoints.push(endpoint(cx, url, e));
        }
    }
    let fallback = r.fallback.as_ref().is_none_or(|f| f.value);
    if let (false, Some(f), Some(_)) = (fallback, &r.fallback, &upstream.auth) {
        cx.warn(
            f,
            Code::AuthUnused,
            format!(
                "`auth` of `{host}` is never used: with `fallback: false` the upstream is never \
                 contacted (credentials for an endpoint go in that endpoint's `auth`)"
            ),
        );
    }
    if let Some(f) = r
        .fallback
        .as_ref()
        .filter(|f| !f.value && endpoints.is_empty())
    {
        cx.error(
            f,
            Code::NoFallbackWithoutEndpoints,
            format!(
                "`fallback: false` for `{host}` with no endpoints leaves nothing to pull from: \
                 add `endpoints`, or drop `fallback: false`"
            ),
        );
    }
    if is_default
        && endpoints.is_empty()
        && errors_before == cx.diags.iter().filter(|d| d.is_error()).count()
    {
        let d = Diagnostic::error(Code::DefaultHostNeedsEndpoints, cx.file, endpoints_span.flatten().or(pos(&r.host)),
            "host \"*\" needs at least one endpoint: containerd 1.x rejects a hosts.toml without a \
             [host] table, and the upstream of every registry cannot be named".to_string());
        cx.diags.push(d);
    }
    let errors_after = cx.diags.iter().filter(|d| d.is_error()).count();
    (errors_after == errors_before).then(|| Registry {
        dir_name: dir_name(&host),
        host,
        upstream,
        endpoints,
        fallback,
    })
}

fn endpoint(cx: &mut Ctx<'_>, url: String, e: RawEndpoint) -> Endpoint {
    let mut ep = Endpoint::new(url);
    settings(
        cx,
        &mut ep,
        Settings {
            capabilities: e.capabilities,
            ca: e.ca,
            ca_pem: e.ca_pem,
            client: e.client,
            skip_verify: e.skip_verify,
            headers: e.headers,
            override_path: e.override_path,
            dial_timeout: e.dial_timeout,
            auth: e.auth,
        },
        false,
    );
    if ep.capabilities.is_none() {
        // A mirror serves pulls; pushing to a mirror is never what people mean.
        ep.capabilities = Some(vec![Capability::Pull, Capability::Resolve]);
    }
    ep
}

struct Settings {
    capabilities: Option<Spanned<Vec<Spanned<String>>>>,
    ca: Option<Spanned<OneOrMany>>,
    ca_pem: Option<Spanned<String>>,
    client: Option<Spanned<RawClient>>,
    skip_verify: Option<Spanned<bool>>,
    headers: Option<Spanned<BTreeMap<String, Spanned<OneOrMany>>>>,
    override_path: Option<Spanned<bool>>,
    dial_timeout: Option<Spanned<String>>,
    auth: Option<Spanned<RawAuth>>,
}

/// Checks and copies per-host settings. `tls_reported`: TLS-on-HTTP was already reported.
fn settings(cx: &mut Ctx<'_>, ep: &mut Endpoint, s: Settings, tls_reported: bool) {
    let url = ep.url.clone();
    let http = ep.is_http() && !tls_reported;
    if let Some(caps) = s.capabilities {
        let mut out = Vec::new();
        for c in &caps.value {
            match Capability::parse(&c.value) {
                Some(Capability::Referrers) if cx.version.is_some_and(|v| !v.referrers()) => {
                    cx.error(c, Code::CapabilityUnsupported, format!(
                        "capability `referrers` needs containerd 2.2 or later; this spec targets {}",
                        cx.version.map(|v| v.to_string()).unwrap_or_default()));
                }
                Some(cap) if out.contains(&cap) => {
                    cx.error(c, Code::DuplicateCapability, format!("capability `{}` is listed twice", c.value));
                }
                Some(cap) => out.push(cap),
                None => cx.error(c, Code::BadCapability, format!(
                    "`{}` is not a capability: expected pull, resolve, push (or referrers on 2.2+)",
                    c.value)),
            }
        }
        ep.capabilities = Some(out);
    }
    if http {
        if let Some(sv) = &s.skip_verify {
            cx.error(
                sv,
                Code::SkipVerifyOnHttp,
                format!(
                    "`skip_verify` on `{url}` does nothing: it only disables certificate checks on \
                 HTTPS, and an http:// endpoint has no certificate; drop it"
                ),
            );
        }
        for (present, key) in [
            (s.ca.is_some() || s.ca_pem.is_some(), "ca"),
            (s.client.is_some(), "client"),
        ] {
            if present {
                let at =
                    s.ca.as_ref()
                        .map(pos)
                        .or(s.ca_pem.as_ref().map(pos))
                        .or(s.client.as_ref().map(pos))
                        .flatten();
                cx.diags.push(Diagnostic::error(Code::TlsOnHttp, cx.file, at, format!(
                    "`{key}` on `{url}`: TLS settings on an http:// endpoint make containerd try \
                     HTTPS first; use an https:// URL, or drop `{key}`")));
            }
        }
    }
    if let Some(ca) = s.ca {
        let paths = ca.value.clone().strings().unwrap_or_else(|what| {
            cx.error(
                &ca,
                Code::BadCaValue,
                format!(
                    "`ca` is {what}: expected an absolute node path, or a list of them \
                     (`ca: /etc/ssl/private-ca.pem`)"
                ),
            );
            Vec::new()
        });
        for p in paths {
            if !p.starts_with('/') {
                cx.error(&ca, Code::RelativeCaPath, format!(
                    "ca `{p}` is not an absolute path: containerd resolves relative paths against the \
                     hosts directory, which is a known trap; write the full node path, or use `ca_pem`"));
            } else {
                ep.tls.ca.push(FileSource::Path(p));
            }
        }
    }
    if let Some(pem) = s.ca_pem {
        if !pem.value.contains("-----BEGIN CERTIFICATE-----") {
            cx.error(
                &pem,
                Code::BadCaPem,
                "`ca_pem` holds no `-----BEGIN CERTIFICATE-----` block: \
                expected a PEM certificate"
                    .to_string(),
            );
        } else if let Err(e) = check_pem(&pem.value, "CERTIFICATE") {
            cx.error(&pem, Code::BadCaPem, format!("`ca_pem`: {e}"));
        } else {
            ep.tls.ca.push(FileSource::Inline(pem.value));
        }
    }
    if let Some(c) = s.client {
        ep.tls.client = client(cx, &c);
    }
    if let Some(sv) = s.skip_verify {
        ep.tls.skip_verify = Some(sv.value);
    }
    if let Some(h) = s.headers {
        for (name, spanned) in &h.value {
            let name = name.clone();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                cx.error(
                    spanned,
                    Code::BadHeaderName,
                    format!("header name `{name}` is not a valid HTTP token"),
                );
                continue;
            }
            let values = match spanned.value.clone().strings() {
                Ok(v) => v,
                Err(what) => {
                    cx.error(
                        spanned,
                        Code::BadHeaderValue,
                        format!(
                            "header `{name}` is {what}: expected a string or a list of strings; \
                             quote a value that YAML would read as a number or a boolean"
                        ),
                    );
                    continue;
                }
            };
            if values.iter().any(|v| v.contains(['\r', '\n', '\0'])) {
                cx.error(
                    spanned,
                    Code::BadHeaderValue,
                    format!("header `{name}` has a line break or NUL in its value"),
                );
                continue;
            }
            ep.headers.insert(name, values);
        }
    }
    if let Some(o) = s.override_path {
        ep.override_path = o.value;
    }
    if let Some(d) = s.dial_timeout {
        if !is_go_duration(&d.value) {
            cx.error(
                &d,
                Code::BadDialTimeout,
                format!(
                    "dial_timeout `{}` is not a duration: expected e.g. 500ms, 5s, 1m30s",
                    d.value
                ),
            );
        }
        match cx.version.map(|v| v.dial_timeout()) {
            Some(Support::No) => cx.error(
                &d,
                Code::DialTimeoutUnsupported,
                format!(
                    "dial_timeout needs containerd 2.0.7 or later; this spec targets {}",
                    cx.version.map(|v| v.to_string()).unwrap_or_default()
                ),
            ),
            Some(Support::FromPatch(p)) => cx.warn(
                &d,
                Code::DialTimeoutPatch,
                format!(
                    "dial_timeout needs containerd 2.0.{p} or later; older 2.0 releases ignore it"
                ),
            ),
            _ => {}
        }
        ep.dial_timeout = Some(d.value);
    }
    if let Some(a) = s.auth {
        ep.auth = auth(cx, ep, &a);
    }
}

/// One host with two different `auth`s (a mirror shared by two registries, each with its own
/// login): containerd keeps one set of credentials per host (config.toml's `configs."host"`, or
/// each hosts.toml's own header), so with `method: config` only the first is written: a warning
/// at the second.
fn conflicting_credentials(cx: &mut Ctx<'_>, registries: &[Registry]) {
    let mut seen: Vec<(&str, &Auth)> = Vec::new();
    for r in registries {
        for ep in std::iter::once(&r.upstream).chain(&r.endpoints) {
            let Some(a) = &ep.auth else { continue };
            match seen.iter().find(|(h, _)| *h == ep.authority()) {
                Some((_, first))
                    if first.username != a.username
                        || first.source != a.source
                        || first.kind != a.kind =>
                {
                    cx.diags.push(Diagnostic::warning(
                        Code::AuthConflict,
                        cx.file,
                        a.at,
                        format!(
                            "`{}` gets other credentials here than earlier in the spec: containerd \
                             keeps one login per host (with `method: config` only the first is \
                             written); give every endpoint of that host the same `auth`",
                            ep.authority()
                        ),
                    ));
                }
                Some(_) => {}
                None => seen.push((ep.authority(), a)),
            }
        }
    }
}

/// Checks `auth` (host-level: the credentials go to `ep`'s host only). An inline secret is
/// taken now; a file or an environment variable is read later (`super::secrets::read`).
fn auth(cx: &mut Ctx<'_>, ep: &Endpoint, a: &Spanned<RawAuth>) -> Option<Auth> {
    let v = &a.value;
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    if ep.url.is_empty() {
        cx.error(
            a,
            Code::BadAuth,
            "`auth` on host \"*\" would send these credentials to every registry: put `auth` on \
             the endpoint it is for"
                .to_string(),
        );
    }
    let sources = [
        v.password_file.as_ref().map(|p| ("password_file", p)),
        v.password_env.as_ref().map(|p| ("password_env", p)),
        v.password.as_ref().map(|p| ("password", p)),
        v.identity_token_file
            .as_ref()
            .map(|p| ("identity_token_file", p)),
        v.identity_token_env
            .as_ref()
            .map(|p| ("identity_token_env", p)),
        v.identity_token.as_ref().map(|p| ("identity_token", p)),
    ];
    let mut given: Vec<(&str, &Spanned<String>)> = sources.into_iter().flatten().collect();
    // In the spec's order: the error points at the second source written.
    given.sort_by_key(|(_, s)| pos(s).map(|p| (p.line, p.column)));
    let kind = match given.first() {
        Some((n, _)) if n.starts_with("identity_token") => SecretKind::IdentityToken,
        _ => SecretKind::Password,
    };
    let user = v
        .username
        .as_ref()
        .map(|u| u.value.clone())
        .unwrap_or_default();
    match &v.username {
        None if kind == SecretKind::Password => cx.error(
            a,
            Code::BadAuth,
            "`auth` needs a `username` with a password (or an `identity_token_file`, \
             `identity_token_env` or `identity_token` instead)"
                .to_string(),
        ),
        None => {}
        Some(u) if u.value.is_empty() => {
            cx.error(u, Code::BadAuth, "`username` is empty".to_string())
        }
        Some(u) if u.value.contains(':') => cx.error(
            u,
            Code::BadAuth,
            // Not repeated: `user:password` written as the username would print the password.
            "`username` contains `:`: HTTP Basic auth (user:password) cannot carry it; the \
             password goes in `password_file`, `password_env` or `password`"
                .to_string(),
        ),
        Some(u) if u.value.chars().any(char::is_control) => cx.error(
            u,
            Code::BadAuth,
            "`username` contains a control character".to_string(),
        ),
        Some(_) => {}
    }
    let method = match &v.method {
        None => None,
        Some(m) => match AuthMethod::parse(&m.value) {
            Some(method) => Some(method),
            None => {
                cx.error(
                    m,
                    Code::BadAuth,
                    format!(
                        "`method: {}` is not a method: `config` (config.toml, Basic and token \
                         registries) or `header` (a Basic header in hosts.toml)",
                        m.value
                    ),
                );
                None
            }
        },
    };
    if let (Some(AuthMethod::Header), SecretKind::IdentityToken, Some(m)) =
        (method, kind, &v.method)
    {
        cx.error(
            m,
            Code::BadAuth,
            "an identity token is exchanged for registry tokens by containerd's authorizer: it \
             needs `method: config`; a header can only carry a username and password"
                .to_string(),
        );
    }
    let secret_name = kind.name();
    let source = match given.as_slice() {
        [] => {
            cx.error(
                a,
                Code::BadAuth,
                "`auth` needs one secret: `password_file`, `password_env` or `password` (with \
                 `username`), or `identity_token_file`, `identity_token_env` or `identity_token`"
                    .to_string(),
            );
            None
        }
        [(_, _), (_, at), ..] => {
            let names: Vec<&str> = given.iter().map(|(n, _)| *n).collect();
            cx.error(
                *at,
                Code::BadAuth,
                format!(
                    "`auth` has {}: give exactly one source for one secret",
                    names.join(" and ")
                ),
            );
            None
        }
        [(n, p)] if n.ends_with("_file") && (p.value.is_empty() || p.value.contains('\0')) => {
            cx.error(*p, Code::BadAuth, format!("`{n}` is not a path"));
            None
        }
        [(n, p)] if n.ends_with("_file") => Some((PasswordSource::File(p.value.clone()), None)),
        [(n, p)]
            if n.ends_with("_env") && (p.value.is_empty() || p.value.contains(['=', '\0'])) =>
        {
            cx.error(
                *p,
                Code::BadAuth,
                format!("`{n}` is not an environment variable name"),
            );
            None
        }
        [(n, p)] if n.ends_with("_env") => Some((PasswordSource::Env(p.value.clone()), None)),
        [(n, p)] if p.value.is_empty() => {
            cx.error(*p, Code::BadAuth, format!("`{n}` is empty"));
            None
        }
        [(n, p)] => {
            cx.warn(
                *p,
                Code::InlinePassword,
                format!(
                    "the {secret_name}{} is written in the spec: anyone who can read the spec (or \
                     its repository) has it; prefer `{n}_file` or `{n}_env`",
                    if user.is_empty() {
                        String::new()
                    } else {
                        format!(" for `{user}`")
                    }
                ),
            );
            Some((
                PasswordSource::Inline,
                Some(crate::secret::Secret::new(p.value.clone())),
            ))
        }
    };
    if ep.is_http() {
        cx.warn(
            a,
            Code::AuthOnHttp,
            format!(
                "credentials for `{}` go over plain HTTP: anyone on the path can read them; use an \
                 https:// endpoint",
                ep.url
            ),
        );
    }
    if ep
        .headers
        .keys()
        .any(|h| h.eq_ignore_ascii_case("authorization"))
    {
        cx.error(
            a,
            Code::BadAuth,
            format!(
                "`{}` has both `auth` and an `Authorization` header: keep one",
                ep.url
            ),
        );
    }
    let errors_after = cx.diags.iter().filter(|d| d.is_error()).count();
    let (source, password) = source?;
    (errors_after == errors_before).then(|| Auth {
        username: user,
        kind,
        source,
        password,
        method,
        at: pos(a),
    })
}

fn client(cx: &mut Ctx<'_>, c: &Spanned<RawClient>) -> Option<ClientPair> {
    let v = &c.value;
    let cert = match (&v.cert, &v.cert_pem) {
        (Some(p), None) => (p, false),
        (None, Some(pem)) => (pem, true),
        _ => {
            cx.error(
                c,
                Code::BadClient,
                "`client` needs exactly one of `cert` (node path) or \
                `cert_pem` (inline PEM)"
                    .to_string(),
            );
            return None;
        }
    };
    let key = match (&v.key, &v.key_pem) {
        (Some(p), None) => Some((p, false)),
        (None, Some(pem)) => Some((pem, true)),
        (None, None) => None,
        _ => {
            cx.error(
                c,
                Code::BadClient,
                "`client` takes `key` or `key_pem`, not both".to_string(),
            );
            return None;
        }
    };
    // Every file is checked, each error at its own key: two bad PEMs are two errors.
    let mut ok = true;
    for (what, (f, inline)) in [("cert", cert)].into_iter().chain(key.map(|k| ("key", k))) {
        let (label, key_name) = match (what, inline) {
            ("cert", false) => ("CERTIFICATE", "cert"),
            ("cert", true) => ("CERTIFICATE", "cert_pem"),
            (_, false) => ("PRIVATE KEY", "key"),
            (_, true) => ("PRIVATE KEY", "key_pem"),
        };
        if !inline {
            if !f.value.starts_with('/') {
                cx.error(
                    f,
                    Code::RelativeClientPath,
                    format!("client `{key_name}` path `{}` is not absolute", f.value),
                );
                ok = false;
            }
        } else if !f.value.contains("-----BEGIN ") {
            cx.error(
                f,
                Code::BadClientPem,
                format!(
                    "`{key_name}` holds no `-----BEGIN` block: expected a PEM {}",
                    label.to_lowercase()
                ),
            );
            ok = false;
        } else {
            let label = if f.value.contains("PRIVATE KEY-----") {
                "PRIVATE KEY"
            } else {
                label
            };
            if let Err(e) = check_pem(&f.value, label) {
                cx.error(f, Code::BadClientPem, format!("`{key_name}`: {e}"));
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    let source = |(f, inline): (&Spanned<String>, bool)| {
        if inline {
            FileSource::Inline(f.value.clone())
        } else {
            FileSource::Path(f.value.clone())
        }
    };
    Some(ClientPair {
        cert: source(cert),
        key: key.map(source),
    })
}

/// Go's `time.ParseDuration` syntax, without sign: `300ms`, `1.5h`, `2h45m`.
fn is_go_duration(s: &str) -> bool {
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    if rest == "0" {
        return true;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        let unit = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len());
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

/// Every `-----BEGIN …<label>-----` block of `pem` is base64 of one DER structure (a SEQUENCE
/// whose length is the block's): garbage between the lines is caught here, not by containerd
/// at pull time. The error names the line of the text.
pub fn check_pem(pem: &str, label: &str) -> Result<(), String> {
    use base64::Engine as _;
    let mut body = String::new();
    let mut begin = None;
    let mut blocks = 0;
    for (i, line) in pem.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") && line.ends_with(&format!("{label}-----")) {
            begin = Some(i + 1);
            body.clear();
        } else if line.starts_with("-----END ") {
            let Some(at) = begin.take() else {
                return Err(format!(
                    "line {} of the PEM: an END line without its BEGIN line",
                    i + 1
                ));
            };
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| {
                    format!("the block from line {at} of the PEM is not base64 ({e}): expected a PEM {label}")
                })?;
            if !is_der_sequence(&der) {
                return Err(format!(
                    "the block from line {at} of the PEM does not hold a DER structure: expected a PEM {label}"
                ));
            }
            blocks += 1;
        } else if begin.is_some() {
            if !line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            {
                return Err(format!(
                    "line {} of the PEM: `{line}` is not base64: expected a PEM {label}",
                    i + 1
                ));
            }
            body.push_str(line);
        }
    }
    if begin.is_some() {
        return Err(format!("the {label} block has no END line"));
    }
    if blocks == 0 {
        return Err(format!("no `-----BEGIN {label}-----` block"));
    }
    Ok(())
}

/// A DER SEQUENCE whose encoded length is exactly the data's.
fn is_der_sequence(der: &[u8]) -> bool {
    let [0x30, first, rest @ ..] = der else {
        return false;
    };
    let (len, header) = match *first {
        n if n < 0x80 => (usize::from(n), 2),
        n @ 0x81..=0x84 => {
            let k = usize::from(n - 0x80);
            if rest.len() < k {
                return false;
            }
            (
                rest[..k]
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b)),
                2 + k,
            )
        }
        _ => return false,
    };
    header + len == der.len()
}

#[cfg(test)]
mod tests {
    use super::is_go_duration;

    #[test]
    fn go_durations() {
        for d in ["5s", "500ms", "1m30s", "1.5h", "0"] {
            assert!(is_go_duration(d), "{d}");
        }
        for d in ["", "5", "s", "5x", "-1s", "5 s"] {
            assert!(!is_go_duration(d), "{d}");
        }
    }
}
