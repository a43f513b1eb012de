//! The containerd running on a root, seen through its socket `<root>/run/containerd/containerd.sock`
//! (never by running a binary): whether it answers, when it started, and — with the signal opt-in
//! of `apply --restart-containerd` — a restart.
//!
//! When it started: containerd removes and re-creates its socket file each time it starts
//! (`sys.GetLocalListener`), so the socket's inode change time is the start of the running
//! process. config.toml modified after that instant has not been read by it. The socket must
//! accept a connection, else it is a stale file of a containerd that is gone and nothing runs.
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// containerd's socket, as a node path.
pub const SOCKET: &str = "/run/containerd/containerd.sock";

/// A containerd that answers on the root's socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub socket: PathBuf,
    /// When it started: the socket file's inode change time.
    pub started: SystemTime,
    /// Its process id as this process sees it (SO_PEERCRED); None when it is in another PID
    /// namespace (a pod without `hostPID`).
    pub pid: Option<u32>,
}

/// The containerd answering on `<root>/run/containerd/containerd.sock`, if any.
pub fn running(root: &Path) -> Option<Running> {
    let socket = crate::root::resolve(root, SOCKET).ok()?;
    let meta = std::fs::metadata(&socket).ok()?;
    if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
        return None;
    }
    let stream = UnixStream::connect(&socket).ok()?;
    let pid = peer_pid(&stream);
    Some(Running {
        started: time_of(meta.ctime(), meta.ctime_nsec()),
        socket,
        pid,
    })
}

/// A file's modification time.
pub fn modified(path: &Path) -> Option<SystemTime> {
    let m = std::fs::metadata(path).ok()?;
    Some(time_of(m.mtime(), m.mtime_nsec()))
}

fn time_of(secs: i64, nsecs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs.max(0) as u64, nsecs.clamp(0, 999_999_999) as u32)
}

/// The peer's process id (0 from the kernel means: not in this PID namespace).
fn peer_pid(s: &UnixStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`, a ucred of that size.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// Whether the running containerd started before config.toml (at `config`) was last modified:
/// it has not read the file as it is. Some(sentence) saying so, else None.
pub fn pending_restart(r: &Running, config: &Path, config_node_path: &str) -> Option<String> {
    let changed = modified(config)?;
    (changed > r.started).then(|| {
        format!(
            "the running containerd has not read {config_node_path} as it is now: the file \
             changed {} after containerd started (its socket {SOCKET} was created at {}); \
             containerd must restart",
            ago(changed, r.started),
            rfc3339(r.started)
        )
    })
}

fn ago(later: SystemTime, earlier: SystemTime) -> String {
    let d = later.duration_since(earlier).unwrap_or_default();
    format!("{}.{:03} s", d.as_secs(), d.subsec_millis())
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), for the log.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Restarts the running containerd by sending SIGTERM to its process, for a service manager
/// that starts it again (systemd with `Restart=always`, as containerd's own unit has), then
/// waits up to `wait` for a new containerd on the socket. Ok(sentence) or Err(why not).
pub fn restart(root: &Path, r: &Running, wait: Duration) -> Result<String, String> {
    let pid = r.pid.ok_or(
        "containerd's process is not visible from here (another PID namespace: the pod needs \
         `hostPID: true`, which `render --restart-containerd` sets)",
    )?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim_end() != "containerd" {
        return Err(format!(
            "the process on containerd's socket (pid {pid}) is `{}`, not containerd: not \
             signalled",
            comm.trim_end()
        ));
    }
    // SAFETY: kill(2) with a pid read from the kernel and a constant signal.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) } != 0 {
        return Err(format!(
            "SIGTERM to containerd (pid {pid}): {}",
            std::io::Error::last_os_error()
        ));
    }
    let start = std::time::Instant::now();
    while start.elapsed() < wait {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(now) = running(root)
            && now.started > r.started
        {
            return Ok(format!(
                "sent SIGTERM to containerd (pid {pid}); a new containerd answers on {SOCKET}{}",
                now.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ));
        }
    }
    Err(format!(
        "sent SIGTERM to containerd (pid {pid}), and no new containerd answered on {SOCKET} \
         within {} s: its service manager must start it again (systemd: `Restart=always` in \
         containerd.service)",
        wait.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_600_000);
        assert_eq!(rfc3339(t), "2026-11-25T09:46:40Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_listening_socket_is_running_a_stale_one_is_not() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("run/containerd");
        std::fs::create_dir_all(&dir).unwrap();
        let config = root.path().join("config.toml");
        std::fs::write(&config, "version = 2\n").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let sock = dir.join("containerd.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let r = running(root.path()).expect("a listening socket answers");
        assert_eq!(r.pid, Some(std::process::id()), "SO_PEERCRED: this process");
        let node = "/etc/containerd/config.toml";
        assert_eq!(
            pending_restart(&r, &config, node),
            None,
            "written before the start"
        );
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&config, "version = 2\n# edited\n").unwrap();
        assert!(
            pending_restart(&r, &config, node).is_some(),
            "written after the start"
        );
        drop(listener);
        assert_eq!(running(root.path()), None, "nobody listens: not running");
    }
}
