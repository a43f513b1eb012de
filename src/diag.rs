//! Diagnostics: the one type every check reports with — spec validation (`check`, and every
//! command that reads a spec) and `doctor`. A stable code, a severity, a message that says what
//! was expected, where (file, line, column, and the offending source line), secondary places
//! ("first defined here"), what containerd will do about it, and how to fix it.
//!
//! Rendered as text with the source line and a marker by `annotate-snippets` (the renderer rustc
//! and cargo use: maintained by the Rust project, no dependencies beyond styling, and plain text
//! output that needs no terminal), and as JSON objects for `--format json`.
use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;

macro_rules! codes {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $name:literal, )*) => {
        /// Every diagnostic code: stable kebab-case names (docs/diagnostics.md lists them).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])+ $variant, )*
        }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// One line on what the code means.
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc),+).trim_ascii(),)*
                }
            }
        }
    };
}

codes! {
    // --- reading the spec ---
    /// The spec file cannot be read.
    SpecUnreadable = "spec-unreadable",
    /// The spec is larger than the input limit.
    SpecTooLarge = "spec-too-large",
    /// The spec is not UTF-8 text.
    SpecNotUtf8 = "spec-not-utf8",
    /// The spec is not valid YAML or JSON, or a value has the wrong type.
    SpecSyntax = "spec-syntax",
    /// A key the spec does not have.
    UnknownKey = "unknown-key",
    // --- the spec's values ---
    /// `host` is not a registry host (name[:port]).
    BadHost = "bad-host",
    /// The same host twice.
    DuplicateHost = "duplicate-host",
    /// An endpoint URL that is not http:// or https://host[:port][/path].
    BadUrl = "bad-url",
    /// The same endpoint twice for one host.
    DuplicateEndpoint = "duplicate-endpoint",
    /// A capability other than pull, resolve, push (or referrers).
    BadCapability = "bad-capability",
    /// The same capability twice.
    DuplicateCapability = "duplicate-capability",
    /// A capability this containerd version does not have.
    CapabilityUnsupported = "capability-unsupported",
    /// `http: true` together with an explicit server URL.
    HttpWithServer = "http-with-server",
    /// TLS settings on a plain-HTTP endpoint.
    HttpWithTls = "http-with-tls",
    /// `skip_verify` on a plain-HTTP endpoint (it only disables certificate checks on HTTPS).
    SkipVerifyOnHttp = "skip-verify-on-http",
    /// TLS settings on an http:// endpoint of a hosts.toml.
    TlsOnHttp = "tls-on-http",
    /// `config_path` is not one absolute directory.
    BadConfigPath = "bad-config-path",
    /// `containerd.version` is not a version regtrust knows.
    BadContainerdVersion = "bad-containerd-version",
    /// A `runtimes` entry that is not containerd, docker or podman (cri-o) (or one listed twice).
    BadRuntime = "bad-runtime",
    /// A `ca` path that is not absolute.
    RelativeCaPath = "relative-ca-path",
    /// `ca` is neither a path nor a list of paths.
    BadCaValue = "bad-ca-value",
    /// A `client` path that is not absolute.
    RelativeClientPath = "relative-client-path",
    /// `ca_pem` is not a PEM certificate.
    BadCaPem = "bad-ca-pem",
    /// `client` is neither {cert, key} paths nor {cert_pem, key_pem}.
    BadClient = "bad-client",
    /// `cert_pem` / `key_pem` is not PEM.
    BadClientPem = "bad-client-pem",
    /// A header name that HTTP does not allow.
    BadHeaderName = "bad-header-name",
    /// A header value that HTTP does not allow.
    BadHeaderValue = "bad-header-value",
    /// `dial_timeout` is not a duration.
    BadDialTimeout = "bad-dial-timeout",
    /// `auth` without a username, with a `:` in it, or without exactly one password source.
    BadAuth = "bad-auth",
    /// An inline `password` in the spec (prefer `password_file` or `password_env`).
    InlinePassword = "inline-password",
    /// Credentials for an http:// host: sent in clear.
    AuthOnHttp = "auth-on-http",
    /// `auth` on a registry with `fallback: false`: the upstream is never contacted.
    AuthUnused = "auth-unused",
    /// One host given two different `auth`s in the spec (containerd keeps one login per host).
    AuthConflict = "auth-conflict",
    /// A password file or environment variable that cannot be read, or is empty.
    SecretUnreadable = "secret-unreadable",
    /// `dial_timeout` needs a newer containerd.
    DialTimeoutUnsupported = "dial-timeout-unsupported",
    /// `dial_timeout` needs a later patch release of this containerd line.
    DialTimeoutPatch = "dial-timeout-patch",
    /// `fallback: false` without an endpoint: nothing could be pulled.
    NoFallbackWithoutEndpoints = "no-fallback-without-endpoints",
    /// host "*" (`_default`) with `http: true`.
    DefaultHostHttp = "default-host-http",
    /// host "*" (`_default`) with a server URL.
    DefaultHostServer = "default-host-server",
    /// host "*" (`_default`) without endpoints.
    DefaultHostNeedsEndpoints = "default-host-needs-endpoints",
    /// host "*" (`_default`) needs a newer containerd.
    DefaultHostUnsupported = "default-host-unsupported",
    /// host "*" (`_default`) needs a later patch release of this containerd line.
    DefaultHostPatch = "default-host-patch",
    // --- doctor: config.toml ---
    /// config.toml does not exist.
    ConfigMissing = "config-missing",
    /// config.toml is not valid TOML.
    ConfigInvalidToml = "config-invalid-toml",
    /// config.toml has no `version` key (a version 1 file).
    ConfigVersion1 = "config-version-1",
    /// `config_path` is not set: hosts.toml files are not read.
    ConfigPathUnset = "config-path-unset",
    /// `config_path` is a `:`-separated list.
    ConfigPathList = "config-path-list",
    /// `config_path` is unset and this containerd's default is a list its CRI pulls do not split.
    ConfigPathDefaultList = "config-path-default-list",
    /// `config_path` names a directory that does not exist.
    ConfigPathMissingDir = "config-path-missing-dir",
    /// The registry table under a plugin this file's version does not read.
    RegistryUnderWrongPlugin = "registry-under-wrong-plugin",
    /// A `registry.mirrors` / `registry.configs` key written as a URL.
    RegistryKeyIsUrl = "registry-key-is-url",
    /// `registry.mirrors` (deprecated since containerd 1.5).
    MirrorsDeprecated = "mirrors-deprecated",
    /// `registry.mirrors` next to `config_path`: the CRI plugin does not load.
    MirrorsWithConfigPath = "mirrors-with-config-path",
    /// `registry.configs.*.tls` next to `config_path` on 1.x: the CRI plugin does not load.
    TlsWithConfigPath = "tls-with-config-path",
    /// `registry.configs.*.tls` on containerd 2.x: ignored.
    TlsIgnoredOn2x = "tls-ignored-on-2x",
    /// `insecure_skip_verify` taken for "use plain HTTP".
    SkipVerifyIsNotHttp = "skip-verify-is-not-http",
    /// A `configs.*.http` table: containerd has no such setting.
    NoSuchKeyHttp = "no-such-key-http",
    /// An imported drop-in is not valid TOML.
    ImportInvalidToml = "import-invalid-toml",
    /// An imported drop-in with a CRI table replaces the whole table on 1.x.
    ImportReplacesCriTable = "import-replaces-cri-table",
    // --- doctor: hosts.toml ---
    /// A hosts.toml that is not valid TOML (containerd ignores it silently).
    HostsInvalidToml = "hosts-invalid-toml",
    /// A hosts.toml without a `[host]` table (1.x rejects it).
    HostsNoHostTable = "hosts-no-host-table",
    /// A hosts.toml in a directory containerd does not read.
    HostsNotRead = "hosts-not-read",
    /// A `ca` or `client` file a hosts.toml names does not exist (or cannot be read) on the node.
    TlsFileMissing = "tls-file-missing",
    /// A host directory named after a URL.
    HostDirIsUrl = "host-dir-is-url",
    /// A `[host]` key without http:// or https://.
    HostWithoutScheme = "host-without-scheme",
    /// `server` (or a `[host]` key) that is not an http(s) URL of one host.
    ServerNotAUrl = "server-not-a-url",
    /// The `_default` directory needs a newer containerd.
    DefaultDirUnsupported = "default-dir-unsupported",
    // --- doctor: containers-image (Podman, CRI-O, Buildah, Skopeo) ---
    /// A registries.conf file (or drop-in) that is not valid TOML: containers-image refuses every pull.
    ContainersConfInvalid = "containers-conf-invalid",
    /// A registries.conf file mixing the v1 format (`[registries.*]`) with v2 settings: refused, every pull fails.
    ContainersConfMixed = "containers-conf-mixed",
    /// A registries.conf.d drop-in in the v1 format: refused, every pull fails.
    ContainersDropInV1 = "containers-drop-in-v1",
    /// registries.conf in the deprecated v1 format next to v2 drop-ins.
    ContainersConfV1 = "containers-conf-v1",
    /// A registry containerd reaches over plain HTTP without `insecure = true` for containers-image.
    ContainersHttpNotInsecure = "containers-http-not-insecure",
    /// A file or directory in /etc/containers/certs.d that containers-image does not read (a CA not named `*.crt`, a URL as directory name).
    ContainersCertIgnored = "containers-cert-ignored",
    /// A `*.key` without its `*.cert` (or the reverse) in /etc/containers/certs.d: every pull from that host fails.
    ContainersClientPairIncomplete = "containers-client-pair-incomplete",
    // --- doctor: probes and the running containerd ---
    /// An endpoint that does not answer (name, port or route), from where doctor runs.
    EndpointUnreachable = "endpoint-unreachable",
    /// An https:// endpoint whose server speaks only plain HTTP.
    HttpsToHttpRegistry = "https-to-http-registry",
    /// `skip_verify` for a registry that speaks only plain HTTP.
    SkipVerifyForHttpRegistry = "skip-verify-for-http-registry",
    /// The registry's certificate does not verify with the CAs containerd would use.
    TlsCertificateRejected = "tls-certificate-rejected",
    /// containerd runs, but its CRI plugin did not load.
    CriNotLoaded = "cri-not-loaded",
    // --- doctor: credentials ---
    /// A config.toml or hosts.toml holding registry credentials that group or others can read.
    CredentialsReadable = "credentials-readable",
    /// `registry.configs.*.auth` on containerd 2.x: deprecated, and CRI's local pull path.
    ConfigAuthDeprecated = "config-auth-deprecated",
    /// Credentials for a registry whose pulls go first to a mirror that gets none.
    CredentialsNotForMirror = "credentials-not-for-mirror",
    /// `--probe`: an endpoint asks for credentials and the node has none for it.
    CredentialsMissing = "credentials-missing",
    /// `--probe`: the registry (or its token service) refuses the node's credentials.
    CredentialsRejected = "credentials-rejected",
    /// `--probe`: a token registry with header credentials on containerd before 2.1.
    HeaderCannotDoToken = "header-cannot-do-token",
    // --- doctor: Docker Engine ---
    /// daemon.json is not a valid JSON object: dockerd refuses to start.
    DockerConfigInvalid = "docker-config-invalid",
    /// A plain-HTTP or `skip_verify` registry of the spec is not in `insecure-registries`.
    DockerInsecureMissing = "docker-insecure-missing",
    /// Endpoints (mirrors) for a registry other than docker.io: dockerd does not use them.
    DockerMirrorNotHub = "docker-mirror-not-hub",
    /// A certs.d directory named after a URL (`certs.d/https://host`): never read.
    DockerCertsDirIsUrl = "docker-certs-dir-is-url",
    /// A CA file in certs.d not named `*.crt` (`ca.pem`): ignored.
    DockerCaNotCrt = "docker-ca-not-crt",
    /// A client key without its certificate, or the reverse: every pull from that registry fails.
    DockerClientPairIncomplete = "docker-client-pair-incomplete",
    /// A hosts.toml in Docker's certs.d with the classic image store: ignored.
    DockerHostsTomlIgnored = "docker-hosts-toml-ignored",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A position in a source file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// The source line a diagnostic points at, with the marked part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// 1-based number of the line.
    pub line: usize,
    /// The line's text (without its line end).
    pub text: String,
    /// The marked bytes of `text`.
    pub span: Range<usize>,
}

impl Excerpt {
    /// The line of `source` holding the 1-based (line, column); marks from the column to the
    /// end of the line's content (the whole line when the column is past it).
    pub fn at(source: &str, line: usize, column: usize) -> Option<Excerpt> {
        let text = source.lines().nth(line.checked_sub(1)?)?.to_string();
        // A line that may hold a credential is never shown; the position still is.
        if crate::secret::line_may_hold_secret(&text) {
            return None;
        }
        let indent = text.len() - text.trim_start().len();
        if column == 0 {
            // Only the line is known: mark its content.
            let end = text.trim_end().len().max(indent);
            return Some(Excerpt {
                line,
                text,
                span: indent..end,
            });
        }
        let start = text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map(|(b, _)| b)
            .filter(|b| *b < text.trim_end().len())
            .unwrap_or(indent);
        // The token there: up to the next blank, without a key's `:`.
        let token = text[start..].split([' ', '\t']).next().unwrap_or("");
        let token = token
            .strip_suffix(':')
            .filter(|t| !t.is_empty())
            .unwrap_or(token);
        let end = if token.is_empty() {
            text.trim_end().len().max(start)
        } else {
            start + token.len()
        };
        Some(Excerpt {
            line,
            text,
            span: start..end,
        })
    }

    /// The first line of a byte range of `source`, marking the range's part of it.
    pub fn of_span(source: &str, span: Range<usize>) -> Option<Excerpt> {
        let start = span.start.min(source.len());
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let from = start - line_start;
        let to = (span.end.min(line_end) - line_start).clamp(from, text.len());
        let (from, to) = if from == to {
            (text.len() - text.trim_start().len(), text.trim_end().len())
        } else {
            (from, to)
        };
        Some(Excerpt {
            line: source[..line_start].matches('\n').count() + 1,
            text,
            span: from..to.max(from),
        })
    }
}

/// A secondary place ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
    #[serde(skip)]
    pub excerpt: Option<Excerpt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub file: String,
    pub pos: Option<Pos>,
    /// The offending source line.
    pub excerpt: Option<Excerpt>,
    pub labels: Vec<Label>,
    /// What containerd will actually do (doctor).
    pub effect: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        code: Code,
        file: &str,
        pos: Option<Pos>,
        message: String,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            message,
            file: file.to_string(),
            pos,
            excerpt: None,
            labels: Vec::new(),
            effect: None,
            help: None,
        }
    }

    pub fn error(code: Code, file: &str, pos: Option<Pos>, message: String) -> Self {
        Diagnostic::new(Severity::Error, code, file, pos, message)
    }

    pub fn warning(code: Code, file: &str, pos: Option<Pos>, message: String) -> Self {
        Diagnostic::new(Severity::Warning, code, file, pos, message)
    }

    /// A doctor finding: what is wrong (at a line of a node file, if known), what containerd will
    /// actually do about it, and the fix.
    pub fn found(
        severity: Severity,
        code: Code,
        file: impl AsRef<str>,
        line: Option<usize>,
        problem: String,
        effect: String,
        fix: String,
    ) -> Self {
        let pos = line.map(|l| Pos {
            line: l as u64,
            column: 0,
        });
        let mut d = Diagnostic::new(severity, code, file.as_ref(), pos, problem);
        d.effect = Some(effect);
        d.help = Some(fix);
        d
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_effect(mut self, effect: impl Into<String>) -> Self {
        self.effect = Some(effect.into());
        self
    }

    pub fn with_label(mut self, label: Label) -> Self {
        self.labels.push(label);
        self
    }

    /// Attaches the source line its position points at (and its labels' lines).
    pub fn with_source(mut self, source: &str) -> Self {
        if let Some(p) = self.pos.filter(|p| p.line > 0) {
            self.excerpt = Excerpt::at(source, p.line as usize, p.column as usize);
        }
        for l in &mut self.labels {
            if let (Some(line), true) = (l.line, l.file == self.file) {
                l.excerpt = Excerpt::at(source, line as usize, l.column.unwrap_or(1) as usize);
            }
        }
        self
    }

    /// Position and excerpt from a byte range of `source`.
    pub fn at_span(mut self, source: &str, span: Range<usize>) -> Self {
        self.excerpt = Excerpt::of_span(source, span);
        if let Some(e) = &self.excerpt {
            self.pos = Some(Pos {
                line: e.line as u64,
                column: e.text[..e.span.start].chars().count() as u64 + 1,
            });
            // A line that may hold a credential is never shown; the position still is.
            if crate::secret::line_may_hold_secret(&e.text) {
                self.excerpt = None;
            }
        }
        self
    }

    pub fn line(&self) -> Option<u64> {
        self.pos.map(|p| p.line).filter(|l| *l > 0)
    }

    /// The text form: the title, the file and position, the offending line with a marker, the
    /// secondary places, what containerd does, and the fix.
    pub fn render(&self) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let path = self.file.as_str();
        let mut group = Group::with_title(
            level
                .primary_title(self.message.as_str())
                .id(self.code.as_str()),
        );
        match &self.excerpt {
            Some(e) => {
                group = group.element(
                    Snippet::source(e.text.as_str())
                        .line_start(e.line)
                        .path(path)
                        .annotation(AnnotationKind::Primary.span(e.span.clone())),
                );
            }
            None => {
                let mut origin = Origin::path(path);
                if let Some(p) = self.pos.filter(|p| p.line > 0) {
                    origin = origin.line(p.line as usize);
                    if p.column > 0 {
                        origin = origin.char_column(p.column as usize);
                    }
                }
                group = group.element(origin);
            }
        }
        let label_texts: Vec<String> = self
            .labels
            .iter()
            .map(|l| match (&l.excerpt, l.line) {
                (Some(_), _) => String::new(),
                (None, Some(line)) => format!("{}:{line}: {}", l.file, l.message),
                (None, None) => format!("{}: {}", l.file, l.message),
            })
            .collect();
        for (l, text) in self.labels.iter().zip(&label_texts) {
            match &l.excerpt {
                Some(e) => {
                    group = group.element(
                        Snippet::source(e.text.as_str())
                            .line_start(e.line)
                            .path(l.file.as_str())
                            .annotation(
                                AnnotationKind::Context
                                    .span(e.span.clone())
                                    .label(l.message.as_str()),
                            ),
                    );
                }
                None => group = group.element(Level::NOTE.message(text.as_str())),
            }
        }
        // Who does what the finding says: containerd, or containers-image's runtimes.
        let who = if self.code.as_str().starts_with("containers-") {
            "Podman, CRI-O, Buildah, Skopeo"
        } else {
            "containerd"
        };
        let effect = self.effect.as_ref().map(|e| format!("{who}: {e}"));
        if let Some(e) = &effect {
            group = group.element(Level::NOTE.message(e.as_str()));
        }
        if let Some(h) = &self.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        Renderer::plain().render(&[group])
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// The JSON form (`--format json`): code, severity, message, file, line, column, and the rest
/// when present.
impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Diagnostic", 9)?;
        st.serialize_field("code", &self.code)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("message", &self.message)?;
        st.serialize_field("file", &self.file)?;
        st.serialize_field("line", &self.line())?;
        let column = self
            .pos
            .filter(|p| p.line > 0 && p.column > 0)
            .map(|p| p.column);
        st.serialize_field("column", &column)?;
        st.serialize_field("effect", &self.effect)?;
        st.serialize_field("help", &self.help)?;
        st.serialize_field("labels", &self.labels)?;
        st.end()
    }
}

/// 1-based (line, column) of a byte offset in a text; the column counts characters.
pub fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Everything that went wrong, reported at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// Attaches the source lines of `source` to every diagnostic of `file`.
    pub fn with_source(self, file: &str, source: &str) -> Diagnostics {
        Diagnostics(
            self.0
                .into_iter()
                .map(|d| {
                    if d.file == file {
                        d.with_source(source)
                    } else {
                        d
                    }
                })
                .collect(),
        )
    }

    /// One JSON array of the diagnostics.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.0).expect("diagnostics serialise")
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            // A blank line after each, as compilers do.
            writeln!(f, "{d}\n")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_kebab_case_unique_and_described() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{s}"
            );
            assert!(seen.insert(s), "{s} twice");
            assert!(!c.description().is_empty(), "{s}");
        }
    }

    #[test]
    fn docs_list_every_code() {
        let doc = include_str!("../docs/diagnostics.md");
        for c in Code::ALL {
            assert!(
                doc.contains(&format!("| `{}` |", c.as_str())),
                "docs/diagnostics.md lacks {c}"
            );
        }
    }

    #[test]
    fn renders_the_offending_line_with_a_marker() {
        let src = "registries:\n  - host: reg:5000/library\n";
        let d = Diagnostic::error(
            Code::BadHost,
            "spec.yaml",
            Some(Pos {
                line: 2,
                column: 11,
            }),
            "a host cannot carry a path".into(),
        )
        .with_help("write the path in the image reference")
        .with_source(src);
        let text = d.render();
        assert!(
            text.starts_with("error[bad-host]: a host cannot carry a path"),
            "{text}"
        );
        assert!(text.contains("--> spec.yaml:2:11"), "{text}");
        assert!(text.contains("2 |   - host: reg:5000/library"), "{text}");
        assert!(text.contains("          ^^^^^^^^^^^^^^^^"), "{text}");
        assert!(text.contains("= help: write the path"), "{text}");
    }

    #[test]
    fn excerpts_of_spans_mark_the_span() {
        let src = "a = 1\nconfig_path = \"x\"\n";
        let start = src.find("\"x\"").unwrap();
        let e = Excerpt::of_span(src, start..start + 3).unwrap();
        assert_eq!(e.line, 2);
        assert_eq!(&e.text[e.span.clone()], "\"x\"");
    }
}
