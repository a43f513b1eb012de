//! The contract of the boot-time config.toml edit (`../shared/contracts.md`, "Outputs that run at
//! boot"): over one seed corpus (real configs as containerd and Debian ship them, the doctor
//! corpus, hand-written shapes in tests/config-corpus, and the fuzz seeds), the sh/awk script
//! either writes byte for byte the file `apply` writes, or refuses: non-zero exit, the file
//! unchanged, no backup. Run on a PATH without python3 (so nothing can catch a bad edit after
//! the fact) and, for the hand-written shapes, with every awk this machine has.
mod support;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use regtrust::containerd::Version;
use regtrust::emit::{config_patch, patch_script};

const WANT: &str = "/etc/containerd/certs.d";
const VERSIONS: [&str; 6] = ["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"];

/// A directory of links to the tools the script may use: a PATH without python3.
fn bare_path(dir: &Path, awk: &str) -> PathBuf {
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

struct Outcome {
    accepted: bool,
}

/// Runs the script for `version` on a root holding `seed` (None: no config.toml) and checks the
/// contract against `apply`'s patch of the same input.
fn check(dir: &Path, name: &str, version: &str, seed: Option<&[u8]>, path: &Path) -> Outcome {
    let v = Version::parse(version).unwrap();
    let root = dir.join(format!("{name}-{version}"));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let cfg = root.join("etc/containerd/config.toml");
    if let Some(s) = seed {
        fs::write(&cfg, s).unwrap();
    }
    let script = root.with_extension("sh");
    fs::write(&script, patch_script::render(v, WANT)).unwrap();
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
        })
        .ok(),
        None => config_patch::patch(&config_patch::PatchRequest {
            existing: None,
            containerd: v,
            config_path: Some(WANT),
            covered_dirs: &covered,
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
        Outcome { accepted: true }
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
        Outcome { accepted: false }
    }
}

fn hand_seeds() -> Vec<(String, Vec<u8>)> {
    let dir = support::manifest_dir().join("tests/config-corpus");
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

fn real_seeds() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    for ver in ["1.6", "1.7", "2.1"] {
        v.push((
            format!("debian-{ver}"),
            support::debian_config(ver).into_bytes(),
        ));
        v.push((
            format!("default-{ver}"),
            support::default_config(ver).into_bytes(),
        ));
    }
    let doctor = support::manifest_dir().join("tests/doctor");
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

/// Shapes real configs have: the script must edit them, not refuse (name, oldest containerd
/// that reads the file's version).
const MUST_ACCEPT: &[(&str, &str)] = &[
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

fn must_accept(name: &str, version: &str) -> bool {
    MUST_ACCEPT
        .iter()
        .any(|(n, min)| *n == name && version >= *min)
}

#[test]
fn boot_patch_is_byte_equal_to_apply_or_refuses_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    let mut refused = Vec::new();
    for (name, seed) in hand_seeds() {
        for version in VERSIONS {
            let out = check(dir.path(), &name, version, Some(&seed), &path);
            if name.starts_with("hostile-") {
                assert!(
                    !out.accepted,
                    "{name} on {version}: a hostile shape was edited"
                );
            }
            if !out.accepted {
                refused.push(format!("{name}@{version}"));
            }
            if must_accept(&name, version) {
                assert!(out.accepted, "{name} on {version} was refused");
            }
        }
    }
    for version in VERSIONS {
        assert!(check(dir.path(), "missing", version, None, &path).accepted);
    }
    for (name, seed) in real_seeds() {
        for version in ["1.6", "1.7", "2.1", "2.3"] {
            let out = check(dir.path(), &name, version, Some(&seed), &path);
            let shipped = name.starts_with("debian-") || name.starts_with("default-");
            let readable = !name.ends_with("2.1") || version >= "2.0";
            if shipped && readable {
                assert!(out.accepted, "{name} on {version} was refused");
            }
        }
    }
    eprintln!("refused: {}", refused.join(" "));
}

/// The fuzz seeds of the config patch target (first byte: the containerd version, as the fuzz
/// target reads it).
#[test]
fn boot_patch_contract_holds_on_the_fuzz_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = bare_path(dir.path(), "/usr/bin/awk");
    let corpus = support::manifest_dir().join("fuzz/corpus/config_patch");
    let mut files: Vec<_> = fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fuzz seeds in {}", corpus.display());
    let (mut accepted, mut total) = (0, 0);
    for f in &files {
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
    eprintln!("fuzz seeds: {accepted} of {total} edited, the rest refused unchanged");
}

/// The same shapes with every other awk found here (gawk, busybox): the script runs on nodes
/// whose awk is not Debian's mawk.
#[test]
fn boot_patch_contract_holds_with_other_awks() {
    let dir = tempfile::tempdir().unwrap();
    let mut awks = Vec::new();
    for (awk, probe) in [
        ("/usr/bin/gawk", "/usr/bin/gawk"),
        ("/bin/busybox", "/bin/busybox"),
        ("/usr/bin/original-awk", "/usr/bin/original-awk"),
    ] {
        if Path::new(probe).exists() {
            awks.push(awk);
        }
    }
    assert!(
        awks.len() >= 2,
        "gawk and busybox are needed for this test: run .ci/install-deps"
    );
    for awk in awks {
        let path = bare_path(dir.path(), awk);
        for (name, seed) in hand_seeds() {
            for version in ["1.7", "2.1"] {
                let tag = format!("{}-{name}", awk.replace('/', "_"));
                let out = check(dir.path(), &tag, version, Some(&seed), &path);
                if must_accept(&name, version) {
                    assert!(out.accepted, "{name} on {version} with {awk} was refused");
                }
            }
        }
    }
}
