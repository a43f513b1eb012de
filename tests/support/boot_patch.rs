//! The contract of the boot-time config.toml edit (`../shared/contracts.md`, "Outputs that run at
//! boot"): the sh/awk script either writes byte for byte the file `apply` writes, or refuses:
//! non-zero exit, the file unchanged, no backup. Run on a PATH without python3 (so nothing can
//! catch a bad edit after the fact). The fast suite checks the hand-written shapes, the doctor
//! corpus and the fuzz seeds with this machine's awk; the real suite checks the configs real
//! containerd ships, the fuzz corpus grown by CI's fuzz step, and other awks (gawk, busybox).
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use regtrust::containerd::Version;
use regtrust::emit::{config_patch, patch_script};

pub const WANT: &str = "/etc/containerd/certs.d";
pub const VERSIONS: [&str; 6] = ["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"];

/// A directory of links to the tools the script may use: a PATH without python3.
pub fn bare_path(dir: &Path, awk: &str) -> PathBuf {
    let bin = dir.join(format!("bin-{}", awk.replace('/', "_")));
    if bin.exists() {
        return bin;
    }
    fs::create_dir_all(&bin).unwrap();
    for tool in [
        "sh", "cat", "cmp", "cp", "mv", "rm", "chmod", "stat", "mkdir", "dirname", "basename",
        "tail", "tr", "wc", "sed", "head", "grep", "readlink", "flock", "sleep",
    ] {
        let found = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("`{tool}` is missing on this machine"));
        symlink(found, bin.join(tool)).unwrap();
    }
    let awk_path = Path::new(awk);
    if awk_path.is_absolute() {
        symlink(awk_path, bin.join("awk")).unwrap();
    } else {
        // busybox: `awk` as an applet.
        fs::write(
            bin.join("awk"),
            format!("#!/bin/sh\nexec {awk} awk \"$@\"\n"),
        )
        .unwrap();
        Command::new("chmod")
            .args(["755"])
            .arg(bin.join("awk"))
            .status()
            .unwrap();
    }
    assert!(
        !bin.join("python3").exists(),
        "the bare PATH must not hold python3"
    );
    bin
}

pub struct Outcome {
    pub accepted: bool,
    /// The file after the script (when it accepted).
    pub text: Option<String>,
}

/// Runs the script for `version` on a root holding `seed` (None: no config.toml) and checks the
/// contract against `apply`'s patch of the same input.
pub fn check(dir: &Path, name: &str, version: &str, seed: Option<&[u8]>, path: &Path) -> Outcome {
    check_with(dir, name, version, seed, path, &[])
}

/// [`check`] with credentials for config.toml (`method: config`): the script appends the blocks
/// of the credentials file the boot outputs write, `apply` its own; the file is then readable by
/// root only.
pub fn check_with(
    dir: &Path,
    name: &str,
    version: &str,
    seed: Option<&[u8]>,
    path: &Path,
    creds: &[regtrust::plan::ConfigCredential],
) -> Outcome {
    use regtrust::containerd::credentials::{PLUGIN_PLACEHOLDER, block};
    use std::os::unix::fs::PermissionsExt;
    let v = Version::parse(version).unwrap();
    let root = dir.join(format!("{name}-{version}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let cfg = root.join("etc/containerd/config.toml");
    if let Some(s) = seed {
        fs::write(&cfg, s).unwrap();
        fs::set_permissions(&cfg, fs::Permissions::from_mode(0o644)).unwrap();
    }
    if !creds.is_empty() {
        let blocks: String = creds.iter().map(|c| block(PLUGIN_PLACEHOLDER, c)).collect();
        fs::write(
            root.join("etc/containerd/config.toml.regtrust-credentials"),
            blocks,
        )
        .unwrap();
    }
    let script = root.with_extension("sh");
    fs::write(&script, patch_script::render(v, WANT, !creds.is_empty())).unwrap();
    let o = Command::new(path.join("sh"))
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("REGTRUST_ROOT", &root)
        .output()
        .unwrap();
    let log = format!(
        "{name} on {version}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let after = fs::read(&cfg).ok();
    let covered = BTreeSet::new();
    let text = seed.map(|s| std::str::from_utf8(s).map_err(drop));
    let by_apply = match text {
        Some(Err(())) => None, // apply refuses a file that is not UTF-8
        Some(Ok(t)) => config_patch::patch(&config_patch::PatchRequest {
            existing: Some(t),
            containerd: v,
            config_path: Some(WANT),
            covered_dirs: &covered,
            credentials: creds,
        })
        .ok(),
        None => config_patch::patch(&config_patch::PatchRequest {
            existing: None,
            containerd: v,
            config_path: Some(WANT),
            covered_dirs: &covered,
            credentials: creds,
        })
        .ok(),
    };
    let leftovers: Vec<_> = fs::read_dir(root.join("etc/containerd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("regtrust-tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "{log}\ntemp files left: {leftovers:?}"
    );
    if o.status.success() {
        let p = by_apply.unwrap_or_else(|| panic!("{log}\nthe script edited a file apply refuses"));
        assert_eq!(
            String::from_utf8_lossy(after.as_deref().unwrap_or_default()),
            p.text,
            "{log}\nthe script's file differs from apply's"
        );
        let bak = root.join("etc/containerd/config.toml.bak");
        match seed {
            Some(s) if p.changed => assert_eq!(fs::read(&bak).unwrap(), s, "{log}: backup"),
            _ => assert!(!bak.exists(), "{log}: backup without a change"),
        }
        let mode = fs::metadata(&cfg).unwrap().permissions().mode() & 0o7777;
        let want_mode = if creds.is_empty() { 0o644 } else { 0o600 };
        assert_eq!(mode, want_mode, "{log}: mode of config.toml");
        Outcome {
            accepted: true,
            text: Some(p.text),
        }
    } else {
        assert_eq!(o.status.code(), Some(1), "{log}");
        assert_eq!(
            after.as_deref(),
            seed,
            "{log}\nrefused, but the file changed"
        );
        assert!(
            !root.join("etc/containerd/config.toml.bak").exists(),
            "{log}: refused, yet a backup was written"
        );
        assert!(
            log.contains("regtrust apply"),
            "{log}: the refusal must point to apply"
        );
        assert!(!log.contains("restarting"), "{log}");
        Outcome {
            accepted: false,
            text: None,
        }
    }
}

pub fn hand_seeds() -> Vec<(String, Vec<u8>)> {
    let dir = super::manifest_dir().join("tests/config-corpus");
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.path().file_stem().unwrap().to_string_lossy().into_owned();
            (name, fs::read(e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Shapes real configs have: the script must edit them, not refuse (name, oldest containerd
/// that reads the file's version).
pub const MUST_ACCEPT: &[(&str, &str)] = &[
    ("already-set-v3", "2.0"),
    ("array-of-arrays", "1.6"),
    ("configs-auth-kept", "1.6"),
    ("empty", "1.6"),
    ("empty-inline-mirrors", "1.6"),
    ("list-single-quotes", "1.6"),
    ("literal-config-path", "2.0"),
    ("no-registry-trailing-comment", "1.6"),
    ("numbers", "1.6"),
    ("registry-last-with-comments", "1.6"),
    ("registry-then-subtable", "1.6"),
    ("single-quoted-plugin-no-registry", "2.0"),
    ("spaced-config-path", "1.6"),
    ("utf8-comments", "1.6"),
];

pub fn must_accept(name: &str, version: &str) -> bool {
    MUST_ACCEPT
        .iter()
        .any(|(n, min)| *n == name && version >= *min)
}

/// The configs of the doctor corpus (tests/doctor/<case>/root/etc/containerd/config.toml).
pub fn doctor_seeds() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let doctor = super::manifest_dir().join("tests/doctor");
    let mut cases: Vec<_> = fs::read_dir(doctor).unwrap().flatten().collect();
    cases.sort_by_key(|e| e.file_name());
    for e in cases {
        let cfg = e.path().join("root/etc/containerd/config.toml");
        if let Ok(b) = fs::read(&cfg) {
            v.push((format!("doctor-{}", e.file_name().to_string_lossy()), b));
        }
    }
    v
}

/// The configs projects ship (tests/project-configs/<case>/config.toml: kind, kubespray, EKS,
/// AKS, image-builder, minikube, MicroK8s, k3s, Bottlerocket, Talos; sources in each case.toml).
pub fn project_seeds() -> Vec<(String, Vec<u8>)> {
    let base = super::manifest_dir().join("tests/project-configs");
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(&base)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let b = fs::read(e.path().join("config.toml")).ok()?;
            Some((format!("project-{}", e.file_name().to_string_lossy()), b))
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 10,
        "the project configs are under {}",
        base.display()
    );
    v
}

/// The minimised seeds of the config patch fuzz target (fuzz/seeds/config_patch, tracked in git).
pub fn fuzz_seeds() -> Vec<PathBuf> {
    files_in(&super::manifest_dir().join("fuzz/seeds/config_patch"), "")
}

/// The working corpus of the config patch fuzz target (fuzz/corpus/config_patch, not tracked):
/// the seeds plus what fuzzing found. `.ci/run` fills it in its fuzz step, before the tests.
pub fn fuzz_corpus() -> Vec<PathBuf> {
    files_in(
        &super::manifest_dir().join("fuzz/corpus/config_patch"),
        ": it is filled by the fuzz step of .ci/run (or `cargo fuzz run config_patch`, which \
         starts from `cp fuzz/seeds/config_patch/* fuzz/corpus/config_patch/`)",
    )
}

fn files_in(dir: &Path, hint: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}{hint}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no fuzz inputs in {}{hint}",
        dir.display()
    );
    files
}

/// Checks the contract on fuzz inputs (first byte: the containerd version, as the fuzz target
/// reads it); returns (edited, total).
pub fn check_fuzz_inputs(files: &[PathBuf]) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    let (mut accepted, mut total) = (0, 0);
    for f in files {
        let data = fs::read(f).unwrap();
        let Some((&pick, rest)) = data.split_first() else {
            continue;
        };
        let version = VERSIONS[usize::from(pick) % 6];
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        total += 1;
        if check(dir.path(), &name, version, Some(rest), &path).accepted {
            accepted += 1;
        }
    }
    (accepted, total)
}
