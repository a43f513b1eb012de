//! Real parts for the real-systems suite: docker-registry, skopeo, containerd in a private mount
//! namespace, cloud-init, and a CRI client. Nothing here is mocked; a missing tool, or a run
//! without root where namespaces are needed, fails the test loudly.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

pub const PYTHON: &str = "/usr/bin/python3";

/// Panics unless this runs as root (mount namespaces, containerd, cloud-init's modules).
pub fn require_root(what: &str) {
    let uid = run(Command::new("id").arg("-u"));
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "{what}: run the real-systems suite as root (CI does)"
    );
}

/// Panics with a clear message when `tool` is not on PATH.
pub fn require_tool(tool: &str, hint: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{tool}` is missing: {hint}");
}

/// A command running `sh -c script` in a private mount namespace (mounts made there stay there).
/// Needs root: checked here, so a non-root run fails with that message rather than unshare's.
pub fn in_namespace(script: &str) -> Command {
    require_root("a private mount namespace (unshare --mount) needs root");
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", script]);
    c
}

pub fn cache_dir() -> PathBuf {
    std::env::var_os("REGTRUST_E2E_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/regtrust-e2e"))
}

/// Panics with a clear message when the machine lacks what the end-to-end tests need.
pub fn require_e2e_prerequisites() {
    require_root("containerd in a private mount namespace needs root");
    for tool in ["docker-registry", "skopeo", "unshare", "mount"] {
        require_tool(tool, "run .ci/install-deps (as root)");
    }
    let grpc = Command::new(PYTHON).args(["-c", "import grpc"]).status();
    assert!(
        grpc.is_ok_and(|s| s.success()),
        "{PYTHON} cannot import grpc: install Debian's python3-grpcio (.ci/install-deps)"
    );
    for v in ["1.6", "1.7", "2.1"] {
        let b = containerd_bin(v);
        assert!(
            b.exists(),
            "{} is missing: run .ci/install-deps",
            b.display()
        );
    }
}

pub fn containerd_bin(version: &str) -> PathBuf {
    cache_dir().join(format!("containerd-{version}/usr/bin/containerd"))
}

/// The config.toml Debian ships in the containerd package of this version.
pub fn debian_config(version: &str) -> String {
    let p = cache_dir().join(format!("containerd-{version}/etc/containerd/config.toml"));
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `containerd config default` of this version.
pub fn default_config(version: &str) -> String {
    let out = run(Command::new(containerd_bin(version)).args(["config", "default"]));
    assert!(
        out.status.success(),
        "containerd {version} config default failed"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh, empty work directory under target/e2e/run-<pid>/ (kept after the run for
/// inspection): two runs at once never share one. Directories of runs whose process is gone are
/// removed the first time this is called.
pub fn work_dir(name: &str) -> PathBuf {
    static CLEANED: std::sync::Once = std::sync::Once::new();
    let base = manifest_dir().join("target/e2e");
    CLEANED.call_once(|| {
        let Ok(rd) = fs::read_dir(&base) else { return };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let gone = name
                .strip_prefix("run-")
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    });
    let d = base.join(format!("run-{}", std::process::id())).join(name);
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A loopback address for this run: `127.<a>.<b>.<n>`, with `a`, `b` from the process id, so two
/// runs at once (or this suite and another's tests) do not bind the same address.
pub fn loopback_ip(n: u8) -> String {
    let pid = std::process::id();
    format!("127.{}.{}.{n}", 1 + pid % 99, (pid / 99) % 250)
}

/// Waits until the server `child` started answers `GET /v2/` at `url` with 200 (`extra`: more
/// arguments for tests/e2e/v2_status.py: --ca, --cert/--key, --header) while the process is
/// alive; panics with its log when it exits or does not answer in 20 s.
pub fn wait_for_v2(child: &mut Child, url: &str, extra: &[&str], log: &Path) {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server for {url} exited ({status}):\n{}", tail(log));
        }
        let o = run(Command::new(PYTHON)
            .arg(manifest_dir().join("tests/e2e/v2_status.py"))
            .arg(url)
            .args(extra));
        if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "200" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{url} did not answer GET /v2/ with 200 in 20 s ({}):\n{}",
            String::from_utf8_lossy(&o.stdout).trim(),
            tail(log)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A plain-HTTP docker-registry (distribution) on a loopback address.
pub struct Registry {
    child: Child,
    pub addr: String,
}

impl Registry {
    pub fn start(dir: &Path, ip: &str) -> Registry {
        fs::create_dir_all(dir).unwrap();
        let addr = format!("{ip}:5000");
        let cfg = dir.join("config.yml");
        fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = fs::File::create(dir.join("registry.log")).unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        wait_for_v2(
            &mut child,
            &format!("http://{addr}"),
            &[],
            &dir.join("registry.log"),
        );
        Registry { child, addr }
    }

    /// Pushes an OCI layout image with skopeo, over plain HTTP.
    pub fn push(&self, layout: &Path, repo_tag: &str) {
        let out = run(Command::new("skopeo").args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            &format!("oci:{}:latest", layout.display()),
            &format!("docker://{}/{repo_tag}", self.addr),
        ]));
        assert!(
            out.status.success(),
            "skopeo push to {} failed: {}",
            self.addr,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a small single-layer OCI image layout.
pub fn make_image(dir: &Path, message: &str) -> PathBuf {
    let layout = dir.join("oci");
    let out = run(Command::new(PYTHON)
        .arg(manifest_dir().join("tests/e2e/make_oci_image.py"))
        .arg(&layout)
        .args(["latest", message]));
    assert!(
        out.status.success(),
        "make_oci_image: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    layout
}

/// containerd started on `<root>/etc/containerd/config.toml`, inside a private mount namespace
/// where that directory is /etc/containerd and `hosts` is /etc/hosts. Its state lives in `state`.
pub struct Containerd {
    child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
    /// Holds the socket: a short path under /tmp, since a unix socket path (containerd adds
    /// `.ttrpc`) must stay under 104 bytes, which deep work directories exceed.
    _socket_dir: Option<tempfile::TempDir>,
}

const NAMESPACE_SCRIPT: &str = r#"set -e
mount -t tmpfs regtrust-e2e /run
mount -t tmpfs regtrust-e2e /opt
mount -t tmpfs regtrust-e2e /var/lib
# A scratch root's k3s-style hosts directory, for configs whose config_path names it.
if [ -d "$E2E_ROOT/var/lib/rancher" ]; then
  mkdir -p /var/lib/rancher
  mount --bind "$E2E_ROOT/var/lib/rancher" /var/lib/rancher
fi
mount --bind "$E2E_ROOT/etc/containerd" /etc/containerd
# A Talos-style layout: the CRI drop-ins under /etc/cri.
if [ -d "$E2E_ROOT/etc/cri" ]; then
  mkdir -p /etc/cri
  mount --bind "$E2E_ROOT/etc/cri" /etc/cri
fi
mount --bind "$E2E_HOSTS" /etc/hosts
# Without a config.toml containerd runs on its defaults, as on a node (an explicit --config
# naming a missing file would be an error).
set --
if [ -e /etc/containerd/config.toml ]; then set -- --config /etc/containerd/config.toml; fi
exec "$E2E_BIN" "$@" --root "$E2E_STATE/root" --state "$E2E_STATE/state" --address "$E2E_SOCK"
"#;

impl Containerd {
    pub fn start(bin: &Path, root: &Path, hosts: &Path, state: &Path) -> Containerd {
        Containerd::try_start(bin, root, hosts, state).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts containerd and waits until its API answers (the Version service), not merely until
    /// its socket file exists; Err (with its log) when it exits first or does not answer in 30 s.
    pub fn try_start(
        bin: &Path,
        root: &Path,
        hosts: &Path,
        state: &Path,
    ) -> Result<Containerd, String> {
        let socket_dir = tempfile::Builder::new()
            .prefix("ctrd")
            .tempdir_in("/tmp")
            .unwrap();
        let socket = socket_dir.path().join("c.sock");
        let mut c = Containerd::try_start_at(bin, root, hosts, state, &socket)?;
        c._socket_dir = Some(socket_dir);
        Ok(c)
    }

    /// [`Containerd::try_start`] with the socket at `socket` (a short path: see `socket`); a
    /// restart is a drop and a new start at the same path.
    pub fn try_start_at(
        bin: &Path,
        root: &Path,
        hosts: &Path,
        state: &Path,
        socket: &Path,
    ) -> Result<Containerd, String> {
        fs::create_dir_all(state).unwrap();
        let log = state.join("containerd.log");
        let logf = fs::File::create(&log).unwrap();
        let socket = socket.to_path_buf();
        let mut child = in_namespace(NAMESPACE_SCRIPT)
            .env("E2E_ROOT", root)
            .env("E2E_HOSTS", hosts)
            .env("E2E_STATE", state)
            .env("E2E_SOCK", &socket)
            .env("E2E_BIN", bin)
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("start containerd");
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "containerd exited ({status}) before serving:\n{}",
                    tail(&log)
                ));
            }
            if socket.exists() {
                let v = run(Command::new(PYTHON)
                    .arg(manifest_dir().join("tests/e2e/containerd_version.py"))
                    .arg(&socket)
                    .arg("2"));
                if v.status.success() {
                    break;
                }
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "containerd's API at {} did not answer in 30 s:\n{}",
                    socket.display(),
                    tail(&log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Containerd {
            child,
            socket,
            log,
            _socket_dir: None,
        })
    }

    /// A CRI `runtime.v1.ImageService/PullImage` call: Ok(image ref) or Err(gRPC error).
    pub fn cri_pull(&self, image: &str) -> Result<String, String> {
        let out = run(Command::new(PYTHON)
            .arg(manifest_dir().join("tests/e2e/cri_pull.py"))
            .arg(&self.socket)
            .args([image, "60"]));
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match text.strip_prefix("PULLED ") {
            Some(r) if out.status.success() => Ok(r.to_string()),
            _ => Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr))),
        }
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs cloud-init's own `write_files` and `runcmd` modules on `userdata` inside a private mount
/// namespace where `<root>/etc/containerd` is /etc/containerd and `<root>/usr/local/sbin` is
/// /usr/local/sbin, then runs the runcmd script cloud-init wrote. Returns the combined output.
pub fn run_cloud_init(userdata: &Path, root: &Path) -> Output {
    run_cloud_init_env(userdata, root, &[])
}

/// [`run_cloud_init`] with more environment variables (e.g. a PATH whose `containerd` is
/// another release).
pub fn run_cloud_init_env(userdata: &Path, root: &Path, env: &[(&str, String)]) -> Output {
    require_tool(
        "cloud-init",
        "run .ci/install-deps (Debian package cloud-init)",
    );
    for d in [
        "etc/containerd",
        "usr/local/sbin",
        "etc/docker",
        "etc/containers",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    // /etc/docker and /etc/containers are the root's too: this machine has dockerd and podman,
    // which the user-data's runtimes script finds and configures.
    const SCRIPT: &str = r#"set -e
mount --bind "$E2E_ROOT/etc/containerd" /etc/containerd
mount --bind "$E2E_ROOT/usr/local/sbin" /usr/local/sbin
mount --bind "$E2E_ROOT/etc/docker" /etc/docker
mount --bind "$E2E_ROOT/etc/containers" /etc/containers
mount -t tmpfs regtrust-e2e /var/lib
mount -t tmpfs regtrust-e2e /run
mkdir -p /var/lib/cloud
cloud-init --file "$E2E_USERDATA" single --name write_files --frequency always
cloud-init --file "$E2E_USERDATA" single --name runcmd --frequency always
for s in /var/lib/cloud/instances/*/scripts/runcmd; do
  [ -e "$s" ] || continue
  echo "running $s"
  sh "$s"
done
"#;
    let mut c = in_namespace(SCRIPT);
    c.env("E2E_ROOT", root).env("E2E_USERDATA", userdata);
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c)
}

/// cloud-init's whole boot path on `userdata` (a `#cloud-config` document or a MIME multipart):
/// `cloud-init init` (NoCloud seed: the datasource reads it and the user-data processor merges
/// every part, as at boot), `cloud-init modules --mode config`, then `--mode final`, in a private
/// mount (and UTS) namespace where `<root>/etc/containerd`, `<root>/usr/local/sbin` and
/// `<root>/opt` are those directories, /etc/cloud holds a cloud.cfg that limits the modules to
/// write-files, runcmd and scripts-user (no network config, hostname or users are touched), and
/// /run, /var/lib and /var/log are tmpfs. Returns the combined output; the merged cloud-config
/// cloud-init wrote is printed between `--- merged ---` lines.
pub fn run_cloud_init_boot(userdata: &Path, root: &Path) -> Output {
    require_tool(
        "cloud-init",
        "run .ci/install-deps (Debian package cloud-init)",
    );
    for d in [
        "etc/containerd",
        "usr/local/sbin",
        "opt",
        "etc-cloud",
        "etc/docker",
        "etc/containers",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::write(
        root.join("etc-cloud/cloud.cfg"),
        "datasource_list: [NoCloud]\nnetwork: {config: disabled}\npreserve_hostname: true\n\
         manage_etc_hosts: false\nusers: []\ncloud_init_modules: [write-files]\n\
         cloud_config_modules: [runcmd]\ncloud_final_modules: [scripts-user]\n",
    )
    .unwrap();
    const SCRIPT: &str = r#"set -e
mount --bind "$E2E_ROOT/etc/containerd" /etc/containerd
mount --bind "$E2E_ROOT/usr/local/sbin" /usr/local/sbin
mount --bind "$E2E_ROOT/opt" /opt
mount --bind "$E2E_ROOT/etc-cloud" /etc/cloud
mount --bind "$E2E_ROOT/etc/docker" /etc/docker
mount --bind "$E2E_ROOT/etc/containers" /etc/containers
mount -t tmpfs regtrust-e2e /var/lib
mount -t tmpfs regtrust-e2e /var/log
mount -t tmpfs regtrust-e2e /run
mkdir -p /var/lib/cloud/seed/nocloud
cp "$E2E_USERDATA" /var/lib/cloud/seed/nocloud/user-data
echo "instance-id: iid-regtrust-e2e" > /var/lib/cloud/seed/nocloud/meta-data
cloud-init init
cloud-init modules --mode config
cloud-init modules --mode final
echo '--- merged ---'
cat /var/lib/cloud/instance/cloud-config.txt
echo '--- merged ---'
"#;
    run(in_namespace_uts(SCRIPT)
        .env("E2E_ROOT", root)
        .env("E2E_USERDATA", userdata))
}

/// [`in_namespace`] with a private UTS namespace too (nothing run there can rename this host).
pub fn in_namespace_uts(script: &str) -> Command {
    require_root("a private mount namespace (unshare --mount --uts) needs root");
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ]);
    c
}

/// What cloud-init would write for this user-data, read with PyYAML (tests/e2e/userdata_files.py).
pub fn userdata_files(userdata: &Path) -> serde_json::Value {
    let out = run(Command::new(PYTHON)
        .arg(manifest_dir().join("tests/e2e/userdata_files.py"))
        .arg(userdata));
    assert!(
        out.status.success(),
        "userdata_files.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub const PRIVATE_IMAGE: &str = "my.private.registry:5000/demo/hello:latest";
/// Named after a host where nothing listens: only the mirror (cache.corp.example) can serve it.
pub const MIRRORED_IMAGE: &str = "upstream.corp.example:5000/demo/mirrored:1";
/// Named after a host only a legacy `registry.mirrors` entry knows about.
pub const LEGACY_IMAGE: &str = "legacy.corp.example:5000/demo/mirrored:1";
pub const HTTP_ERROR: &str = "server gave HTTP response to HTTPS client";

/// Two plain-HTTP registries on loopback with a test image each, and the /etc/hosts file that
/// names them: my.private.registry (ip_base), cache.corp.example (ip_base+1), and
/// upstream/legacy.corp.example (ip_base+2, where nothing listens).
pub struct Fixture {
    pub work: PathBuf,
    pub hosts: PathBuf,
    pub spec: PathBuf,
    _private: Registry,
    _cache: Registry,
}

impl Fixture {
    pub fn new(name: &str, ip_base: u8) -> Fixture {
        require_e2e_prerequisites();
        let work = work_dir(name);
        let ip = |n: u8| loopback_ip(ip_base + n);
        let private = Registry::start(&work.join("registry-private"), &ip(0));
        let cache = Registry::start(&work.join("registry-cache"), &ip(1));
        let image = make_image(&work, &format!("hello from {name}"));
        private.push(&image, "demo/hello:latest");
        cache.push(&image, "demo/mirrored:1");
        let hosts = work.join("hosts");
        fs::write(
            &hosts,
            format!(
                "127.0.0.1 localhost\n{} my.private.registry\n{} cache.corp.example\n{} upstream.corp.example legacy.corp.example\n",
                ip(0),
                ip(1),
                ip(2)
            ),
        )
        .unwrap();
        let spec = work.join("spec.yaml");
        fs::write(&spec, E2E_SPEC).unwrap();
        Fixture {
            work,
            hosts,
            spec,
            _private: private,
            _cache: cache,
        }
    }
}
