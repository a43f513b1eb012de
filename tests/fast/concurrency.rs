//! Concurrency: `regtrust apply` runs that overlap on one node (cloud-init's runcmd and a fleet
//! agent, a timer and an operator) take turns on the lock `/run/lock/regtrust.lock` under the
//! root: every run succeeds, the node ends up holding exactly one spec, and no temp file is left.
//! A run that cannot get the lock in time fails with exit 3 and writes nothing.
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CONFIG: &str =
    "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";
/// Two specs with no registry in common.
const SPEC_A: &str = "registries:\n  - host: a.example:5000\n    http: true\n  - host: b.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n";
const SPEC_B: &str = "registries:\n  - host: c.example:5000\n    http: true\n    headers:\n      X-Fleet: \"yes\"\n  - host: d.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n    client:\n      cert_pem: |\n        -----BEGIN CERTIFICATE-----\n        MAA=\n        -----END CERTIFICATE-----\n      key_pem: |\n        -----BEGIN PRIVATE KEY-----\n        MAA=\n        -----END PRIVATE KEY-----\n";
const LOCK: &str = "run/lock/regtrust.lock";

fn apply_cmd(root: &Path, spec: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regtrust"));
    c.args(["apply", "--containerd", "1.7", "--root"])
        .arg(root)
        .arg("--spec")
        .arg(spec)
        .args(extra);
    c
}

fn apply(root: &Path, spec: &Path, extra: &[&str]) -> Output {
    apply_cmd(root, spec, extra).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}stderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn new_root(dir: &Path, name: &str) -> PathBuf {
    let root = dir.join(name);
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), CONFIG).unwrap();
    root
}

/// Every file under `dir` (dot files included), relative, with its content and mode.
fn files(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, (Vec<u8>, u32)>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                let mode = meta.permissions().mode() & 0o7777;
                out.insert(rel, (fs::read(&p).unwrap_or_default(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn temp_files(root: &Path) -> Vec<String> {
    files(root)
        .into_keys()
        .filter(|p| p.ends_with(".regtrust-tmp"))
        .collect()
}

#[test]
fn overlapping_applies_with_two_specs_leave_exactly_one_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec_a = dir.path().join("a.yaml");
    let spec_b = dir.path().join("b.yaml");
    fs::write(&spec_a, SPEC_A).unwrap();
    fs::write(&spec_b, SPEC_B).unwrap();
    // What one undisturbed run of each spec leaves in certs.d.
    let expect = |spec: &Path, name: &str| {
        let root = new_root(dir.path(), name);
        let o = apply(&root, spec, &[]);
        assert!(o.status.success(), "{}", text(&o));
        files(&root.join("etc/containerd/certs.d"))
    };
    let want_a = expect(&spec_a, "reference-a");
    let want_b = expect(&spec_b, "reference-b");
    assert!(want_a.keys().all(|k| !want_b.contains_key(k)));

    for round in 1..=5 {
        let root = new_root(dir.path(), &format!("round-{round}"));
        let children: Vec<_> = (0..6)
            .map(|i| {
                let spec = if i % 2 == 0 { &spec_a } else { &spec_b };
                apply_cmd(&root, spec, &[])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for (i, o) in outputs.iter().enumerate() {
            assert!(
                o.status.success(),
                "round {round}, run {i} failed:\n{}",
                text(o)
            );
        }
        let leftovers = temp_files(&root);
        assert!(
            leftovers.is_empty(),
            "round {round}: temp files left: {leftovers:?}"
        );
        let got = files(&root.join("etc/containerd/certs.d"));
        let (winner, loser) = if got == want_a {
            (&spec_a, &spec_b)
        } else if got == want_b {
            (&spec_b, &spec_a)
        } else {
            panic!(
                "round {round}: certs.d holds neither spec A nor spec B exactly: {:?}",
                got.keys().collect::<Vec<_>>()
            );
        };
        let check = apply(&root, winner, &["--check"]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
        let other = apply(&root, loser, &["--check"]);
        assert_eq!(other.status.code(), Some(1), "{}", text(&other));
    }
}

/// Opens (creating it and its directories) the lock file under `root` and takes it.
fn hold_lock(root: &Path) -> fs::File {
    let path = root.join(LOCK);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    f.lock().unwrap();
    f
}

#[test]
fn a_run_that_cannot_get_the_lock_in_time_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("a.yaml");
    fs::write(&spec, SPEC_A).unwrap();
    let root = new_root(dir.path(), "root");
    let held = hold_lock(&root);
    let before = files(&root);

    let started = std::time::Instant::now();
    let o = apply_cmd(&root, &spec, &[])
        .env("REGTRUST_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let lock = root.join(LOCK).display().to_string();
    assert!(
        err.contains(&format!(
            "regtrust: waiting for another regtrust run on this node (lock {lock})"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "error: another regtrust run on this node holds the lock {lock}"
        )) && err.contains("nothing was written"),
        "{err}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(files(&root), before, "a run without the lock wrote");

    // --check and --dry-run wait for the lock too: they never look at half a change.
    for mode in ["--check", "--dry-run"] {
        let o = apply_cmd(&root, &spec, &[mode])
            .env("REGTRUST_LOCK_TIMEOUT", "1")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{mode}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(&lock),
            "{mode}: {}",
            text(&o)
        );
    }
    assert_eq!(files(&root), before);

    drop(held);
    let o = apply_cmd(&root, &spec, &[])
        .env("REGTRUST_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("waiting"),
        "{}",
        text(&o)
    );
    assert_eq!(apply(&root, &spec, &["--check"]).status.code(), Some(0));
}

#[test]
fn a_run_waits_for_the_holder_and_then_applies() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("b.yaml");
    fs::write(&spec, SPEC_B).unwrap();
    let root = new_root(dir.path(), "root");
    let held = hold_lock(&root);
    let mut child = apply_cmd(&root, &spec, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it says it is waiting (after about a second), it has read nothing and written nothing.
    let waiting = "regtrust: waiting for another regtrust run on this node (lock ";
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with(waiting), "{first}");
    assert!(
        !root.join("etc/containerd/certs.d").exists(),
        "apply wrote while another run held the lock"
    );
    drop(held);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}\n{first}{rest}", text(&o));
    assert!(!rest.contains(waiting), "said it twice: {rest}");
    assert_eq!(apply(&root, &spec, &["--check"]).status.code(), Some(0));
}

#[test]
fn the_lock_file_is_created_with_mode_0644_in_0755_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("a.yaml");
    fs::write(&spec, SPEC_A).unwrap();
    let root = new_root(dir.path(), "root");
    let o = apply(&root, &spec, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(LOCK), 0o644);
    assert_eq!(mode("run/lock"), 0o755);
    assert_eq!(mode("run"), 0o755);
    assert_eq!(fs::read(root.join(LOCK)).unwrap(), b"");
}
