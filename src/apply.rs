//! `apply`: brings a node (or an image root) in line with the spec. First everything is computed
//! (the config patch, the plan, the changes); only then is anything written, as one transaction.
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::containerd::layout::MANAGED_MARK;
use crate::containerd::{Version, resolve};
use crate::docker::{self, daemon_json};
use crate::emit::config_patch::{self, PatchRequest, Patched};
use crate::fs::{self, Transaction};
use crate::plan::DockerPlan;
use crate::plan::{Action, FileKind, Plan};
use crate::root::InRoot;
use crate::spec::{Runtime, ValidSpec};

pub struct NodeOptions {
    pub root: PathBuf,
    /// config.toml as a node path.
    pub config_file: String,
    /// `--containerd`.
    pub containerd: Option<Version>,
    /// `--runtime` (None: the spec's `runtimes`, else what is installed under the root).
    pub runtimes: Option<Vec<Runtime>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Write {
        node_path: String,
        path: PathBuf,
        mode: u32,
        content: String,
        old: Option<String>,
        kind: FileKind,
    },
    Remove {
        node_path: String,
        path: PathBuf,
        old: String,
    },
}

#[derive(Debug)]
pub struct Prepared {
    /// The root the node paths are under (`/` for this machine).
    pub root: PathBuf,
    /// The runtimes configured, and how they were chosen (said in the report).
    pub runtimes: Vec<Runtime>,
    pub runtimes_source: String,
    /// containerd's part (None when containerd is not among the runtimes).
    pub containerd: Option<ContainerdPart>,
    /// Docker Engine's part (None when docker is not among the runtimes).
    pub docker: Option<DockerPart>,
    /// Every write and removal of every runtime: one transaction.
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct DockerPart {
    pub plan: DockerPlan,
    /// daemon.json as a node path, and where it is under the root.
    pub daemon_json_node_path: String,
    pub daemon_json_path: PathBuf,
    pub daemon_json_existed: bool,
    /// daemon.json changes: dockerd must reload it.
    pub daemon_json_changed: bool,
}

#[derive(Debug)]
pub struct ContainerdPart {
    pub plan: Plan,
    pub version: Version,
    pub version_source: String,
    pub config: Patched,
    pub config_node_path: String,
    pub config_path: PathBuf,
    pub config_existed: bool,
}

#[derive(Debug)]
pub enum NodeError {
    NoVersion,
    Io(String),
    Config(String),
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::NoVersion => f.write_str(
                "cannot tell the containerd version: pass --containerd (1.6 … 2.3), set \
                 containerd.version in the spec (regtrust reads the installed version from the package \
                 database or the containerd binary's embedded build information, never runs it)",
            ),
            NodeError::Io(m) | NodeError::Config(m) => f.write_str(m),
        }
    }
}

/// Decides the containerd version: --containerd, the spec, the installed binary, the file.
fn resolve_version(
    opts: &NodeOptions,
    spec: &ValidSpec,
    existing: Option<&str>,
) -> Result<(Version, String), NodeError> {
    resolve::decide(resolve::Inputs {
        flag: opts.containerd,
        spec: spec.containerd,
        root: Some(&opts.root),
        config_text: existing,
    })
    .map_err(NodeError::Io)?
    .ok_or(NodeError::NoVersion)
}

pub fn prepare(spec: &ValidSpec, opts: &NodeOptions) -> Result<Prepared, NodeError> {
    // Every path is resolved inside the root: a symlink never leads out of it.
    // A root that does not exist is a typo, not a new tree to create.
    if !opts.root.is_dir() {
        return Err(NodeError::Io(format!(
            "--root {}: no such directory",
            opts.root.display()
        )));
    }
    let (runtimes, runtimes_source) = decide_runtimes(spec, opts);
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let containerd = if runtimes.contains(&Runtime::Containerd) {
        let (part, c, n) = prepare_containerd(spec, opts)?;
        changes.extend(c);
        notes.extend(n);
        Some(part)
    } else {
        None
    };
    let docker = if runtimes.contains(&Runtime::Docker) {
        let (part, c, n) = prepare_docker(spec, opts)?;
        changes.extend(c);
        notes.extend(n);
        Some(part)
    } else {
        None
    };
    Ok(Prepared {
        root: opts.root.clone(),
        runtimes,
        runtimes_source,
        containerd,
        docker,
        changes,
        notes,
    })
}

/// The runtimes to configure: `--runtime`, the spec's `runtimes`, or what the root shows is
/// installed (containerd when it shows nothing, as before there was a choice).
fn decide_runtimes(spec: &ValidSpec, opts: &NodeOptions) -> (Vec<Runtime>, String) {
    if let Some(r) = &opts.runtimes {
        return (r.clone(), "--runtime".to_string());
    }
    if let Some(r) = &spec.runtimes {
        return (r.clone(), "the spec's runtimes".to_string());
    }
    let mut found = Vec::new();
    let mut evidence = Vec::new();
    let containerd = crate::containerd::installed::BINARIES
        .iter()
        .copied()
        .chain(["/etc/containerd"])
        .find(|p| opts.root.join(p.trim_start_matches('/')).exists());
    if let Some(p) = containerd {
        found.push(Runtime::Containerd);
        evidence.push(format!("containerd ({p})"));
    } else if opts.containerd.is_some() || spec.containerd.is_some() {
        found.push(Runtime::Containerd);
        evidence.push("containerd (its version is given)".to_string());
    }
    if let Some(p) = docker::installed(&opts.root) {
        found.push(Runtime::Docker);
        evidence.push(format!("docker ({p})"));
    }
    if found.is_empty() {
        return (
            vec![Runtime::Containerd],
            "found no runtime under the root: containerd (pass --runtime to choose)".to_string(),
        );
    }
    (found, format!("found {}", evidence.join(", ")))
}

/// Docker Engine's part: daemon.json edited in place (a `.bak` on its first change), the
/// certs.d files written as planned.
fn prepare_docker(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(DockerPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| {
        in_root
            .path(node_path)
            .map_err(|e| NodeError::Io(format!("{node_path}: {e}")))
    };
    let plan = DockerPlan::build(spec);
    let mut notes = plan.notes.clone();
    let mut changes = Vec::new();
    let path = resolve(docker::DAEMON_JSON)?;
    if path.is_dir() {
        return Err(NodeError::Io(format!(
            "{} is a directory, not a file",
            docker::DAEMON_JSON
        )));
    }
    let existing = fs::read_optional(&path)
        .map_err(|e| NodeError::Io(format!("cannot read {}: {e}", docker::DAEMON_JSON)))?;
    let node_path = path.strip_prefix(&opts.root).map_or_else(
        |_| docker::DAEMON_JSON.to_string(),
        |r| format!("/{}", r.display()),
    );
    let edited = daemon_json::edit(
        existing.as_deref(),
        &plan.insecure_registries,
        &plan.registry_mirrors,
    )
    .map_err(|e| NodeError::Config(format!("{node_path}: {e}")))?;
    for f in &plan.files {
        let p = resolve(&f.path)?;
        if p.is_dir() {
            return Err(NodeError::Io(format!(
                "{} is a directory, where regtrust must write a file",
                f.path
            )));
        }
        let old = fs::read_optional(&p).unwrap_or(None);
        if old.as_deref() == Some(f.content.as_str()) && fs::mode_of(&p) == Some(f.mode) {
            continue;
        }
        changes.push(Change::Write {
            node_path: f.path.clone(),
            path: p,
            mode: f.mode,
            content: f.content.clone(),
            old,
            kind: f.kind,
        });
    }
    for (key, value) in &edited.added {
        notes.push(format!("docker: {node_path}: {key} gains {value}"));
    }
    let changed = edited.text.is_some();
    if let Some(text) = edited.text {
        changes.push(Change::Write {
            node_path: node_path.clone(),
            path: path.clone(),
            mode: fs::mode_of(&path).unwrap_or(0o644),
            content: text,
            old: existing.clone(),
            kind: FileKind::DaemonJson,
        });
    }
    Ok((
        DockerPart {
            plan,
            daemon_json_node_path: node_path,
            daemon_json_path: path,
            daemon_json_existed: existing.is_some(),
            daemon_json_changed: changed,
        },
        changes,
        notes,
    ))
}

/// containerd's part: config.toml patched, hosts.toml files and their certificates written.
fn prepare_containerd(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(ContainerdPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| {
        in_root
            .path(node_path)
            .map_err(|e| NodeError::Io(format!("{node_path}: {e}")))
    };
    let config_path = resolve(&opts.config_file)?;
    if config_path.is_dir() {
        return Err(NodeError::Io(format!(
            "{} is a directory, not a file",
            config_path.display()
        )));
    }
    let existing = fs::read_optional(&config_path)
        .map_err(|e| NodeError::Io(format!("cannot read {}: {e}", config_path.display())))?;
    let (version, version_source) = resolve_version(opts, spec, existing.as_deref())?;
    let covered: BTreeSet<String> = spec.registries.iter().map(|r| r.dir_name.clone()).collect();
    let config = config_patch::patch(&PatchRequest {
        existing: existing.as_deref(),
        containerd: version,
        config_path: spec.config_path.as_deref(),
        covered_dirs: &covered,
    })
    .map_err(|e| NodeError::Config(format!("{}: {e}", config_path.display())))?;
    let mut plan = Plan::build(spec, &config.migrated, &config.config_path, Some(version));
    let mut notes = config.notes.clone();
    // The drop-ins config.toml imports: config_path must take effect through them too.
    let drop_in_changes = drop_in_edits(
        &in_root,
        existing.as_deref(),
        &opts.config_file,
        &version,
        &config.config_path,
        &mut notes,
    )?;
    if config.changed || !drop_in_changes.is_empty() {
        plan.actions.push(Action::RestartContainerd);
    }
    refuse_url_directories(&in_root, &plan.config_path)?;
    notes.extend(missing_tls_files(&in_root, &plan));
    let mut changes = Vec::new();
    let mut planned: BTreeSet<PathBuf> = BTreeSet::new();
    let managed: BTreeSet<String> = plan
        .managed_dirs
        .iter()
        .map(|d| format!("{}/{d}/hosts.toml", plan.config_path))
        .collect();
    for f in &plan.files {
        let path = resolve(&f.path)?;
        if path.is_dir() {
            return Err(NodeError::Io(format!(
                "{} is a directory, where regtrust must write a file",
                f.path
            )));
        }
        planned.insert(path.clone());
        let old = fs::read_optional(&path).unwrap_or(None);
        let migrated_dir = f.kind == FileKind::HostsToml && !managed.contains(&f.path);
        if migrated_dir && old.is_some() {
            notes.push(format!(
                "kept the existing {}; the legacy settings were:\n{}",
                f.path,
                crate::secret::redact(&f.content)
            ));
            continue;
        }
        if old.as_deref() == Some(f.content.as_str()) && fs::mode_of(&path) == Some(f.mode) {
            continue;
        }
        if f.kind == FileKind::HostsToml
            && let Some(theirs) = old.as_deref().filter(|o| !o.starts_with(MANAGED_MARK))
        {
            // A user's own file is kept beside it (once: the first original stays).
            let backup = format!("{}.bak", f.path);
            let backup_path = resolve(&backup)?;
            if backup_path.exists() {
                notes.push(format!(
                    "replaced {}, which regtrust did not write ({backup} already holds an \
                     earlier original)",
                    f.path
                ));
            } else {
                notes.push(format!(
                    "replaced {}, which regtrust did not write; the original is kept as {backup}",
                    f.path
                ));
                changes.push(Change::Write {
                    node_path: backup,
                    path: backup_path,
                    mode: fs::mode_of(&path).unwrap_or(f.mode),
                    content: theirs.to_string(),
                    old: None,
                    kind: FileKind::HostsToml,
                });
            }
        }
        changes.push(Change::Write {
            node_path: f.path.clone(),
            path,
            mode: f.mode,
            content: f.content.clone(),
            old,
            kind: f.kind,
        });
    }
    if let Some(old) = &config.moved_from {
        let (carried, carry_notes) = carried_hosts(&in_root, old, &plan, &planned)?;
        changes.extend(carried);
        notes.extend(carry_notes);
    }
    changes.extend(drop_in_changes);
    changes.extend(stale_files(&in_root, &plan, &planned)?);
    changes.extend(leftover_temp_files(&in_root, &plan, &config_path)?);
    // The file really edited (a symlinked config.toml is edited where it points, inside the
    // root), as a node path: what the report and the backup name.
    let config_node_path = config_path.strip_prefix(&opts.root).map_or_else(
        |_| opts.config_file.clone(),
        |r| format!("/{}", r.display()),
    );
    if config_node_path != opts.config_file {
        notes.push(format!(
            "{} is a symlink: editing {config_node_path}, where it points",
            opts.config_file
        ));
    }
    if config.changed {
        changes.push(Change::Write {
            node_path: config_node_path.clone(),
            path: config_path.clone(),
            mode: fs::mode_of(&config_path).unwrap_or(0o644),
            content: config.text.clone(),
            old: existing.clone(),
            kind: FileKind::HostsToml,
        });
    }
    Ok((
        ContainerdPart {
            plan,
            version,
            version_source,
            config_existed: existing.is_some(),
            config,
            config_node_path,
            config_path,
        },
        changes,
        notes,
    ))
}

/// CA and client files the hosts.toml files name but the spec does not provide (node paths):
/// a warning for each one that is not a readable file under the root — containerd would fail
/// every pull through that host with `unable to read CA cert`.
fn missing_tls_files(in_root: &InRoot, plan: &Plan) -> Vec<String> {
    let planned: BTreeSet<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    let mut out = Vec::new();
    for h in &plan.hosts {
        for e in std::iter::once(&h.root).chain(h.hosts.iter().map(|(_, e)| e)) {
            let client = e
                .client
                .iter()
                .flat_map(|(c, k)| std::iter::once(c).chain(k));
            for path in e.ca.iter().chain(client) {
                if planned.contains(path.as_str()) {
                    continue;
                }
                let readable = in_root.path(path).is_ok_and(|p| fs::is_readable_file(&p));
                let warning = format!(
                    "warning: {path} (named for {}) does not exist or cannot be read on the node: \
                     pulls through it fail until it is there",
                    h.host
                );
                if !readable && !out.contains(&warning) {
                    out.push(warning);
                }
            }
        }
    }
    out
}

/// A host directory named after a URL (`certs.d/http:/<host>/hosts.toml`, from
/// `mkdir -p certs.d/http://host`) is never read by containerd; it is the user's attempt at a
/// host regtrust cannot tell the intent of, so apply stops and says what to do rather than leave
/// a node that doctor reports broken.
fn refuse_url_directories(in_root: &InRoot, config_path: &str) -> Result<(), NodeError> {
    for scheme in ["http:", "https:"] {
        let node_path = format!("{config_path}/{scheme}");
        let path = in_root
            .path(&node_path)
            .map_err(|e| NodeError::Io(format!("{node_path}: {e}")))?;
        if !path.is_dir() {
            continue;
        }
        let mut hosts: Vec<String> = std::fs::read_dir(&path)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        hosts.sort();
        let example = hosts.first().map_or("<host>".to_string(), Clone::clone);
        return Err(NodeError::Config(format!(
            "{node_path}: a directory named after a URL ({node_path}/{example}/hosts.toml, from \
             `{scheme}//{example}` used as a path) is never read by containerd: move each host \
             directory in it to {config_path}/<host> (or name the host in the spec), remove \
             {node_path}, then run regtrust apply"
        )));
    }
    Ok(())
}

/// The edits the imported drop-ins need (see `containerd::imports::edit`), each with a backup
/// `<file>.bak` on its first change — unless an import pattern would read that name too.
fn drop_in_edits(
    in_root: &InRoot,
    main_text: Option<&str>,
    main_node_path: &str,
    version: &Version,
    config_path: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<Change>, NodeError> {
    use crate::containerd::imports;
    let Some(main_text) = main_text else {
        return Ok(Vec::new());
    };
    let drop_ins =
        imports::read(in_root.root(), main_text, main_node_path).map_err(NodeError::Io)?;
    let patterns = imports::patterns(main_text, main_node_path);
    let mut out = Vec::new();
    for d in drop_ins {
        let Some(e) = imports::edit(&d, version, config_path)
            .map_err(|e| NodeError::Config(e.to_string()))?
        else {
            continue;
        };
        let path = in_root
            .path(&d.node_path)
            .map_err(|e| NodeError::Io(format!("{}: {e}", d.node_path)))?;
        let backup = format!("{}.bak", d.node_path);
        let read_as_import = patterns.iter().any(|p| {
            let (dir, pat) = p.rsplit_once('/').unwrap_or(("", p));
            backup
                .rsplit_once('/')
                .is_some_and(|(bd, name)| bd == dir && imports::matches(pat, name))
        });
        if read_as_import {
            return Err(NodeError::Config(format!(
                "{}: {}; but its backup {backup} would be imported too (an import pattern \
                 matches it): make the pattern `*.toml`, then run regtrust apply",
                d.node_path, e.note
            )));
        }
        let backup_path = in_root
            .path(&backup)
            .map_err(|e| NodeError::Io(format!("{backup}: {e}")))?;
        let mode = fs::mode_of(&path).unwrap_or(0o644);
        if !backup_path.exists() {
            out.push(Change::Write {
                node_path: backup.clone(),
                path: backup_path,
                mode,
                content: d.text.clone(),
                old: None,
                kind: FileKind::HostsToml,
            });
        }
        notes.push(format!("{} (backup: {backup})", e.note));
        out.push(Change::Write {
            node_path: d.node_path,
            path,
            mode,
            content: e.text,
            old: Some(d.text),
            kind: FileKind::HostsToml,
        });
    }
    Ok(out)
}

/// config_path moved from `old` (a directory, or a `:`-list) to the plan's directory: every host
/// directory there that the new directory does not have and the plan does not write is copied
/// over (its regular files, modes kept), so a pull that worked before keeps working. The old
/// directories are left as they are. Directories regtrust wrote itself are not carried: the spec
/// decides about those. The boot script does the same (`carry_hosts`).
fn carried_hosts(
    in_root: &InRoot,
    old: &str,
    plan: &Plan,
    planned: &BTreeSet<PathBuf>,
) -> Result<(Vec<Change>, Vec<String>), NodeError> {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let resolve = |node_path: &str| {
        in_root
            .path(node_path)
            .map_err(|e| NodeError::Io(format!("{node_path}: {e}")))
    };
    let mut seen = BTreeSet::new();
    for dir in old.split(':').map(|d| d.trim_end_matches('/')) {
        if dir.is_empty() || dir == plan.config_path || !seen.insert(dir) {
            continue;
        }
        if !dir.starts_with('/') {
            notes.push(format!(
                "config_path held the relative directory \"{dir}\": hosts under it were not \
                 carried (containerd resolves it against its working directory)"
            ));
            continue;
        }
        let Ok(entries) = std::fs::read_dir(resolve(dir)?) else {
            continue;
        };
        let mut hosts: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        hosts.sort();
        for host in hosts {
            let src_node = format!("{dir}/{host}");
            let dest_node = format!("{}/{host}", plan.config_path);
            let dest = resolve(&dest_node)?;
            if dest.exists() || planned.iter().any(|p| p.starts_with(&dest)) {
                continue;
            }
            let src = resolve(&src_node)?;
            let hosts_toml = src.join("hosts.toml");
            if is_regular_file(&hosts_toml)
                && std::fs::read_to_string(&hosts_toml).is_ok_and(|t| t.starts_with(MANAGED_MARK))
            {
                continue;
            }
            let Ok(files) = std::fs::read_dir(&src) else {
                continue;
            };
            let mut files: Vec<_> = files
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            files.sort();
            let mut carried = 0;
            for name in files {
                let from = src.join(&name);
                let Ok(Some(content)) = fs::read_optional(&from) else {
                    notes.push(format!(
                        "{src_node}/{name} is not UTF-8 text: not carried; copy it to {dest_node}/"
                    ));
                    continue;
                };
                let mode = fs::mode_of(&from).unwrap_or(0o644);
                let kind = match name.as_str() {
                    "hosts.toml" => FileKind::HostsToml,
                    _ if name.ends_with(".key") || mode & 0o077 == 0 => FileKind::PrivateKey,
                    _ => FileKind::Certificate,
                };
                changes.push(Change::Write {
                    node_path: format!("{dest_node}/{name}"),
                    path: dest.join(&name),
                    mode,
                    content,
                    old: None,
                    kind,
                });
                carried += 1;
            }
            if carried > 0 {
                notes.push(format!(
                    "carried {src_node} into {dest_node}: config_path moved, and pulls through \
                     {host} worked from there"
                ));
            }
        }
    }
    Ok((changes, notes))
}

/// Files regtrust wrote earlier that the plan no longer has: only in directories it manages.
/// Only real directories and regular files count: nothing is removed through a symlink.
fn stale_files(
    in_root: &InRoot,
    plan: &Plan,
    planned: &BTreeSet<PathBuf>,
) -> Result<Vec<Change>, NodeError> {
    let base = in_root
        .path(&plan.config_path)
        .map_err(|e| NodeError::Io(format!("{}: {e}", plan.config_path)))?;
    let Ok(dirs) = std::fs::read_dir(&base) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut dirs: Vec<_> = dirs
        .flatten()
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
        .collect();
    dirs.sort_by_key(|d| d.file_name());
    for d in dirs {
        let hosts = d.path().join("hosts.toml");
        let managed = is_regular_file(&hosts)
            && std::fs::read_to_string(&hosts).is_ok_and(|t| t.starts_with(MANAGED_MARK));
        if !managed {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(d.path()) else {
            continue;
        };
        let mut files: Vec<_> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if planned.contains(&f) || !is_regtrust_file_name(&name) {
                continue;
            }
            let node_path = format!(
                "{}/{}/{name}",
                plan.config_path,
                d.file_name().to_string_lossy()
            );
            let old = std::fs::read_to_string(&f).unwrap_or_default();
            out.push(Change::Remove {
                node_path,
                path: f,
                old,
            });
        }
    }
    Ok(out)
}

fn is_regular_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

/// Temp files an interrupted earlier run (or boot script) left behind: in the config directory,
/// config_path and the spec's host directories.
fn leftover_temp_files(
    in_root: &InRoot,
    plan: &Plan,
    config_file: &Path,
) -> Result<Vec<Change>, NodeError> {
    let base = in_root
        .path(&plan.config_path)
        .map_err(|e| NodeError::Io(format!("{}: {e}", plan.config_path)))?;
    let mut dirs: Vec<PathBuf> = vec![base.clone()];
    dirs.extend(config_file.parent().map(Path::to_path_buf));
    dirs.extend(plan.hosts.iter().map(|h| base.join(&h.dir_name)));
    let mut out = Vec::new();
    for d in dirs {
        if !std::fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') && n.ends_with(fs::TEMP_SUFFIX))
            })
            .collect();
        names.sort();
        for p in names {
            let rel = p
                .strip_prefix(in_root.root())
                .map_or_else(|_| p.display().to_string(), |r| format!("/{}", r.display()));
            out.push(Change::Remove {
                node_path: rel,
                path: p,
                old: String::new(),
            });
        }
    }
    Ok(out)
}

/// Names of the files regtrust writes into a hosts directory.
fn is_regtrust_file_name(name: &str) -> bool {
    let base = match name.strip_prefix("endpoint") {
        Some(rest) => rest
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start_matches('-'),
        None => name,
    };
    base == "hosts.toml"
        || base == "client.cert"
        || base == "client.key"
        || base == "ca.crt"
        || (base.starts_with("ca-") && base.ends_with(".crt"))
}

/// Writes and removes every change as one transaction; keeps `config.toml.bak` on the first
/// change. On failure the node is left as it was (the transaction rolls back what it already
/// did), unless the rollback itself fails: then the error names the files it could not restore.
pub fn execute(p: &Prepared) -> Result<(), NodeError> {
    let io = |e: std::io::Error| NodeError::Io(format!("{e}; nothing was changed"));
    let mut tx = Transaction::durable();
    // The files edited in place keep their original as `<file>.bak` from the first change on.
    let edited: Vec<&Path> = p
        .containerd
        .iter()
        .map(|c| c.config_path.as_path())
        .chain(p.docker.iter().map(|d| d.daemon_json_path.as_path()))
        .collect();
    let backup_of = |path: &Path| {
        path.with_file_name(format!(
            "{}.bak",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    };
    for c in &p.changes {
        if let Change::Write {
            path,
            mode,
            content,
            old,
            ..
        } = c
        {
            let backup = backup_of(path);
            if edited.contains(&path.as_path()) && old.is_some() && !backup.exists() {
                tx.stage(&backup, old.as_deref().unwrap_or("").as_bytes(), *mode)
                    .map_err(io)?;
            }
            tx.stage(path, content.as_bytes(), *mode).map_err(io)?;
        }
    }
    let mut emptied = BTreeSet::new();
    for c in &p.changes {
        if let Change::Remove { path, .. } = c {
            tx.stage_remove(path).map_err(io)?;
            if let Some(parent) = path.parent() {
                emptied.insert(parent.to_path_buf());
            }
        }
    }
    if let Err(e) = tx.commit_or_roll_back() {
        if e.unrestored.is_empty() {
            return Err(NodeError::Io(format!(
                "{}; the files already replaced were put back: nothing was changed",
                e.error
            )));
        }
        let files: Vec<String> = e
            .unrestored
            .iter()
            .map(|(path, why)| format!("{} ({why})", path.display()))
            .collect();
        return Err(NodeError::Io(format!(
            "{}; the rollback could not restore {}: each keeps its new state (whole); run \
             regtrust apply again to complete the change",
            e.error,
            files.join(", ")
        )));
    }
    for d in emptied {
        fs::remove_dir_if_empty(&d);
    }
    Ok(())
}

/// The human report of what apply did (or would do).
pub fn report(p: &Prepared, done: bool) -> String {
    let mut s = String::new();
    let names: Vec<&str> = p.runtimes.iter().map(|r| r.name()).collect();
    let _ = writeln!(s, "runtimes: {} ({})", names.join(", "), p.runtimes_source);
    if let Some(c) = &p.containerd {
        let _ = writeln!(s, "containerd {} ({})", c.version, c.version_source);
    }
    let elsewhere = p.root != Path::new("/");
    if elsewhere {
        let _ = writeln!(
            s,
            "root: {} (the paths below are on that system)",
            p.root.display()
        );
    }
    for n in &p.notes {
        if n.starts_with("warning: ") {
            let _ = writeln!(s, "{n}");
        } else {
            let _ = writeln!(s, "note: {n}");
        }
    }
    if p.changes.is_empty() {
        let _ = writeln!(s, "nothing to do: the node matches the spec");
        return s;
    }
    let verb = |a: &str, b: &str| {
        if done {
            a.to_string()
        } else {
            format!("would {b}")
        }
    };
    for c in &p.changes {
        match c {
            Change::Write {
                node_path,
                old: None,
                ..
            } => {
                let _ = writeln!(s, "{} {node_path}", verb("created", "create"));
            }
            Change::Write { node_path, .. } => {
                let _ = writeln!(s, "{} {node_path}", verb("updated", "update"));
            }
            Change::Remove { node_path, .. } => {
                let _ = writeln!(s, "{} {node_path}", verb("removed", "remove"));
            }
        }
    }
    if let Some(c) = &p.containerd {
        containerd_next(&mut s, c, elsewhere);
    }
    if let Some(d) = &p.docker {
        docker_next(&mut s, d, elsewhere);
    }
    s
}

fn containerd_next(s: &mut String, c: &ContainerdPart, elsewhere: bool) {
    let restart = c.plan.actions.contains(&Action::RestartContainerd);
    if c.config.changed && c.config_existed {
        let _ = writeln!(
            s,
            "backup of the original config: {}.bak (kept from the first change on)",
            c.config_node_path
        );
    }
    if restart {
        if elsewhere {
            let _ = writeln!(
                s,
                "containerd on that system must restart to read config.toml (an image: nothing \
                 to do until its first boot)"
            );
        } else {
            let _ = writeln!(
                s,
                "containerd must be restarted to read config.toml: systemctl restart containerd"
            );
        }
    } else {
        let _ = writeln!(
            s,
            "no restart needed: containerd reads hosts.toml on every pull"
        );
    }
}

fn docker_next(s: &mut String, d: &DockerPart, elsewhere: bool) {
    if !d.daemon_json_changed {
        let _ = writeln!(
            s,
            "no reload needed: dockerd reads certs.d on every pull, and {} is unchanged",
            d.daemon_json_node_path
        );
        return;
    }
    if d.daemon_json_existed {
        let _ = writeln!(
            s,
            "backup of the original daemon.json: {}.bak (kept from the first change on)",
            d.daemon_json_node_path
        );
    }
    if elsewhere {
        let _ = writeln!(
            s,
            "dockerd on that system must reload daemon.json (systemctl reload docker; an image: \
             nothing to do until its first boot)"
        );
    } else {
        let _ = writeln!(
            s,
            "dockerd must reload daemon.json: systemctl reload docker"
        );
    }
}

/// `apply --format json`: one object for tools (the Ansible module). `changed` says whether the
/// node differs (or differed) from the spec; `files_changed` lists node paths; `restart` is
/// `"containerd must restart"` when config.toml (or a drop-in) changes, else `"none"`; `notes`
/// are the text report's notes and warnings; with `--dry-run`, `diff` is the same redacted diff
/// the text report shows. No credential is included.
pub fn json_report(p: &Prepared, mode: &str, with_diff: bool) -> String {
    let restart = !p.changes.is_empty()
        && p
            .containerd
            .as_ref()
            .is_some_and(|c| c.plan.actions.contains(&Action::RestartContainerd));
    let reload_docker = !p.changes.is_empty()
        && p.docker.as_ref().is_some_and(|d| d.daemon_json_changed);
    let changes: Vec<serde_json::Value> = p
        .changes
        .iter()
        .map(|c| {
            let (path, action) = match c {
                Change::Write {
                    node_path,
                    old: None,
                    ..
                } => (node_path, "create"),
                Change::Write { node_path, .. } => (node_path, "update"),
                Change::Remove { node_path, .. } => (node_path, "remove"),
            };
            serde_json::json!({ "path": path, "action": action })
        })
        .collect();
    let files: Vec<&str> = p
        .changes
        .iter()
        .map(|c| match c {
            Change::Write { node_path, .. } | Change::Remove { node_path, .. } => {
                node_path.as_str()
            }
        })
        .collect();
    let mut v = serde_json::json!({
        "mode": mode,
        "changed": !p.changes.is_empty(),
        "files_changed": files,
        "changes": changes,
        "restart": if restart { "containerd must restart" } else { "none" },
        "reload_docker": reload_docker,
        "runtimes": p.runtimes.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "containerd": p.containerd.as_ref().map(|c| c.version.to_string()),
        "containerd_source": p.containerd.as_ref().map(|c| c.version_source.clone()),
        "root": p.root.display().to_string(),
        "notes": p.notes,
    });
    if with_diff {
        v["diff"] = serde_json::Value::String(diff(p));
    }
    serde_json::to_string_pretty(&v).expect("serialisable")
}

/// A unified diff of every change, for `--dry-run`. Private keys and credentials are not shown.
pub fn diff(p: &Prepared) -> String {
    let mut s = String::new();
    for c in &p.changes {
        let (node_path, old, new, secret) = match c {
            Change::Write {
                node_path,
                old,
                content,
                kind,
                ..
            } => (
                node_path,
                old.clone().unwrap_or_default(),
                content.clone(),
                *kind == FileKind::PrivateKey,
            ),
            Change::Remove { node_path, old, .. } => (node_path, old.clone(), String::new(), false),
        };
        if secret {
            let _ = writeln!(
                s,
                "--- {node_path}\n+++ {node_path}\n(private key, {} bytes, not shown)",
                new.len()
            );
            continue;
        }
        // Credentials (`Authorization` headers), the new ones and any an old file held, read
        // `Basic <redacted>`.
        let changed = old != new;
        let (old, new) = (crate::secret::redact(&old), crate::secret::redact(&new));
        if changed && old == new {
            let _ = writeln!(
                s,
                "--- {node_path}\n+++ {node_path}\n(credentials changed, not shown)"
            );
            continue;
        }
        let d = similar::TextDiff::from_lines(&old, &new);
        let _ = write!(
            s,
            "{}",
            d.unified_diff()
                .context_radius(3)
                .header(node_path, node_path)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_part(changed: bool, existed: bool) -> DockerPart {
        DockerPart {
            plan: DockerPlan::default(),
            daemon_json_node_path: docker::DAEMON_JSON.to_string(),
            daemon_json_path: PathBuf::from("/r/etc/docker/daemon.json"),
            daemon_json_existed: existed,
            daemon_json_changed: changed,
        }
    }

    #[test]
    fn what_dockerd_must_do_is_said_for_this_machine_and_for_a_root() {
        let mut here = String::new();
        docker_next(&mut here, &docker_part(true, true), false);
        assert_eq!(
            here,
            "backup of the original daemon.json: /etc/docker/daemon.json.bak (kept from the first \
             change on)\ndockerd must reload daemon.json: systemctl reload docker\n"
        );
        let mut there = String::new();
        docker_next(&mut there, &docker_part(true, false), true);
        assert_eq!(
            there,
            "dockerd on that system must reload daemon.json (systemctl reload docker; an image: \
             nothing to do until its first boot)\n"
        );
        let mut certs_only = String::new();
        docker_next(&mut certs_only, &docker_part(false, true), false);
        assert_eq!(
            certs_only,
            "no reload needed: dockerd reads certs.d on every pull, and /etc/docker/daemon.json \
             is unchanged\n"
        );
    }
}
