//! The only code that writes to disk: root prefixes, atomic writes (temp file + rename), backups.
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Test hook, honoured by debug builds only: with `REGTRUST_FAILPOINT=N` the process aborts
/// (as if killed) just before its N-th write step (a temp file, a rename, a removal), so tests
/// can check what an interrupted apply leaves behind. Release builds ignore it.
pub fn write_step() {
    if !cfg!(debug_assertions) {
        return;
    }
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static LIMIT: OnceLock<Option<usize>> = OnceLock::new();
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let limit = LIMIT.get_or_init(|| {
        std::env::var("REGTRUST_FAILPOINT")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    let step = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    if *limit == Some(step) {
        std::process::abort();
    }
}

/// Name of the temp file a write goes through first.
pub const TEMP_SUFFIX: &str = ".regtrust-tmp";

/// `root` + an absolute node path.
pub fn under_root(root: &Path, node_path: &str) -> PathBuf {
    root.join(node_path.trim_start_matches('/'))
}

/// Reads a file that may be absent. Any other error is an error.
pub fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs::read(path) {
        Ok(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{TEMP_SUFFIX}"))
}

/// A set of files written as one step: staged to temp files, then renamed into place.
/// If staging fails, everything staged (and every directory created) is removed again.
#[derive(Default)]
pub struct Transaction {
    staged: Vec<(PathBuf, PathBuf)>,
    created_dirs: Vec<PathBuf>,
    /// fsync every file before the renames, and every directory after them (for live nodes).
    durable: bool,
}

impl Transaction {
    /// A transaction that survives a power cut: for files a node boots with.
    pub fn durable() -> Transaction {
        Transaction {
            staged: Vec::new(),
            created_dirs: Vec::new(),
            durable: true,
        }
    }

    pub fn stage(&mut self, path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
        let result = self.stage_inner(path, content, mode);
        if let Err(e) = result {
            self.abort();
            return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
        }
        Ok(())
    }

    fn stage_inner(&mut self, path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
        write_step();
        if let Some(parent) = path.parent() {
            self.create_dirs(parent)?;
        }
        let tmp = temp_name(path);
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        self.staged.push((tmp.clone(), path.to_path_buf()));
        f.write_all(content)?;
        f.set_permissions(Permissions::from_mode(mode))?;
        if self.durable {
            f.sync_all()?;
        }
        Ok(())
    }

    fn create_dirs(&mut self, dir: &Path) -> io::Result<()> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        fs::create_dir(dir)?;
        fs::set_permissions(dir, Permissions::from_mode(0o755))?;
        self.created_dirs.push(dir.to_path_buf());
        Ok(())
    }

    /// Removes everything staged so far.
    pub fn abort(&mut self) {
        for (tmp, _) in self.staged.drain(..) {
            let _ = fs::remove_file(tmp);
        }
        for d in self.created_dirs.drain(..).rev() {
            let _ = fs::remove_dir(d);
        }
    }

    /// Renames every staged file into place, in staging order.
    pub fn commit(mut self) -> io::Result<()> {
        let staged = std::mem::take(&mut self.staged);
        let mut dirs = std::collections::BTreeSet::new();
        for (tmp, dest) in &staged {
            write_step();
            fs::rename(tmp, dest)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dest.display())))?;
            dirs.extend(dest.parent().map(Path::to_path_buf));
        }
        self.created_dirs.clear();
        if self.durable {
            for d in dirs {
                if let Ok(f) = fs::File::open(d) {
                    let _ = f.sync_all();
                }
            }
        }
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Removes a file if present.
pub fn remove_file(path: &Path) -> io::Result<()> {
    write_step();
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes a directory if it is empty; keeps it otherwise.
pub fn remove_dir_if_empty(path: &Path) {
    let _ = fs::remove_dir(path);
}

/// The file's permission bits, if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}
