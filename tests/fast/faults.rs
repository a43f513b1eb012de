//! Faults that need no privilege: `apply` killed at every write step leaves each file either old
//! or new (never partial), keeps the backup intact, and the next run completes the change; a
//! directory where a file belongs gives a clear error and changes nothing; a commit that fails
//! midway puts back every file it already replaced or removed (content and mode). The real suite
//! adds read-only and full targets (mount namespaces, root).
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use regtrust::fs::Transaction;

use crate::support::faults::*;
use crate::support::{run, snapshot};

fn copy_tree(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    assert!(
        run(Command::new("cp").arg("-a").arg(from).arg(to))
            .status
            .success()
    );
}

/// For a change from `old_spec` (None: a node without regtrust) to `new_spec`: kill apply at
/// each write step in turn and check what is left.
fn interrupted_everywhere(name: &str, old_spec: Option<&str>) {
    interrupted_everywhere_on(name, old_spec, false)
}

/// The same, on a node with Docker Engine too (a daemon.json and root's config.json of the
/// owner's): daemon.json, certs.d, config.json and regtrust's record in the same transaction.
fn interrupted_everywhere_on(name: &str, old_spec: Option<&str>, docker: bool) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    fs::create_dir_all(base.join("etc/containerd")).unwrap();
    fs::write(base.join("etc/containerd/config.toml"), CONFIG).unwrap();
    if docker {
        fs::create_dir_all(base.join("etc/docker")).unwrap();
        fs::write(base.join("etc/docker/daemon.json"), DAEMON_JSON).unwrap();
        fs::create_dir_all(base.join("root/.docker")).unwrap();
        fs::write(base.join("root/.docker/config.json"), DOCKER_CONFIG).unwrap();
        fs::set_permissions(
            base.join("root/.docker/config.json"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let spec_old = dir.path().join("old.yaml");
    let spec_new = dir.path().join("new.yaml");
    fs::write(&spec_new, SPEC_B).unwrap();
    if let Some(s) = old_spec {
        fs::write(&spec_old, s).unwrap();
        assert!(apply(&base, &spec_old, None).status.success());
    }
    let old = snapshot_with_modes(&base);
    let done = dir.path().join("done");
    copy_tree(&base, &done);
    assert!(apply(&done, &spec_new, None).status.success());
    let new = snapshot_with_modes(&done);
    assert_ne!(old, new);

    let mut step = 1;
    let mut cut_short = 0;
    loop {
        let root: PathBuf = dir.path().join(format!("step-{step}"));
        copy_tree(&base, &root);
        let o = apply(&root, &spec_new, Some(step));
        let finished = o.status.success();
        let after = snapshot_with_modes(&root);
        if after
            .iter()
            .any(|(p, (c, _))| p.ends_with(".regtrust-tmp") && new.values().all(|(n, _)| n != c))
        {
            cut_short += 1; // killed halfway through writing a temp file
        }
        // Every path of either tree, and every path left: old or new, content and mode, where
        // absent is a state too (a file of both trees that is missing fails).
        let paths: std::collections::BTreeSet<&String> =
            old.keys().chain(new.keys()).chain(after.keys()).collect();
        for path in paths {
            if path.ends_with(".regtrust-tmp") {
                continue; // a temp file is not read by containerd; the next run removes it
            }
            if path.ends_with("regtrust-managed.pending.json") {
                // regtrust's intent while Docker's part is applied, read by no runtime: the
                // next run uses it and removes it (the convergence check below).
                continue;
            }
            let now = after.get(path);
            assert!(
                now == old.get(path) || now == new.get(path),
                "{name} step {step}: {path} is neither old nor new:\n  now: {now:?}\n  old: {:?}\n  new: {:?}",
                old.get(path),
                new.get(path)
            );
        }
        for (bak, original) in [
            ("etc/docker/daemon.json.bak", DAEMON_JSON),
            (
                "etc/docker/../../root/.docker/config.json.bak",
                DOCKER_CONFIG,
            ),
        ] {
            let bak = bak.replace("etc/docker/../../", "");
            if let Some((b, _)) = after.get(&bak) {
                assert_eq!(b, original, "{name} step {step}: {bak} is not the original");
            }
        }
        if let Some((bak, _)) = after.get("etc/containerd/config.toml.bak") {
            assert_eq!(
                bak, CONFIG,
                "{name} step {step}: the backup is not the original"
            );
        }
        // The next run completes the change: every file, mode and directory as a clean run
        // leaves them, and no temp file left.
        let again = apply(&root, &spec_new, None);
        assert!(
            again.status.success(),
            "{name} step {step}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(
            snapshot_with_modes(&root),
            new,
            "{name} step {step}: the next run did not converge"
        );
        let _ = fs::remove_dir_all(&root);
        if finished {
            break;
        }
        step += 1;
        assert!(step < 100, "{name}: apply never finished");
    }
    assert!(step > 5, "{name}: expected several write steps, saw {step}");
    assert!(
        cut_short > 0,
        "{name}: no step killed apply in the middle of writing a file"
    );
}

#[test]
fn apply_killed_at_every_write_step_on_a_fresh_node() {
    interrupted_everywhere("fresh", None);
}

#[test]
fn apply_killed_at_every_write_step_while_changing_registries() {
    interrupted_everywhere("update", Some(SPEC_A));
}

/// Docker's part too: from a spec with credentials and a CA (config.json, certs.d, daemon.json,
/// the record) to one without them (each removed again, others added).
#[test]
fn apply_killed_at_every_write_step_with_docker() {
    let with_auth = SPEC_A.replacen(
        "    http: true\n",
        "    http: true\n    auth:\n      username: u\n      password: p\n",
        1,
    );
    assert_ne!(with_auth, SPEC_A);
    interrupted_everywhere_on("docker", Some(&with_auth), true);
}

const DAEMON_JSON: &str =
    "{\n    \"debug\": true,\n    \"insecure-registries\": [\"own.example:5000\"]\n}\n";
const DOCKER_CONFIG: &str =
    "{\n\t\"auths\": {\n\t\t\"own.example\": {\n\t\t\t\"auth\": \"b3duOnB3\"\n\t\t}\n\t}\n}\n";

#[test]
fn a_commit_that_fails_at_any_step_puts_every_file_back() {
    // The steps, in staging order: (dest, new content or None for a removal).
    let steps: [(&str, Option<&str>); 6] = [
        ("etc/kept.toml", Some("new kept\n")),
        ("etc/d/new-dir/fresh.toml", Some("fresh\n")),
        ("etc/gone.crt", None),
        ("etc/link.toml", Some("replaces a symlink\n")),
        ("etc/secret.key", Some("new secret\n")),
        ("etc/last.toml", Some("last\n")),
    ];
    for fail_at in 0..steps.len() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        let put = |p: &str, text: &str, mode: u32| {
            fs::write(root.join(p), text).unwrap();
            fs::set_permissions(root.join(p), fs::Permissions::from_mode(mode)).unwrap();
        };
        put("etc/kept.toml", "old kept\n", 0o640);
        put("etc/gone.crt", "old cert\n", 0o604);
        put("etc/secret.key", "old secret\n", 0o600);
        std::os::unix::fs::symlink("kept.toml", root.join("etc/link.toml")).unwrap();
        let before = snapshot_with_modes(&root);

        let mut tx = Transaction::durable();
        for (p, content) in steps {
            match content {
                Some(c) => tx.stage(&root.join(p), c.as_bytes(), 0o644).unwrap(),
                None => tx.stage_remove(&root.join(p)).unwrap(),
            }
        }
        let (blocked, _) = steps[fail_at];
        block(&root.join(blocked));
        let e = tx.commit_or_roll_back().unwrap_err();
        assert!(
            e.error.to_string().contains(blocked),
            "step {fail_at}: {}",
            e.error
        );
        assert!(
            e.unrestored.is_empty(),
            "step {fail_at}: {:?}",
            e.unrestored
        );

        // The obstacle and the directories holding it stay; everything else is as before.
        let unrelated = |k: &String, _: &mut (String, u32)| {
            !k.starts_with(blocked) && !blocked.starts_with(k.as_str())
        };
        let mut after = snapshot_with_modes(&root);
        after.retain(unrelated);
        let mut expected = before.clone();
        expected.retain(unrelated);
        assert_eq!(after, expected, "step {fail_at}: not put back");
        let temps: Vec<_> = after
            .keys()
            .filter(|k| k.contains(".regtrust-tmp"))
            .collect();
        assert!(temps.is_empty(), "step {fail_at}: {temps:?}");
    }
}

#[test]
fn a_failed_commit_through_the_io_error_says_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), "old a").unwrap();
    let mut tx = Transaction::default();
    tx.stage(&dir.path().join("a"), b"new a", 0o644).unwrap();
    tx.stage(&dir.path().join("b"), b"new b", 0o644).unwrap();
    block(&dir.path().join("b"));
    let e = tx.commit().unwrap_err();
    assert!(e.to_string().contains("/b: "), "{e}");
    assert_eq!(fs::read_to_string(dir.path().join("a")).unwrap(), "old a");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.ends_with(".regtrust-tmp")),
        "{names:?}"
    );
}

#[test]
fn staging_a_file_over_a_directory_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a"), "old a").unwrap();
    block(&dir.path().join("b"));
    let before = snapshot_with_modes(dir.path());
    let mut tx = Transaction::default();
    tx.stage(&dir.path().join("a"), b"new a", 0o644).unwrap();
    let e = tx
        .stage(&dir.path().join("b"), b"new b", 0o644)
        .unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
    drop(tx);
    assert_eq!(snapshot_with_modes(dir.path()), before);
}

#[test]
fn a_directory_where_a_file_belongs() {
    let (_d, root, spec) = node(SPEC_B);
    fs::create_dir_all(root.join("etc/containerd/certs.d/a.example:5000/hosts.toml")).unwrap();
    let before = snapshot(&root);
    let o = apply(&root, &spec, None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(snapshot(&root), before);

    let (_d2, root2, spec2) = node(SPEC_B);
    fs::remove_file(root2.join("etc/containerd/config.toml")).unwrap();
    fs::create_dir_all(root2.join("etc/containerd/config.toml")).unwrap();
    let o = apply(&root2, &spec2, None);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
