//! Docker Engine's part of `apply`: daemon.json, /etc/docker/certs.d, root's docker config.json
//! (credentials), and regtrust's record of what it added there (`docker::managed`), so that
//! what leaves the spec is removed on the next run and what the owner wrote is kept.
use super::*;
use crate::docker::config_json;
use crate::docker::daemon_json::ListEdit;
use crate::docker::managed::{self, Managed};

/// A node path's place under the root, and the node path it really is (a symlink is followed
/// inside the root: the report names where it points).
fn located(in_root: &InRoot, root: &Path, node_path: &str) -> Result<(PathBuf, String), NodeError> {
    let path = node_path_in(in_root, node_path)?;
    if path.is_dir() {
        return Err(NodeError::Io(format!(
            "{node_path} is a directory, not a file"
        )));
    }
    let real = path
        .strip_prefix(root)
        .map_or_else(|_| node_path.to_string(), |r| format!("/{}", r.display()));
    Ok((path, real))
}

fn read(path: &Path, node_path: &str) -> Result<Option<String>, NodeError> {
    fs::read_optional(path).map_err(|e| NodeError::Io(format!("cannot read {node_path}: {e}")))
}

/// Docker Engine's part: daemon.json edited in place (a `.bak` on its first change), the
/// certs.d files written as planned, root's config.json `auths` for the spec's credentials,
/// and what regtrust added earlier that left the spec removed.
pub(super) fn prepare_docker(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(DockerPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| node_path_in(&in_root, node_path);
    let plan = DockerPlan::build(spec);
    let mut notes = plan.notes.clone();
    let mut changes = Vec::new();

    let (record_path, record_node_path) = located(&in_root, &opts.root, docker::MANAGED)?;
    let record_text = read(&record_path, &record_node_path)?;
    let recorded = Managed::parse(record_text.as_deref())
        .map_err(|e| NodeError::Config(format!("{record_node_path}: {e}")))?;
    // A pending file: an earlier run was killed midway; what it names is regtrust's too.
    let (pending_path, pending_node_path) = located(&in_root, &opts.root, docker::MANAGED_PENDING)?;
    let pending_text = read(&pending_path, &pending_node_path)?;
    let pending = Managed::parse(pending_text.as_deref())
        .map_err(|e| NodeError::Config(format!("{pending_node_path}: {e}")))?;
    let owned = recorded.union(&pending);

    let (path, node_path) = located(&in_root, &opts.root, docker::DAEMON_JSON)?;
    let existing = read(&path, &node_path)?;
    let drop_insecure = managed::to_remove(&plan.insecure_registries, &owned.insecure_registries);
    let drop_mirrors = managed::to_remove(&plan.registry_mirrors, &owned.registry_mirrors);
    let edited = daemon_json::edit_lists(
        existing.as_deref(),
        &[
            ListEdit {
                key: daemon_json::INSECURE,
                add: &plan.insecure_registries,
                remove: &drop_insecure,
            },
            ListEdit {
                key: daemon_json::MIRRORS,
                add: &plan.registry_mirrors,
                remove: &drop_mirrors,
            },
        ],
    )
    .map_err(|e| NodeError::Config(format!("{node_path}: {e}")))?;
    let added_to = |key: &str| -> Vec<String> {
        edited
            .added
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let mut record = Managed {
        insecure_registries: managed::owned_after(
            &plan.insecure_registries,
            &owned.insecure_registries,
            &added_to(daemon_json::INSECURE),
        ),
        registry_mirrors: managed::owned_after(
            &plan.registry_mirrors,
            &owned.registry_mirrors,
            &added_to(daemon_json::MIRRORS),
        ),
        certs_d: plan.files.iter().map(|f| f.path.clone()).collect(),
        ..Managed::default()
    };

    for f in &plan.files {
        let p = resolve(&f.path)?;
        if p.is_dir() {
            return Err(NodeError::Io(format!(
                "{} is a directory, where regtrust must write a file",
                f.path
            )));
        }
        let old = fs::read_optional(&p).unwrap_or(None);
        if !in_place(f, &p, old.as_deref()) {
            changes.push(Change::write_planned(f, p, old));
        }
    }
    // certs.d files regtrust wrote that the plan no longer has: regular files only (nothing is
    // removed through a symlink), and only inside certs.d.
    let mut certs_removed = Vec::new();
    let mut tidy_dirs = Vec::new();
    for gone in owned.certs_d.iter().filter(|p| !record.certs_d.contains(p)) {
        let inside = gone
            .strip_prefix(docker::CERTS_D)
            .is_some_and(|r| r.starts_with('/') && !r.contains("/../") && !r.ends_with("/.."));
        if !inside {
            continue;
        }
        let p = resolve(gone)?;
        // Its directory goes when it is left empty, also when an interrupted run already
        // removed the file.
        tidy_dirs.extend(p.parent().map(Path::to_path_buf));
        if !containerd::is_regular_file(&p) {
            continue;
        }
        certs_removed.push(p.clone());
        let old = fs::read_optional(&p).unwrap_or(None).unwrap_or_default();
        changes.push(Change::Remove {
            node_path: gone.clone(),
            path: p,
            old,
        });
    }
    // An empty directory in certs.d holds nothing dockerd reads: one an interrupted run left
    // behind (its file removed, the directory not yet) goes with the next change.
    if let Ok(base) = resolve(docker::CERTS_D)
        && let Ok(entries) = std::fs::read_dir(&base)
    {
        for e in entries.flatten() {
            let p = e.path();
            let empty_dir = e.file_type().is_ok_and(|t| t.is_dir())
                && std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none());
            if empty_dir {
                tidy_dirs.push(p);
            }
        }
    }
    for (key, value) in &edited.added {
        notes.push(format!("docker: {node_path}: {key} gains {value}"));
    }
    for (key, value) in &edited.removed {
        notes.push(format!(
            "docker: {node_path}: {key} loses {value} (regtrust added it; it left the spec)"
        ));
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

    // root's config.json: only read when there are credentials to write or to take out.
    let mut config_json_path = None;
    if !plan.auths.is_empty() || !owned.auths.is_empty() {
        let (cpath, cnode) = located(&in_root, &opts.root, docker::CONFIG_JSON)?;
        let old = read(&cpath, &cnode)?;
        let keys: Vec<String> = plan.auths.iter().map(|(k, _)| k.clone()).collect();
        let drop = managed::to_remove(&keys, &owned.auths);
        let e = config_json::edit(old.as_deref(), &plan.auths, &drop)
            .map_err(|e| NodeError::Config(format!("{cnode}: {e}")))?;
        // A key whose entry the file held before regtrust wanted it stays the owner's, even
        // when regtrust writes the spec's credentials into it.
        let had_before: Vec<String> = keys
            .iter()
            .filter(|k| !owned.auths.contains(k) && !e.set.contains(k))
            .cloned()
            .collect();
        record.auths = keys
            .iter()
            .filter(|k| !had_before.contains(k))
            .cloned()
            .collect();
        notes.extend(e.notes);
        for k in &e.set {
            notes.push(format!(
                "docker: {cnode}: credentials for {k} (read by the docker CLI, which sends them \
                 with each pull; dockerd itself does not read this file)"
            ));
        }
        for k in &e.removed {
            notes.push(format!(
                "docker: {cnode}: credentials for {k} removed (regtrust wrote them; they left \
                 the spec)"
            ));
        }
        if let Some(text) = e.text {
            changes.push(Change::Write {
                node_path: cnode.clone(),
                path: cpath.clone(),
                mode: 0o600,
                content: text,
                old,
                kind: FileKind::DockerConfig,
            });
            config_json_path = Some(cpath);
        }
    }

    // The record: what regtrust owns now. Removed when it owns nothing.
    let record_at = record_path.clone();
    let new_record = (!record.is_empty()).then(|| record.render());
    if new_record != record_text {
        match new_record {
            Some(text) => changes.push(Change::Write {
                node_path: record_node_path,
                path: record_path,
                mode: 0o644,
                content: text,
                old: record_text,
                kind: FileKind::DockerRecord,
            }),
            None => changes.push(Change::Remove {
                node_path: record_node_path,
                path: record_path,
                old: record_text.unwrap_or_default(),
            }),
        }
    }
    // Written before any of these changes, removed after the record: see docker::managed.
    let intent =
        (!changes.is_empty()).then(|| (pending_path.clone(), owned.union(&record).render()));
    if pending_text.is_some() {
        changes.push(Change::Remove {
            node_path: pending_node_path,
            path: pending_path.clone(),
            old: pending_text.unwrap_or_default(),
        });
    }
    Ok((
        DockerPart {
            intent,
            pending_path,
            plan,
            daemon_json_node_path: node_path,
            daemon_json_path: path,
            daemon_json_existed: existing.is_some(),
            daemon_json_changed: changed,
            config_json_path,
            record_path: record_at,
            certs_removed,
            tidy_dirs,
        },
        changes,
        notes,
    ))
}
