//! containers-image's part of `apply` (Podman, CRI-O, Buildah, Skopeo): the registries.conf
//! drop-in, the certs.d files, auth.json, and what regtrust wrote earlier that left the spec.
use super::*;
use crate::containers_image::{self as ci, ContainersPlan, auth_json, registries_conf};

/// The containers-image part: every planned file written (unchanged ones skipped), the files
/// and auth.json entries an earlier drop-in listed that are no longer planned removed.
pub(super) fn prepare_containers(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(ContainersPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| node_path_in(&in_root, node_path);
    let plan = ContainersPlan::build(spec);
    let mut notes = plan.notes.clone();
    let mut changes = Vec::new();
    let drop_in = plan.drop_in();
    let drop_in_path = resolve(&drop_in.path)?;
    let old_drop_in = read_file(&drop_in_path, &drop_in.path)?;
    let (old_files, old_auths) = old_drop_in
        .as_deref()
        .map(registries_conf::managed)
        .unwrap_or_default();
    if old_drop_in
        .as_deref()
        .is_some_and(|t| !t.starts_with(MANAGED_MARK))
    {
        notes.push(format!(
            "replaced {}, which regtrust did not write",
            drop_in.path
        ));
    }
    let mut planned = BTreeSet::new();
    let mut drop_in_changed = false;
    for f in plan.files.iter().chain(std::iter::once(&drop_in)) {
        let path = resolve(&f.path)?;
        planned.insert(f.path.clone());
        let old = read_file(&path, &f.path)?;
        if !in_place(f, &path, old.as_deref()) {
            drop_in_changed |= f.kind == FileKind::ContainersConf;
            changes.push(Change::write_planned(f, path, old));
        }
    }
    // What an earlier run wrote and the plan no longer has: only regtrust's file names directly
    // in a certs.d host directory, regular files reached without a symlink (the header is text on
    // the node: it cannot name anything else).
    for node_path in old_files {
        // `certs.d/<host>/<one of regtrust's names>`, exactly: one directory level, no `.`/`..`.
        let parts: Option<(&str, &str)> = node_path
            .strip_prefix(ci::CERTS_D)
            .and_then(|r| r.strip_prefix('/'))
            .and_then(|r| r.split_once('/'));
        let ours = parts.is_some_and(|(dir, name)| {
            !dir.is_empty()
                && dir != "."
                && dir != ".."
                && !name.contains('/')
                && is_regtrust_file_name(name)
                && !name.starts_with("endpoint")
                && !name.ends_with("hosts.toml")
        });
        if planned.contains(&node_path) || !ours {
            continue;
        }
        // Nothing through a symlink: the path resolved inside the root must be the plain one.
        let path = resolve(&node_path)?;
        if path != opts.root.join(node_path.trim_start_matches('/')) || !is_regular_file(&path) {
            continue;
        }
        // A private key's old text never reaches the diff.
        let old = if node_path.ends_with(".key") {
            String::new()
        } else {
            std::fs::read_to_string(&path).unwrap_or_default()
        };
        changes.push(Change::Remove {
            node_path,
            path,
            old,
        });
    }
    let auth_path = resolve(ci::AUTH_JSON)?;
    let auth_old = read_file(&auth_path, ci::AUTH_JSON)?;
    let merged = auth_json::merge(auth_old.as_deref(), &plan.auths, &old_auths)
        .map_err(|e| NodeError::Config(format!("{}: {e}", ci::AUTH_JSON)))?;
    let wrong_mode =
        auth_old.is_some() && !plan.auths.is_empty() && fs::mode_of(&auth_path) != Some(0o600);
    if let Some(text) = merged.or_else(|| wrong_mode.then(|| auth_old.clone().unwrap_or_default()))
    {
        changes.push(Change::Write {
            node_path: ci::AUTH_JSON.to_string(),
            path: auth_path,
            mode: 0o600,
            content: text,
            old: auth_old,
            kind: FileKind::AuthJson,
        });
    }
    if !plan.auths.is_empty() {
        notes.push(format!(
            "podman: {} holds the credentials: CRI-O reads it when crio.conf's \
             [crio.image] global_auth_file names it; Podman, Buildah and Skopeo with --authfile \
             {} (or REGISTRY_AUTH_FILE)",
            ci::AUTH_JSON,
            ci::AUTH_JSON
        ));
    }
    Ok((
        ContainersPart {
            plan,
            drop_in_changed,
        },
        changes,
        notes,
    ))
}

fn read_file(path: &Path, node_path: &str) -> Result<Option<String>, NodeError> {
    if path.is_dir() {
        return Err(NodeError::Io(format!(
            "{node_path} is a directory, where regtrust must write a file"
        )));
    }
    fs::read_optional(path).map_err(|e| NodeError::Io(format!("cannot read {node_path}: {e}")))
}
