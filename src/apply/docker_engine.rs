//! Docker Engine's part of `apply`: daemon.json and /etc/docker/certs.d.
use super::*;

/// Docker Engine's part: daemon.json edited in place (a `.bak` on its first change), the
/// certs.d files written as planned.
pub(super) fn prepare_docker(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(DockerPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| node_path_in(&in_root, node_path);
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
