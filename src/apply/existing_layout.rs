//! What `apply` does about the layout a node already has: a config_path moved elsewhere (the
//! hosts configured there are carried over), drop-ins that set config_path or replace the CRI
//! table, and URL-named host directories it refuses.
use super::*;

/// A host directory named after a URL (`certs.d/http:/<host>/hosts.toml`, from
/// `mkdir -p certs.d/http://host`) is never read by containerd; it is the user's attempt at a
/// host regtrust cannot tell the intent of, so apply stops and says what to do rather than leave
/// a node that doctor reports broken.
pub(super) fn refuse_url_directories(in_root: &InRoot, config_path: &str) -> Result<(), NodeError> {
    for scheme in ["http:", "https:"] {
        let node_path = format!("{config_path}/{scheme}");
        let path = node_path_in(in_root, &node_path)?;
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
pub(super) fn drop_in_edits(
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
        let path = node_path_in(in_root, &d.node_path)?;
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
        let backup_path = node_path_in(in_root, &backup)?;
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
pub(super) fn carried_hosts(
    in_root: &InRoot,
    old: &str,
    plan: &Plan,
    planned: &BTreeSet<PathBuf>,
) -> Result<(Vec<Change>, Vec<String>), NodeError> {
    let mut changes = Vec::new();
    let mut notes = Vec::new();
    let resolve = |node_path: &str| node_path_in(in_root, node_path);
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
