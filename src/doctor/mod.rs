//! `regtrust doctor`: reads a node's config.toml (and its imports) and every hosts.toml under
//! config_path, and reports each problem with file, line, what containerd will actually do, and
//! the fix. Never writes.
pub mod auth_probe;
pub mod config_checks;
pub mod containers_checks;
pub mod credentials;
pub mod docker_checks;
pub mod hosts_checks;
pub mod probe;
pub mod resolve;

use crate::diag::Code;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::containerd::Version;

/// One problem: where, what containerd does about it, and how to fix it (the one diagnostic type).
pub type Finding = crate::diag::Diagnostic;
pub type Level = crate::diag::Severity;

#[derive(Debug, Serialize)]
pub struct Report {
    pub containerd: String,
    pub version_source: String,
    pub config_file: String,
    /// The directories containerd's CRI pulls actually read hosts.toml from.
    pub hosts_dirs: Vec<String>,
    /// The file whose `config_path` takes effect (config.toml, or an imported drop-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path_file: Option<String>,
    pub findings: Vec<Finding>,
    pub images: Vec<resolve::Resolution>,
    pub probes: Vec<probe::ProbeResult>,
    /// Docker Engine, when it is installed under the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker: Option<docker_checks::DockerSummary>,
}

pub struct Options {
    pub root: PathBuf,
    pub config_file: String,
    pub containerd: Option<Version>,
    pub images: Vec<String>,
    pub probe: bool,
    /// containerd's socket for the CRI check (default: <root>/run/containerd/containerd.sock).
    pub address: Option<String>,
    /// `--spec`: the spec Docker's daemon.json is checked against, and its file name.
    pub spec: Option<(crate::spec::ValidSpec, String)>,
}

/// Byte offset → 1-based line.
pub fn line_of(text: &str, offset: usize) -> usize {
    crate::diag::line_col(text, offset).0
}

pub fn run(opts: &Options) -> Result<Report, String> {
    let cfg_path = crate::root::resolve(&opts.root, &opts.config_file)
        .map_err(|e| format!("cannot read {}: {e}", opts.config_file))?;
    let text = match std::fs::read(&cfg_path) {
        Ok(b) => {
            Some(String::from_utf8(b).map_err(|_| format!("{}: not UTF-8", opts.config_file))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", cfg_path.display())),
    };
    let spec = opts.spec.as_ref().map(|(s, f)| (s, f.as_str()));
    let (version, version_source) = match detect_version(opts, text.as_deref()) {
        Ok(v) => v,
        // No containerd at all (no config.toml, no version anywhere) on a node that has Docker
        // Engine, or Podman, CRI-O, Buildah or Skopeo: only their configuration is checked.
        Err(_)
            if text.is_none()
                && opts.containerd.is_none()
                && (crate::docker::installed(&opts.root).is_some()
                    || crate::containers_image::installed(&opts.root).is_some()) =>
        {
            return Ok(without_containerd(opts, spec));
        }
        Err(e) => return Err(e),
    };
    let mut findings = Vec::new();
    let cfg = config_checks::check(
        &opts.root,
        &opts.config_file,
        text.as_deref(),
        version,
        &mut findings,
    );
    if !cfg.auth.is_empty() {
        credentials::readable(&opts.root, &opts.config_file, &mut findings);
    }
    let hosts = hosts_checks::check(&opts.root, &cfg, version, &mut findings);
    credentials::upstream_only(&opts.config_file, &cfg, &hosts, &mut findings);
    containers_checks::check(&opts.root, &hosts, &mut findings);
    let images: Vec<resolve::Resolution> = opts
        .images
        .iter()
        .map(|r| resolve::resolve(r, &cfg, &hosts, version))
        .collect();
    let mut probes = Vec::new();
    if opts.probe {
        // Every endpoint containerd would use for an --image too, hosts.toml or not.
        let mut probed = hosts_checks::HostsInfo {
            dirs: hosts.dirs.clone(),
        };
        let known: Vec<String> = hosts
            .dirs
            .iter()
            .flat_map(|d| d.entries.iter().flatten().map(|e| e.url.clone()))
            .collect();
        for r in &images {
            let entries: Vec<_> = r
                .endpoints
                .iter()
                .filter(|e| !known.contains(&e.url))
                .cloned()
                .collect();
            if !entries.is_empty() {
                probed.dirs.push(hosts_checks::HostDir {
                    name: r.host.clone(),
                    file: format!("(image {}: {})", r.image, r.via),
                    entries: Some(entries),
                });
            }
        }
        probes = probe::probe_all(&opts.root, &cfg, &probed, version, &mut findings);
        let socket = match &opts.address {
            Some(a) => PathBuf::from(a),
            None => crate::root::resolve(&opts.root, "/run/containerd/containerd.sock")
                .map_err(|e| format!("cannot reach containerd's socket: {e}"))?,
        };
        let cri = probe::cri_status(&socket);
        if cri.is_none() {
            // Said, not skipped silently.
            probes.push(probe::ProbeResult {
                endpoint: format!("containerd at {}", socket.display()),
                speaks: probe::Speaks::Unknown,
                verdict: "CRI check skipped: no containerd socket there (containerd not running, \
                          or pass --address)"
                    .into(),
            });
        }
        if let Some(p) = cri {
            if p.verdict.starts_with("CRI plugin:") && !p.verdict.ends_with(": ok") {
                findings.push(Finding::found(Level::Error, Code::CriNotLoaded, opts.config_file.clone(), None, format!("containerd is running but its CRI plugin is not loaded ({})", p.verdict), "every CRI call fails (`unknown service runtime.v1.ImageService`): kubelet sees no runtime".into(), "fix the config errors above (often mirrors or configs.*.tls next to config_path), then restart containerd".into()));
            }
            probes.push(p);
        }
        for f in findings.iter_mut().filter(|f| f.file == "config.toml") {
            f.file = opts.config_file.clone();
        }
    }
    let docker = docker_checks::check(&opts.root, spec, &mut findings);
    findings.sort_by(|a, b| (&a.file, a.line()).cmp(&(&b.file, b.line())));
    Ok(Report {
        containerd: version.to_string(),
        version_source,
        config_file: opts.config_file.clone(),
        hosts_dirs: cfg.effective_dirs.clone(),
        config_path_file: cfg.config_path_file.clone(),
        findings,
        images,
        probes,
        docker,
    })
}

/// The report of a node without containerd (no binary, no config.toml, no --containerd): the
/// other runtimes' checks only (Docker Engine; Podman, CRI-O, Buildah, Skopeo).
fn without_containerd(opts: &Options, spec: Option<(&crate::spec::ValidSpec, &str)>) -> Report {
    let mut findings = Vec::new();
    containers_checks::check(
        &opts.root,
        &hosts_checks::HostsInfo::default(),
        &mut findings,
    );
    let docker = docker_checks::check(&opts.root, spec, &mut findings);
    findings.sort_by(|a, b| (&a.file, a.line()).cmp(&(&b.file, b.line())));
    Report {
        containerd: "none".into(),
        version_source: "not installed under the root, no config.toml: only the configuration \
                         of Docker Engine and of Podman, CRI-O, Buildah and Skopeo is checked"
            .into(),
        config_file: opts.config_file.clone(),
        hosts_dirs: Vec::new(),
        config_path_file: None,
        findings,
        images: Vec::new(),
        probes: Vec::new(),
        docker,
    }
}

fn detect_version(opts: &Options, text: Option<&str>) -> Result<(Version, String), String> {
    if let Some(v) = opts.containerd {
        return Ok((v, "--containerd".into()));
    }
    crate::containerd::resolve::decide(crate::containerd::resolve::Inputs {
        flag: None,
        spec: None,
        root: Some(&opts.root),
        config_text: text,
    })?
    .ok_or_else(|| "cannot tell the containerd version: pass --containerd".to_string())
}

impl Report {
    pub fn has_problems(&self) -> bool {
        !self.findings.is_empty()
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "containerd {} ({})",
            self.containerd, self.version_source
        );
        let dirs = if self.hosts_dirs.is_empty() {
            "none: hosts.toml files are not read".to_string()
        } else {
            self.hosts_dirs.join(", ")
        };
        let from = match &self.config_path_file {
            Some(f) if !self.hosts_dirs.is_empty() => format!(" (config_path set in {f})"),
            _ => String::new(),
        };
        if self.containerd != "none" {
            let _ = writeln!(s, "hosts.toml read from: {dirs}{from}");
        }
        if let Some(d) = &self.docker {
            let _ = writeln!(
                s,
                "docker: {}, {} image store: dockerd reads {}",
                d.daemon_json, d.image_store, d.reads
            );
        }
        for f in &self.findings {
            s.push('\n');
            s.push_str(&f.render());
            s.push('\n');
        }
        for r in &self.images {
            s.push('\n');
            s.push_str(&r.to_text());
        }
        for p in &self.probes {
            let _ = writeln!(s, "\nprobe {}: {}", p.endpoint, p.verdict);
        }
        let errors = self.findings.iter().filter(|f| f.is_error()).count();
        let warnings = self.findings.len() - errors;
        let _ = writeln!(
            s,
            "\n{}",
            if self.findings.is_empty() {
                "no problems found".to_string()
            } else {
                format!("{errors} error(s), {warnings} warning(s)")
            }
        );
        s
    }
}
