//! The only code that writes to disk: root prefixes, atomic writes (temp file + rename), backups.
use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Test hook, honoured by debug builds only: with `REGTRUST_FAILPOINT=N` the process aborts
/// (as if killed) just before its N-th write step (a temp file, the second half of its content,
/// a rename, a removal), so tests can check what an interrupted apply leaves behind. Release
/// builds ignore it.
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

/// Writes one file atomically (temp file with `mode` from the start, then rename).
pub fn write_file(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let mut tx = Transaction::default();
    tx.stage(path, content, mode)?;
    tx.commit()
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

/// A set of files written (and removed) as one step: new contents are staged to temp files,
/// then renamed into place; removals happen at the same point. If staging fails, everything
/// staged (and every directory created) is removed again; if the commit fails midway, every
/// file already replaced or removed is put back as it was when it was staged.
#[derive(Default)]
pub struct Transaction {
    steps: Vec<Step>,
    created_dirs: Vec<PathBuf>,
    /// fsync every file before the renames, and every directory after them (for live nodes).
    durable: bool,
}

/// One file of a transaction.
struct Step {
    dest: PathBuf,
    /// The temp file holding the new content; `None`: the step removes `dest`.
    tmp: Option<PathBuf>,
    /// What `dest` was when the step was staged: what a rollback puts back.
    previous: Previous,
}

impl Transaction {
    /// A transaction that survives a power cut: for files a node boots with.
    pub fn durable() -> Transaction {
        Transaction {
            steps: Vec::new(),
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
        let previous = Previous::read(path)?;
        let tmp = temp_name(path);
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        self.steps.push(Step {
            dest: path.to_path_buf(),
            tmp: Some(tmp),
            previous,
        });
        // A write step between the two halves: a kill there leaves a temp file cut short.
        let (first, rest) = content.split_at(content.len() / 2);
        f.write_all(first)?;
        write_step();
        f.write_all(rest)?;
        f.set_permissions(Permissions::from_mode(mode))?;
        // Durability comes from one syncfs per filesystem at commit, not one fsync per file.
        Ok(())
    }

    fn create_dirs(&mut self, dir: &Path) -> io::Result<()> {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        fs::create_dir(dir).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                // Something that is not a directory (a file, a dangling link) is in the way.
                io::Error::new(
                    e.kind(),
                    format!(
                        "{} exists and is not a directory, where a directory is needed",
                        dir.display()
                    ),
                )
            } else {
                e
            }
        })?;
        fs::set_permissions(dir, Permissions::from_mode(0o755))?;
        self.created_dirs.push(dir.to_path_buf());
        Ok(())
    }

    /// Stages the removal of `path` (done by the commit, undone by its rollback). A missing
    /// file, or the temp file of a write staged here (already gone), needs nothing.
    pub fn stage_remove(&mut self, path: &Path) -> io::Result<()> {
        if self.steps.iter().any(|s| s.tmp.as_deref() == Some(path)) {
            return Ok(());
        }
        match Previous::read(path) {
            Ok(Previous::Absent) => Ok(()),
            Ok(previous) => {
                self.steps.push(Step {
                    dest: path.to_path_buf(),
                    tmp: None,
                    previous,
                });
                Ok(())
            }
            Err(e) => {
                self.abort();
                Err(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            }
        }
    }

    /// Removes everything staged so far.
    pub fn abort(&mut self) {
        for step in self.steps.drain(..) {
            if let Some(tmp) = step.tmp {
                let _ = fs::remove_file(tmp);
            }
        }
        for d in self.created_dirs.drain(..).rev() {
            let _ = fs::remove_dir(d);
        }
    }

    /// Renames every staged file into place and removes every staged removal, in staging order.
    /// If a step fails, the files already replaced or removed are put back (see
    /// [`Transaction::commit_or_roll_back`]) and the error says which could not be.
    pub fn commit(self) -> io::Result<()> {
        self.commit_or_roll_back().map_err(io::Error::from)
    }

    /// [`Transaction::commit`], with a failure that tells whether the rollback was complete:
    /// the files already replaced get their previous content and mode back (through a temp
    /// file and a rename, so each is whole at every moment), files that did not exist are
    /// removed, removed files come back; then the remaining temp files and the directories
    /// this transaction created are removed.
    pub fn commit_or_roll_back(mut self) -> Result<(), CommitError> {
        let steps = std::mem::take(&mut self.steps);
        if self.durable {
            // Every staged file's content reaches the disk before any rename makes it visible.
            sync_filesystems(steps.iter().filter_map(|s| s.dest.parent()));
        }
        let mut dirs = std::collections::BTreeSet::new();
        let mut done: Vec<&Step> = Vec::new();
        for step in &steps {
            write_step();
            let result = match &step.tmp {
                Some(tmp) => fs::rename(tmp, &step.dest).map(|()| true),
                None => match fs::remove_file(&step.dest) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(changed) => {
                    if changed {
                        done.push(step);
                    }
                    dirs.extend(step.dest.parent().map(Path::to_path_buf));
                }
                Err(e) => {
                    let error = io::Error::new(e.kind(), format!("{}: {e}", step.dest.display()));
                    let unrestored = roll_back(&done, self.durable);
                    drop(done);
                    self.steps = steps;
                    self.abort();
                    return Err(CommitError { error, unrestored });
                }
            }
        }
        self.created_dirs.clear();
        if self.durable {
            // The renames (directory entries) reach the disk too.
            sync_filesystems(dirs.iter().map(PathBuf::as_path));
        }
        Ok(())
    }
}

/// A commit that failed, after its rollback.
#[derive(Debug)]
pub struct CommitError {
    /// The step that failed (it changed nothing itself).
    pub error: io::Error,
    /// Files the rollback could not put back, each with why; they hold the new content (or
    /// stay removed). Empty: every file is as it was before the commit.
    pub unrestored: Vec<(PathBuf, io::Error)>,
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if !self.unrestored.is_empty() {
            f.write_str("; could not put back: ")?;
            for (i, (path, e)) in self.unrestored.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{} ({e})", path.display())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for CommitError {}

impl From<CommitError> for io::Error {
    fn from(e: CommitError) -> io::Error {
        io::Error::new(e.error.kind(), e.to_string())
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

/// Whether `path` is a regular file this process can open for reading.
pub fn is_readable_file(path: &Path) -> bool {
    fs::File::open(path).is_ok_and(|f| f.metadata().is_ok_and(|m| m.is_file()))
}

/// The file's permission bits, if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// What a path held before a transaction touched it.
enum Previous {
    Absent,
    File {
        content: Vec<u8>,
        mode: u32,
        owner: (u32, u32),
    },
    Symlink(PathBuf),
}

impl Previous {
    /// Reads what `path` is now. A directory (or another special file) cannot be replaced by a
    /// file, so it is an error here rather than halfway through a commit.
    fn read(path: &Path) -> io::Result<Previous> {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Previous::Absent),
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            return fs::read_link(path).map(Previous::Symlink);
        }
        if meta.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        Ok(Previous::File {
            content: fs::read(path)?,
            mode: meta.mode() & 0o7777,
            owner: (meta.uid(), meta.gid()),
        })
    }
}

/// Puts back every step in `done`, last first; returns the files that could not be.
fn roll_back(done: &[&Step], durable: bool) -> Vec<(PathBuf, io::Error)> {
    let mut failed = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for step in done.iter().rev() {
        if let Err(e) = restore(&step.dest, &step.previous, durable) {
            failed.push((step.dest.clone(), e));
        }
        dirs.extend(step.dest.parent().map(Path::to_path_buf));
    }
    if durable {
        sync_dirs(dirs);
    }
    failed.reverse();
    failed
}

/// Makes `dest` what it was: the old content and mode through a temp file and a rename, the old
/// symlink, or nothing.
fn restore(dest: &Path, previous: &Previous, durable: bool) -> io::Result<()> {
    let tmp = temp_name(dest);
    let result = match previous {
        Previous::Absent => {
            return match fs::remove_file(dest) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        Previous::Symlink(target) => {
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(target, &tmp).and_then(|()| fs::rename(&tmp, dest))
        }
        Previous::File {
            content,
            mode,
            owner,
        } => {
            let _ = fs::remove_file(&tmp);
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(*mode)
                .open(&tmp)
                .and_then(|mut f| {
                    f.write_all(content)?;
                    // Only root may give a file away; anyone else restores their own files.
                    let _ = std::os::unix::fs::fchown(&f, Some(owner.0), Some(owner.1));
                    f.set_permissions(Permissions::from_mode(*mode))?;
                    if durable {
                        f.sync_all()?;
                    }
                    fs::rename(&tmp, dest)
                })
        }
    };
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// fsyncs directories, so renames and removals in them survive a power cut.
fn sync_dirs(dirs: impl IntoIterator<Item = PathBuf>) {
    for d in dirs {
        if let Ok(f) = fs::File::open(d) {
            let _ = f.sync_all();
        }
    }
}

/// One `syncfs(2)` per filesystem holding one of `dirs`: writes every dirty file and directory
/// of that filesystem to disk at once (thousands of files cost one call, not one fsync each).
/// Where syncfs fails, sync(2) does the same for every filesystem.
fn sync_filesystems<'a>(dirs: impl IntoIterator<Item = &'a Path>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let mut done = std::collections::BTreeSet::new();
    for d in dirs {
        let Ok(f) = fs::File::open(d) else { continue };
        let Ok(dev) = f.metadata().map(|m| m.dev()) else {
            continue;
        };
        if !done.insert(dev) {
            continue;
        }
        // SAFETY: syncfs only reads the file descriptor, which `f` keeps open.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            // SAFETY: sync takes no arguments and cannot fail.
            unsafe { libc::sync() };
        }
    }
}
