//! What `apply` says: the text report, the JSON report (`--format json`) and the `--dry-run`
//! diff, with secrets redacted.
use super::*;

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
        match p.pending_restart() {
            Some(pending) => {
                let _ = writeln!(s, "the files match the spec, but {pending}");
            }
            None => {
                let _ = writeln!(s, "nothing to do: the node matches the spec");
            }
        }
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
    if let Some(c) = &p.containers {
        containers_next(&mut s, c, elsewhere);
    }
    s
}

pub(super) fn containers_next(s: &mut String, c: &ContainersPart, elsewhere: bool) {
    if !c.drop_in_changed {
        let _ = writeln!(
            s,
            "no reload needed: Podman, CRI-O, Buildah and Skopeo read certs.d and auth.json on \
             every pull, and {} is unchanged",
            crate::containers_image::DROP_IN
        );
    } else if elsewhere {
        let _ = writeln!(
            s,
            "CRI-O on that system must reload registries.conf (systemctl reload crio; an image: \
             nothing to do until its first boot); Podman, Buildah and Skopeo: nothing (they read \
             it on every run)"
        );
    } else {
        let _ = writeln!(
            s,
            "CRI-O must reload registries.conf: systemctl reload crio; Podman, Buildah and \
             Skopeo: nothing (they read it on every run)"
        );
    }
}

pub(super) fn containerd_next(s: &mut String, c: &ContainerdPart, elsewhere: bool) {
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
    } else if let Some(pending) = &c.pending_restart {
        let _ = writeln!(s, "{pending}");
    } else {
        let _ = writeln!(
            s,
            "no restart needed: containerd reads hosts.toml on every pull"
        );
    }
}

pub(super) fn docker_next(s: &mut String, d: &DockerPart, elsewhere: bool) {
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
/// `"containerd must restart"` when config.toml (or a drop-in) changes, or when the containerd
/// answering on the root's socket started before config.toml last changed (`pending_restart`
/// then says so), else `"none"`; `notes`
/// are the text report's notes and warnings; with `--dry-run`, `diff` is the same redacted diff
/// the text report shows. No credential is included.
pub fn json_report(p: &Prepared, mode: &str, with_diff: bool) -> String {
    let restart = p.pending_restart().is_some()
        || (!p.changes.is_empty()
            && p.containerd
                .as_ref()
                .is_some_and(|c| c.plan.actions.contains(&Action::RestartContainerd)));
    let reload_docker =
        !p.changes.is_empty() && p.docker.as_ref().is_some_and(|d| d.daemon_json_changed);
    let reload_crio =
        !p.changes.is_empty() && p.containers.as_ref().is_some_and(|c| c.drop_in_changed);
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
        "pending_restart": p.pending_restart(),
        "reload_crio": reload_crio,
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
        if matches!(
            c,
            Change::Write {
                kind: FileKind::AuthJson,
                ..
            }
        ) {
            let _ = writeln!(
                s,
                "--- {node_path}\n+++ {node_path}\n(credentials, not shown)"
            );
            continue;
        }
        // Credentials (`Authorization` headers), the new ones and any an old file held, read
        // `Basic <redacted>`; JSON `"auth"` values (a docker config.json) `"<redacted>"`.
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
            config_json_path: None,
            record_path: PathBuf::from("/r/etc/docker/regtrust-managed.json"),
            pending_path: PathBuf::from("/r/etc/docker/regtrust-managed.pending.json"),
            intent: None,
            certs_removed: Vec::new(),
            tidy_dirs: Vec::new(),
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
