//! A node for the fault tests: a scratch root with a hand-tuned config.toml, two specs to change
//! between, `apply` with an optional failpoint, and a snapshot of a tree with modes and links.
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const CONFIG: &str = "# hand-tuned\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";
pub const SPEC_A: &str = "registries:\n  - host: a.example:5000\n    http: true\n  - host: gone.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n";
pub const SPEC_B: &str = "registries:\n  - host: a.example:5000\n    http: true\n    headers:\n      X-Changed: \"yes\"\n  - host: new.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MAA=\n      -----END CERTIFICATE-----\n    client:\n      cert_pem: |\n        -----BEGIN CERTIFICATE-----\n        MAA=\n        -----END CERTIFICATE-----\n      key_pem: |\n        -----BEGIN PRIVATE KEY-----\n        MAA=\n        -----END PRIVATE KEY-----\n";

pub fn apply(root: &Path, spec: &Path, failpoint: Option<usize>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_regtrust"));
    c.args(["apply", "--containerd", "1.7", "--spec"])
        .arg(spec)
        .arg("--root")
        .arg(root);
    if let Some(n) = failpoint {
        c.env("REGTRUST_FAILPOINT", n.to_string());
    }
    c.output().unwrap()
}

pub fn node(spec: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), CONFIG).unwrap();
    let spec_path = dir.path().join("spec.yaml");
    fs::write(&spec_path, spec).unwrap();
    (dir, root, spec_path)
}

/// Every file, directory and symlink under `root` (dot files included): content or link
/// target, and permission bits.
pub fn snapshot_with_modes(root: &Path) -> BTreeMap<String, (String, u32)> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, (String, u32)>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&p).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap().display().to_string();
                out.insert(rel, (format!("-> {target}"), 0));
            } else if meta.is_dir() {
                out.insert(format!("{rel}/"), (String::new(), mode));
                walk(base, &p, out);
            } else {
                let text = String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned();
                out.insert(rel, (text, mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Makes `path` a non-empty directory: neither a rename nor a removal can replace it.
pub fn block(path: &Path) {
    let _ = fs::remove_file(path);
    fs::create_dir_all(path.join("in-the-way")).unwrap();
    fs::write(path.join("in-the-way/file"), "x").unwrap();
}
