//! The node lock: one `regtrust apply` at a time on a node (or an image root).
//!
//! The lock is an exclusive `flock(2)` on the whole file `/run/lock/regtrust.lock` under the root,
//! the same lock `flock(1)` takes, so the boot-time scripts can share it. The kernel drops it when
//! its holder exits, however it exits. The file is never removed: removing a lock file that
//! another process may have opened would let two runs hold "the" lock at once.
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file, as a node path.
pub const NODE_PATH: &str = "/run/lock/regtrust.lock";
/// How long a run waits for another run before it gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Overrides [`DEFAULT_TIMEOUT`], in seconds (mainly for tests).
pub const TIMEOUT_ENV: &str = "REGTRUST_LOCK_TIMEOUT";
/// After this long, a waiting run says once what it is waiting for.
const ANNOUNCE_AFTER: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(50);

/// `Exclusive` for a run that writes; `Shared` for runs that only read (`--check`,
/// `--dry-run`): any number of them at once, never during a run that writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Exclusive,
    Shared,
}

/// A held lock; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct NodeLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug)]
pub enum LockError {
    /// The lock file could not be created or opened.
    Io { path: PathBuf, error: io::Error },
    /// Another run held the lock for the whole timeout.
    Timeout { path: PathBuf, waited: Duration },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Io { path, error } => {
                write!(f, "cannot take the lock {}: {error}", path.display())
            }
            LockError::Timeout { path, waited } => write!(
                f,
                "another regtrust run on this node holds the lock {}; gave up waiting after {} s \
                 (set {TIMEOUT_ENV} to wait longer)",
                path.display(),
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for LockError {}

/// The lock file under `root` (resolved inside the root, like every node path).
pub fn path(root: &Path) -> std::io::Result<PathBuf> {
    crate::root::resolve(root, NODE_PATH)
}

/// The timeout: [`TIMEOUT_ENV`] in seconds if set, else [`DEFAULT_TIMEOUT`].
pub fn timeout_from_env() -> Result<Duration, String> {
    match std::env::var(TIMEOUT_ENV) {
        Err(_) => Ok(DEFAULT_TIMEOUT),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .ok_or_else(|| format!("{TIMEOUT_ENV}={v}: expected a number of seconds")),
    }
}

/// Takes the lock of the node at `root`, waiting up to `timeout` for another run to release it.
/// With `create`, the lock file (and its directories, mode 0755) is created if missing (mode
/// 0644); without, a missing lock file means no run holds the lock, and `Ok(None)` is returned.
pub fn acquire(
    root: &Path,
    mode: Mode,
    timeout: Duration,
    create: bool,
) -> Result<Option<NodeLock>, LockError> {
    let path = path(root).map_err(|error| LockError::Io {
        path: root.join(NODE_PATH.trim_start_matches('/')),
        error,
    })?;
    let io = |error| LockError::Io {
        path: path.clone(),
        error,
    };
    let Some(file) = open(&path, create).map_err(io)? else {
        return Ok(None);
    };
    let start = Instant::now();
    let mut announced = false;
    loop {
        let attempt = match mode {
            Mode::Exclusive => file.try_lock(),
            Mode::Shared => file.try_lock_shared(),
        };
        match attempt {
            Ok(()) => return Ok(Some(NodeLock { _file: file, path })),
            Err(fs::TryLockError::WouldBlock) => {}
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let waited = start.elapsed();
        if !announced && waited >= ANNOUNCE_AFTER {
            eprintln!(
                "regtrust: waiting for another regtrust run on this node (lock {})",
                path.display()
            );
            announced = true;
        }
        if waited >= timeout {
            return Err(LockError::Timeout { path, waited });
        }
        std::thread::sleep(POLL.min(timeout - waited));
    }
}

/// Opens the lock file read-only (enough for flock, whoever owns the file).
fn open(path: &Path, create: bool) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) => return Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        create_dirs(dir)?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
    {
        Ok(f) => {
            // Whatever the umask says.
            f.set_permissions(Permissions::from_mode(0o644))?;
            Ok(Some(f))
        }
        // Another run created it just now.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => File::open(path).map(Some),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents, each with mode 0755.
fn create_dirs(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => fs::set_permissions(dir, Permissions::from_mode(0o755)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}
