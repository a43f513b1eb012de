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

mod containerd;
mod containers_image;
mod docker_engine;
mod existing_layout;
mod report;

use containerd::{is_regtrust_file_name, is_regular_file, prepare_containerd};
use containers_image::prepare_containers;
use docker_engine::prepare_docker;
use existing_layout::{carried_hosts, drop_in_edits, refuse_url_directories};
pub use report::{diff, json_report, report};

/// `node_path` under the root (every symlink followed inside it: `InRoot::path`), the error
/// naming the node path. The one resolver of the apply engine.
fn node_path_in(in_root: &InRoot, node_path: &str) -> Result<PathBuf, NodeError> {
    in_root
        .path(node_path)
        .map_err(|e| NodeError::Io(format!("{node_path}: {e}")))
}

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

impl Change {
    /// Writing the planned file `f` at `path` (which holds `old`).
    fn write_planned(f: &crate::plan::PlannedFile, path: PathBuf, old: Option<String>) -> Change {
        Change::Write {
            node_path: f.path.clone(),
            path,
            mode: f.mode,
            content: f.content.clone(),
            old,
            kind: f.kind,
        }
    }
}

/// Whether the planned file `f` is at `path` already (which holds `old`), content and mode.
fn in_place(f: &crate::plan::PlannedFile, path: &Path, old: Option<&str>) -> bool {
    old == Some(f.content.as_str()) && fs::mode_of(path) == Some(f.mode)
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
    /// containers-image's part (None when podman is not among the runtimes).
    pub containers: Option<ContainersPart>,
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
    /// root's config.json, where it is under the root, when it changes.
    pub config_json_path: Option<PathBuf>,
    /// regtrust's record (staged after every other change), and its pending file: written
    /// first, with `intent`, when Docker's part changes anything; removed last.
    pub record_path: PathBuf,
    pub pending_path: PathBuf,
    pub intent: Option<(PathBuf, String)>,
    /// The certs.d files removed (staged before the record), and the directories of every
    /// certs.d file regtrust no longer owns (removed when left empty).
    pub certs_removed: Vec<PathBuf>,
    pub tidy_dirs: Vec<PathBuf>,
}

/// containers-image's part (Podman, CRI-O, Buildah, Skopeo).
#[derive(Debug)]
pub struct ContainersPart {
    pub plan: crate::containers_image::ContainersPlan,
    /// The registries.conf drop-in changes: CRI-O must reload it.
    pub drop_in_changed: bool,
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
    /// The files match, but the containerd running on the root's socket started before
    /// config.toml last changed: the sentence saying so (see `containerd::running`).
    pub pending_restart: Option<String>,
    /// The containerd answering on the root's socket, if any.
    pub running: Option<crate::containerd::running::Running>,
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

impl Prepared {
    /// The node is as the spec wants it: no file to change, no restart pending.
    pub fn in_sync(&self) -> bool {
        self.changes.is_empty() && self.pending_restart().is_none()
    }

    /// The sentence saying the running containerd has not read config.toml as it is.
    pub fn pending_restart(&self) -> Option<&str> {
        self.containerd.as_ref()?.pending_restart.as_deref()
    }
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
    let containers = if runtimes.contains(&Runtime::Podman) {
        let (part, c, n) = prepare_containers(spec, opts)?;
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
        containers,
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
        .find(|p| crate::root::exists(&opts.root, p));
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
    if let Some(p) = crate::containers_image::installed(&opts.root) {
        found.push(Runtime::Podman);
        evidence.push(format!("podman ({p})"));
    }
    if found.is_empty() {
        return (
            vec![Runtime::Containerd],
            "found no runtime under the root: containerd (pass --runtime to choose)".to_string(),
        );
    }
    (found, format!("found {}", evidence.join(", ")))
}

/// Writes and removes every change as one transaction; keeps `config.toml.bak` on the first
/// change. On failure the node is left as it was (the transaction rolls back what it already
/// did), unless the rollback itself fails: then the error names the files it could not restore.
pub fn execute(p: &Prepared) -> Result<(), NodeError> {
    let io = |e: std::io::Error| NodeError::Io(format!("{e}; nothing was changed"));
    // Docker's record is changed after every other file, and what regtrust owns before and
    // after is on disk before any of them (docker::managed): a kill at any point leaves a node
    // the next run finishes, without losing track of an entry.
    if let Some((path, text)) = p.docker.as_ref().and_then(|d| d.intent.as_ref()) {
        let mut first = Transaction::durable();
        first
            .stage(path, text.as_bytes(), 0o644)
            .and_then(|()| first.commit())
            .map_err(io)?;
    }
    let (record, pending) = match &p.docker {
        Some(d) => (
            Some(d.record_path.as_path()),
            Some(d.pending_path.as_path()),
        ),
        None => (None, None),
    };
    // Order: writes; Docker's certs.d removals; Docker's record; its pending file; then
    // containerd's removals, last as before (their emptied directories go right after).
    let docker_removed: Vec<&Path> = p
        .docker
        .iter()
        .flat_map(|d| d.certs_removed.iter().map(PathBuf::as_path))
        .collect();
    let rank = |c: &Change| -> u8 {
        let path = match c {
            Change::Write { path, .. } | Change::Remove { path, .. } => path.as_path(),
        };
        match c {
            _ if Some(path) == pending => 3,
            _ if Some(path) == record => 2,
            Change::Write { .. } => 0,
            Change::Remove { .. } if docker_removed.contains(&path) => 1,
            Change::Remove { .. } => 4,
        }
    };
    let mut ordered: Vec<&Change> = p.changes.iter().collect();
    ordered.sort_by_key(|c| rank(c));
    let mut tx = Transaction::durable();
    // The files edited in place keep their original as `<file>.bak` from the first change on.
    let edited: Vec<&Path> = p
        .containerd
        .iter()
        .map(|c| c.config_path.as_path())
        .chain(p.docker.iter().map(|d| d.daemon_json_path.as_path()))
        .chain(
            p.docker
                .iter()
                .filter_map(|d| d.config_json_path.as_deref()),
        )
        .collect();
    let backup_of = |path: &Path| {
        path.with_file_name(format!(
            "{}.bak",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    };
    let mut emptied: BTreeSet<PathBuf> = p
        .docker
        .iter()
        .flat_map(|d| d.tidy_dirs.iter().cloned())
        .collect();
    let mut pending_staged = false;
    for c in ordered {
        if rank(c) == 4 && !pending_staged {
            if let Some(pending) = pending {
                tx.stage_remove(pending).map_err(io)?;
            }
            pending_staged = true;
        }
        match c {
            Change::Write {
                path,
                mode,
                content,
                old,
                ..
            } => {
                let backup = backup_of(path);
                if edited.contains(&path.as_path()) && old.is_some() && !backup.exists() {
                    tx.stage(&backup, old.as_deref().unwrap_or("").as_bytes(), *mode)
                        .map_err(io)?;
                }
                tx.stage(path, content.as_bytes(), *mode).map_err(io)?;
            }
            Change::Remove { path, .. } => {
                if Some(path.as_path()) == pending {
                    continue; // staged after the record, above or below
                }
                tx.stage_remove(path).map_err(io)?;
                if let Some(parent) = path.parent() {
                    emptied.insert(parent.to_path_buf());
                }
            }
        }
    }
    if let Some(pending) = pending.filter(|_| !pending_staged) {
        tx.stage_remove(pending).map_err(io)?;
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
