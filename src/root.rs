//! Node paths under `--root`, resolved as if the root were `/` (what `openat2(RESOLVE_IN_ROOT)`
//! does in the kernel): every symlink on the way is followed inside the root, an absolute target
//! is taken from the root, and `..` stops at the root. So a link in an image (`etc/containerd ->
//! /opt/x`) leads to `<root>/opt/x`, never to the build host's `/opt/x`.
//!
//! The walk is done with `lstat`/`readlink` from user space, so a tree that changes while regtrust
//! runs could still race it; roots are images or a host's `/` that regtrust is the only writer of.
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution follows before it gives up (Linux's limit).
const MAX_LINKS: usize = 40;

/// Resolves `node_path` (absolute, as on the node) under `root`, following every symlink inside
/// the root, the last component too.
pub fn resolve(root: &Path, node_path: &str) -> io::Result<PathBuf> {
    let parts = walk(root, Vec::new(), components(Path::new(node_path)))?;
    Ok(join(root, &parts))
}

/// Whether `node_path` exists under `root`, resolved as on the node (an absolute symlink in the
/// root leads inside the root, not to this machine's file).
pub fn exists(root: &Path, node_path: &str) -> bool {
    resolve(root, node_path).is_ok_and(|p| p.symlink_metadata().is_ok())
}

/// A resolver that remembers the directories it resolved: for many files in few directories.
pub struct InRoot {
    root: PathBuf,
    dirs: RefCell<HashMap<String, Vec<OsString>>>,
}

impl InRoot {
    pub fn new(root: &Path) -> InRoot {
        InRoot {
            root: root.to_path_buf(),
            dirs: RefCell::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `node_path` resolved under the root (see [`resolve`]).
    pub fn path(&self, node_path: &str) -> io::Result<PathBuf> {
        let Some((dir, name)) = node_path.trim_end_matches('/').rsplit_once('/') else {
            return resolve(&self.root, node_path);
        };
        let cached = self.dirs.borrow().get(dir).cloned();
        let base = match cached {
            Some(b) => b,
            None => {
                let b = walk(&self.root, Vec::new(), components(Path::new(dir)))?;
                self.dirs.borrow_mut().insert(dir.to_string(), b.clone());
                b
            }
        };
        let parts = walk(&self.root, base, components(Path::new(name)))?;
        Ok(join(&self.root, &parts))
    }
}

fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

/// Walks `todo` from `done` (components below the root that contain no symlink).
fn walk(
    root: &Path,
    mut done: Vec<OsString>,
    mut todo: VecDeque<OsString>,
) -> io::Result<Vec<OsString>> {
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let candidate = join(root, &done).join(&c);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!(
                        "{}: too many levels of symbolic links",
                        candidate.display()
                    )));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    done.clear();
                }
                let mut next = components(&target);
                next.extend(todo);
                todo = next;
            }
            Ok(_) => done.push(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => done.push(c),
            // A component that is not a directory: the access itself reports it.
            Err(e) if e.raw_os_error() == Some(20) => done.push(c),
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_are_followed_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("opt/x")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // Absolute, relative with a `..` chain past the root, and a link to a link.
        symlink("/opt/x", root.join("etc/containerd")).unwrap();
        symlink("../../../../../../opt/x", root.join("etc/up")).unwrap();
        symlink("containerd", root.join("etc/again")).unwrap();
        for (node, want) in [
            ("/etc/containerd/config.toml", "opt/x/config.toml"),
            ("/etc/up/config.toml", "opt/x/config.toml"),
            (
                "/etc/again/certs.d/h/hosts.toml",
                "opt/x/certs.d/h/hosts.toml",
            ),
            ("/etc/../../../etc/containerd", "opt/x"),
            ("/new/dir/file", "new/dir/file"),
        ] {
            assert_eq!(resolve(&root, node).unwrap(), root.join(want), "{node}");
            assert_eq!(
                InRoot::new(&root).path(node).unwrap(),
                root.join(want),
                "{node}"
            );
        }
    }

    #[test]
    fn loops_are_an_error_not_a_hang() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc/b", root.join("etc/a")).unwrap();
        symlink("/etc/a", root.join("etc/b")).unwrap();
        let e = resolve(root, "/etc/a/config.toml").unwrap_err();
        assert!(e.to_string().contains("too many levels"), "{e}");
    }
}
