//! containerd's part of `apply`: the config.toml patch, the hosts.toml files, and what regtrust
//! wrote earlier that the spec no longer has.
use super::*;

/// containerd's part: config.toml patched, hosts.toml files and their certificates written.
pub(super) fn prepare_containerd(
    spec: &ValidSpec,
    opts: &NodeOptions,
) -> Result<(ContainerdPart, Vec<Change>, Vec<String>), NodeError> {
    let in_root = InRoot::new(&opts.root);
    let resolve = |node_path: &str| node_path_in(&in_root, node_path);
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
    let credentials = crate::plan::config_credentials(spec, Some(&version));
    let config = config_patch::patch(&PatchRequest {
        existing: existing.as_deref(),
        containerd: version,
        config_path: spec.config_path.as_deref(),
        covered_dirs: &covered,
        credentials: &credentials,
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
        if in_place(f, &path, old.as_deref()) {
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
        changes.push(Change::write_planned(f, path, old));
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
    let old_mode = fs::mode_of(&config_path);
    // Credentials in config.toml: readable by root only.
    let config_mode = match old_mode {
        Some(m) if config.secret => m & 0o700,
        Some(m) => m,
        None if config.secret => 0o600,
        None => 0o644,
    };
    if config.secret && old_mode.is_some_and(|m| m != config_mode) {
        notes.push(format!(
            "{config_node_path} now carries registry credentials: its mode changes from {:04o} to \
             {config_mode:04o}",
            old_mode.unwrap_or(0)
        ));
    }
    if config.changed || old_mode.is_some_and(|m| m != config_mode) {
        changes.push(Change::Write {
            node_path: config_node_path.clone(),
            path: config_path.clone(),
            mode: config_mode,
            content: config.text.clone(),
            old: existing.clone(),
            kind: FileKind::HostsToml,
        });
    }
    // The files are right (or will be): does the running containerd use them? Only said when
    // nothing in config.toml or its drop-ins is still to change (then the restart is planned).
    let running = crate::containerd::running::running(&opts.root);
    let pending_restart = running
        .as_ref()
        .filter(|_| !plan.actions.contains(&Action::RestartContainerd))
        .and_then(|r| {
            crate::containerd::running::pending_restart(r, &config_path, &config_node_path)
        });
    Ok((
        ContainerdPart {
            pending_restart,
            running,
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
pub(super) fn missing_tls_files(in_root: &InRoot, plan: &Plan) -> Vec<String> {
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

/// Files regtrust wrote earlier that the plan no longer has: only in directories it manages.
/// Only real directories and regular files count: nothing is removed through a symlink.
pub(super) fn stale_files(
    in_root: &InRoot,
    plan: &Plan,
    planned: &BTreeSet<PathBuf>,
) -> Result<Vec<Change>, NodeError> {
    let base = node_path_in(in_root, &plan.config_path)?;
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

pub(super) fn is_regular_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

/// Temp files an interrupted earlier run (or boot script) left behind: in the config directory,
/// config_path and the spec's host directories.
pub(super) fn leftover_temp_files(
    in_root: &InRoot,
    plan: &Plan,
    config_file: &Path,
) -> Result<Vec<Change>, NodeError> {
    let base = node_path_in(in_root, &plan.config_path)?;
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
pub(super) fn is_regtrust_file_name(name: &str) -> bool {
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
