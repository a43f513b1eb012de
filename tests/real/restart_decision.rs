//! The restart decision of the boot-time scripts, on "this machine" (no root given): the
//! installer (`--target script`), the script cloud-init's runcmd runs, and the Ignition unit's
//! script. Each runs with `REGTRUST_ROOT` unset, as on a node, inside a private mount namespace
//! where a scratch directory is /etc/containerd and tmpfs are /run (so the lock is private and
//! no real systemd can be reached), /etc/docker and /etc/containers, with a recording `systemctl` first on PATH: it appends every
//! call's arguments to a log and answers `is-active` as the case says. The contract: containerd
//! restarts only when config.toml changed and containerd is running, never after a refusal.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use regtrust::containerd::Version;
use regtrust::emit::patch_script;

use crate::support::*;
use crate::system::*;

const WANT: &str = "/etc/containerd/certs.d";

/// Records every call (one line, arguments separated by tabs) in $REGTRUST_TEST_SYSTEMCTL_LOG;
/// `is-active` answers 0 when $REGTRUST_TEST_CONTAINERD is `active`, 3 (systemd's "inactive")
/// otherwise. Both variables must be set: a test that forgets one fails.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
: "${REGTRUST_TEST_SYSTEMCTL_LOG:?}" "${REGTRUST_TEST_CONTAINERD:?}"
line=
sep=
for a in "$@"; do
  line="$line$sep$a"
  sep='	'
done
printf '%s\n' "$line" >> "$REGTRUST_TEST_SYSTEMCTL_LOG"
case $1 in
  is-active) [ "$REGTRUST_TEST_CONTAINERD" = active ] && exit 0 || exit 3 ;;
esac
exit 0
"#;

const NAMESPACE: &str = r#"set -e
mount --bind "$T_ETC" /etc/containerd
mount -t tmpfs regtrust-restart /run
mount -t tmpfs regtrust-restart /etc/docker
mount -t tmpfs regtrust-restart /etc/containers
export PATH="$T_BIN:$PATH"
[ "$(command -v systemctl)" = "$T_BIN/systemctl" ] || { echo "the fake systemctl is not first on PATH" >&2; exit 99; }
exec sh "$T_SCRIPT"
"#;

/// A hand-tuned 1.7 config without config_path: the script must change it.
const NEEDS_CHANGE: &str =
    "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";
/// Already points at WANT: nothing to change.
const ALREADY_RIGHT: &str = "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n";
/// Legacy mirrors: only `regtrust apply` migrates these; the scripts refuse.
const REFUSED: &str = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"http://c:5000\"]\n";

struct Bench {
    dir: PathBuf,
    etc: PathBuf,
    bin: PathBuf,
    log: PathBuf,
    script: PathBuf,
}

impl Bench {
    fn new(name: &str, script: &str, seed: Option<&str>) -> Bench {
        let dir = work_dir(&format!("restart-decision/{name}"));
        let etc = dir.join("etc-containerd");
        let bin = dir.join("bin");
        fs::create_dir_all(&etc).unwrap();
        fs::create_dir_all(&bin).unwrap();
        if let Some(s) = seed {
            fs::write(etc.join("config.toml"), s).unwrap();
        }
        let fake = bin.join("systemctl");
        fs::write(&fake, FAKE_SYSTEMCTL).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join("script.sh");
        fs::write(&path, script).unwrap();
        Bench {
            log: dir.join("systemctl.log"),
            dir,
            etc,
            bin,
            script: path,
        }
    }

    /// Runs the script as on a node (no root), containerd `active` or not; returns its output
    /// and the systemctl calls it made (each call's argument list), and empties the log.
    fn run(&self, active: bool) -> (Output, Vec<Vec<String>>) {
        let o = run(in_namespace(NAMESPACE)
            .env_remove("REGTRUST_ROOT")
            .env("T_ETC", &self.etc)
            .env("T_BIN", &self.bin)
            .env("T_SCRIPT", &self.script)
            .env("REGTRUST_TEST_SYSTEMCTL_LOG", &self.log)
            .env(
                "REGTRUST_TEST_CONTAINERD",
                if active { "active" } else { "inactive" },
            ));
        assert_ne!(o.status.code(), Some(99), "{}", text(&o));
        let calls = match fs::read_to_string(&self.log) {
            Ok(s) => s
                .lines()
                .map(|l| l.split('\t').map(str::to_string).collect())
                .collect(),
            Err(_) => Vec::new(),
        };
        let _ = fs::remove_file(&self.log);
        (o, calls)
    }

    fn config(&self) -> String {
        fs::read_to_string(self.etc.join("config.toml")).unwrap()
    }
}

fn calls(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter()
        .map(|c| c.iter().map(|a| a.to_string()).collect())
        .collect()
}

/// Every case, for one script. `restart` is the argument list the script restarts with.
fn decides_restarts(kind: &str, script: &str, restart: &[&str]) {
    require_tool("unshare", "run .ci/install-deps (util-linux)");
    let is_active: &[&str] = &["is-active", "--quiet", "containerd"];

    // (a) config.toml changes, containerd active: asked once, restarted once.
    let b = Bench::new(
        &format!("{kind}-changes-active"),
        script,
        Some(NEEDS_CHANGE),
    );
    let (o, log) = b.run(true);
    assert!(o.status.success(), "{kind} (a): {}", text(&o));
    assert_ne!(
        b.config(),
        NEEDS_CHANGE,
        "{kind} (a): config.toml unchanged"
    );
    assert!(
        b.config()
            .contains("config_path = \"/etc/containerd/certs.d\"")
    );
    assert_eq!(
        log,
        calls(&[is_active, restart]),
        "{kind} (a): {}",
        text(&o)
    );
    assert!(
        text(&o).contains("restarting containerd (config.toml changed)"),
        "{kind} (a): {}",
        text(&o)
    );

    // (e) the same node again: nothing changes, nothing is asked, nothing restarts.
    let after_first = snapshot(&b.etc);
    let (o, log) = b.run(true);
    assert!(o.status.success(), "{kind} (e): {}", text(&o));
    assert_eq!(log, calls(&[]), "{kind} (e): {}", text(&o));
    assert_eq!(snapshot(&b.etc), after_first, "{kind} (e): files changed");
    assert!(!text(&o).contains("restart"), "{kind} (e): {}", text(&o));

    // (b) config.toml already right, containerd active: no restart (hosts.toml needs none).
    let b = Bench::new(
        &format!("{kind}-already-right"),
        script,
        Some(ALREADY_RIGHT),
    );
    let (o, log) = b.run(true);
    assert!(o.status.success(), "{kind} (b): {}", text(&o));
    assert_eq!(b.config(), ALREADY_RIGHT, "{kind} (b)");
    assert_eq!(log, calls(&[]), "{kind} (b): {}", text(&o));
    assert!(
        text(&o).contains(": unchanged") && !text(&o).contains("restart"),
        "{kind} (b): {}",
        text(&o)
    );

    // (c) config.toml changes, containerd not running: asked, not restarted, and told so.
    let b = Bench::new(
        &format!("{kind}-changes-inactive"),
        script,
        Some(NEEDS_CHANGE),
    );
    let (o, log) = b.run(false);
    assert!(o.status.success(), "{kind} (c): {}", text(&o));
    assert_ne!(
        b.config(),
        NEEDS_CHANGE,
        "{kind} (c): config.toml unchanged"
    );
    assert_eq!(log, calls(&[is_active]), "{kind} (c): {}", text(&o));
    assert!(
        text(&o).contains("containerd is not running: the change applies when it starts"),
        "{kind} (c): {}",
        text(&o)
    );

    // (d) a refused shape, containerd active: exit 1, file unchanged, systemctl never called.
    let b = Bench::new(&format!("{kind}-refused"), script, Some(REFUSED));
    let (o, log) = b.run(true);
    assert_eq!(o.status.code(), Some(1), "{kind} (d): {}", text(&o));
    assert!(
        text(&o).contains("run regtrust apply"),
        "{kind} (d): {}",
        text(&o)
    );
    assert_eq!(b.config(), REFUSED, "{kind} (d): config.toml changed");
    assert!(
        !b.etc.join("config.toml.bak").exists(),
        "{kind} (d): backup"
    );
    assert_eq!(log, calls(&[]), "{kind} (d): {}", text(&o));
    assert!(!b.log.exists());
    let _ = fs::remove_dir_all(&b.dir);
}

fn spec(dir: &Path) -> PathBuf {
    let p = dir.join("spec.yaml");
    fs::write(
        &p,
        // containerd's restart is the subject: the runtimes are pinned (this machine has
        // dockerd and podman, whose part would reload them too).
        "runtimes: [containerd]\nregistries:\n  - host: a.example:5000\n    http: true\n",
    )
    .unwrap();
    p
}

#[test]
fn installer_restarts_only_when_config_changed_and_containerd_runs() {
    let dir = tempfile::tempdir().unwrap();
    let script = render_script(&spec(dir.path()), "1.7");
    decides_restarts("installer", &script, &["restart", "containerd"]);
}

/// The script cloud-init's runcmd runs (its write_files entry is this text: tests/real/cloud_init.rs).
#[test]
fn cloud_init_script_restarts_only_when_config_changed_and_containerd_runs() {
    let script = patch_script::render(Version::parse("1.7").unwrap(), WANT, false);
    decides_restarts("cloud-init", &script, &["restart", "containerd"]);
}

/// The Ignition unit runs before containerd, so its restart is queued (`--no-block`).
#[test]
fn ignition_unit_script_restarts_only_when_config_changed_and_containerd_runs() {
    let script = patch_script::render_for_unit(Version::parse("1.7").unwrap(), WANT, false);
    decides_restarts(
        "ignition-unit",
        &script,
        &["--no-block", "restart", "containerd"],
    );
}
