//! The doctor corpus (tests/doctor/<case>/: a root tree and case.toml with the expected findings
//! and what containerd does on it): reading the cases, copying a case's root, and doctor's
//! findings as `level code file[:line]`.
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{manifest_dir, regtrust, run, snapshot};

pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub containerd: String,
    /// What real containerd does on the case: `pull-fails` (the HTTP error, or `pull_error`),
    /// `pulls`, `cri-down`, `no-start`, `systemdcgroup-reset`.
    pub behaviour: String,
    /// For `pull-fails`: a part of the error other than the HTTP one.
    pub pull_error: String,
    /// doctor's exit code: 1 (problems found), or 3 when it cannot read the node (contracts.md).
    pub doctor_exit: i32,
    pub hosts: bool,
    pub probe: bool,
    pub expected: BTreeSet<String>,
}

pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let base = manifest_dir().join("tests/doctor");
    let mut dirs: Vec<_> = fs::read_dir(&base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let doc: toml_edit::DocumentMut = fs::read_to_string(dir.join("case.toml"))
            .unwrap()
            .parse()
            .unwrap();
        let s = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let b = |k: &str, d: bool| doc.get(k).and_then(|v| v.as_bool()).unwrap_or(d);
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            containerd: s("containerd"),
            behaviour: s("behaviour"),
            pull_error: s("pull_error"),
            doctor_exit: doc
                .get("doctor_exit")
                .and_then(|v| v.as_integer())
                .unwrap_or(1) as i32,
            hosts: b("hosts", false),
            probe: b("probe", false),
            expected: doc["expected"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
            dir,
        });
    }
    assert!(out.len() >= 12, "the corpus is under tests/doctor");
    out
}

pub fn findings(o: &Output) -> BTreeSet<String> {
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --format json: {e}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let line = f["line"]
                .as_u64()
                .map(|l| format!(":{l}"))
                .unwrap_or_default();
            format!(
                "{} {} {}{line}",
                f["severity"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
                f["file"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn copy_root(c: &Case, to: &Path, spec: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    assert!(
        run(Command::new("cp").arg("-a").arg(c.dir.join("root")).arg(to))
            .status
            .success()
    );
    // git keeps no empty directories: the node's certs.d exists, as the package and apply make it.
    fs::create_dir_all(to.join("etc/containerd/certs.d")).unwrap();
    if c.hosts {
        let out = to.join("etc/containerd/certs.d");
        let o = regtrust(&[
            "render",
            "--spec",
            spec.to_str().unwrap(),
            "--target",
            "hosts",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success());
    }
}

/// `regtrust apply` on a copy of a case: every node doctor diagnoses is either fixed by apply
/// (`Ok(true)`: exit 0; the caller then checks that doctor is clean and the pull works) or
/// refused (`Ok(false)`: exit 3, the message names the file under the root and says what to do,
/// and the copy is left exactly as it was). Anything else is an `Err` describing it.
pub fn apply_fixes_or_refuses(c: &Case, root: &Path, spec: &Path) -> Result<bool, String> {
    let before: Vec<_> = snapshot(root)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("run/"))
        .collect();
    let a = regtrust(&[
        "apply",
        "--spec",
        spec.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--containerd",
        &c.containerd,
    ]);
    let err = String::from_utf8_lossy(&a.stderr).to_string();
    if a.status.success() {
        return Ok(true);
    }
    let after: Vec<_> = snapshot(root)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("run/"))
        .collect();
    if a.status.code() != Some(3) {
        return Err(format!(
            "{}: apply exited {:?}: {err}",
            c.name,
            a.status.code()
        ));
    }
    if before != after {
        return Err(format!(
            "{}: apply refused but changed the root: {err}",
            c.name
        ));
    }
    if !err.contains("/etc/containerd/") || !err.contains("then run regtrust apply") {
        return Err(format!(
            "{}: apply refused without naming the file and what to do: {err}",
            c.name
        ));
    }
    Ok(false)
}
