//! The Kubernetes DaemonSet (`render --target kubernetes`, issue #17) without a cluster: the
//! manifests pass `kubernetes-validate --strict` for the oldest and newest Kubernetes documented;
//! the image `deploy/build-image` builds (Podman, offline, a static binary on `FROM scratch`) is
//! run by Podman as the manifest says — its own command, args, readiness probe, security
//! context and mounts (read from the rendered YAML with PyYAML, not written here), each hostPath
//! mapped into a node root, the ConfigMap's spec in the projected directory — on nodes running
//! real containerd 1.6, 1.7 and 2.1 (started by the harness on the node root, its socket where
//! the manifest mounts /run/containerd): before, the probe fails and the CRI pull fails with the
//! HTTP error; the running container configures the node; the probe still fails, naming the
//! pending restart (containerd started before config.toml changed); after containerd restarts
//! the probe passes and the pulls work. On one node the ConfigMap's file is then rewritten (as
//! kubelet does) with one more registry: the running container applies it, and the new host
//! pulls without a restart. The 2.1 node runs the `--restart-containerd` manifest (hostPID →
//! `--pid host`): the container's SIGTERM stops the harness's containerd; the test starts it
//! again (systemd's part on a node), and the container reports the new containerd.
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;
use crate::system::*;

const KUBERNETES_VALIDATE: &str = "venv/bin/kubernetes-validate";
/// The oldest and the newest Kubernetes whose schemas kubernetes-validate 1.37 ships.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

/// The spec after the ConfigMap changed: one registry more (legacy.corp.example, served by the
/// cache; before, nothing listens under that name).
const CHANGED_SPEC_TAIL: &str = "  - host: legacy.corp.example:5000
    fallback: false
    endpoints:
      - url: http://cache.corp.example:5000
";

struct Manifest {
    spec_text: String,
    command: Vec<String>,
    args: Vec<String>,
    probe: Vec<String>,
    /// (volume mount path in the container, hostPath or None for the spec volume, read-only)
    mounts: Vec<(String, Option<String>, bool)>,
    security: Value,
    tolerations: Value,
    host_pid: bool,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

/// The rendered manifests, read by PyYAML (another YAML reader than the one that wrote them).
fn parse(yaml: &Path) -> Manifest {
    let o = run(Command::new(PYTHON).args([
        "-c",
        "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        yaml.to_str().unwrap(),
    ]));
    assert!(o.status.success(), "PyYAML: {}", text(&o));
    let docs: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ConfigMap", "DaemonSet"],
        "only the objects it needs"
    );
    let (cm, ds) = (&docs[0], &docs[1]);
    let pod = &ds["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let volumes = pod["volumes"].as_array().unwrap();
    let mounts = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap();
            let vol = volumes.iter().find(|v| v["name"] == name).unwrap();
            (
                m["mountPath"].as_str().unwrap().to_string(),
                vol["hostPath"]["path"].as_str().map(String::from),
                m["readOnly"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    Manifest {
        spec_text: cm["data"]["registries.yaml"].as_str().unwrap().to_string(),
        command: strings(&c["command"]),
        args: strings(&c["args"]),
        probe: strings(&c["readinessProbe"]["exec"]["command"]),
        mounts,
        security: c["securityContext"].clone(),
        tolerations: pod["tolerations"].clone(),
        host_pid: pod["hostPID"] == true,
    }
}

/// Podman with what this machine needs (runc, rlimits it allows) and the test's own storage.
fn podman(storage: &Path) -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_STORAGE_CONF", storage);
    c
}

/// `podman run` options from the manifest: the mounts (hostPaths under `root`, the socket
/// directory at `socket_dir`, the projected spec volume at `spec_dir`) and the security context.
fn run_options(m: &Manifest, root: &Path, socket_dir: &Path, spec_dir: &Path) -> Vec<String> {
    let mut o: Vec<String> = [
        "--runtime",
        "runc",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--network",
        "none",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if m.host_pid {
        o.extend(["--pid".into(), "host".into()]);
    }
    let sc = &m.security;
    if sc["readOnlyRootFilesystem"] == true {
        o.push("--read-only".into());
    }
    if sc["allowPrivilegeEscalation"] == false {
        o.extend(["--security-opt".into(), "no-new-privileges".into()]);
    }
    for cap in sc["capabilities"]["drop"].as_array().into_iter().flatten() {
        o.extend(["--cap-drop".into(), cap.as_str().unwrap().to_string()]);
    }
    o.extend([
        "--user".into(),
        format!("{}:{}", sc["runAsUser"], sc["runAsGroup"]),
    ]);
    for (path, host, ro) in &m.mounts {
        let from = match host {
            // A unix socket path must stay under 104 bytes: containerd's socket directory is a
            // short directory under /tmp rather than <root>/run/containerd.
            Some(h) if h == "/run/containerd" => socket_dir.to_path_buf(),
            Some(h) => {
                let d = root.join(h.trim_start_matches('/'));
                fs::create_dir_all(&d).unwrap(); // DirectoryOrCreate
                d
            }
            None => spec_dir.to_path_buf(),
        };
        let ro = if *ro { ":ro" } else { "" };
        o.extend(["-v".into(), format!("{}:{path}{ro}", from.display())]);
    }
    o.extend([
        "--entrypoint".into(),
        serde_json::to_string(&m.command[..1]).unwrap(),
    ]);
    o
}

fn waited<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Removes the running container when the node's scenario ends, passed or failed.
struct Removed {
    name: String,
    storage: std::path::PathBuf,
}

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = run(podman(&self.storage).args(["rm", "-f", "-t", "0", &self.name]));
    }
}

struct Node {
    version: &'static str,
    /// None: no config.toml (containerd on its defaults; the pod learns the version from
    /// containerd's Version API on the socket).
    config: Option<String>,
    ip_base: u8,
}

#[test]
fn daemonset_container_configures_nodes_and_containerd_pulls() {
    require_root("podman and containerd");
    require_tool("podman", "run .ci/install-deps (Debian package podman)");
    let kv = cache_dir().join(KUBERNETES_VALIDATE);
    assert!(
        kv.exists(),
        "{} is missing: run .ci/install-deps (PyPI kubernetes-validate)",
        kv.display()
    );
    let work = work_dir("kubernetes");
    let storage = work.join("storage.conf");
    fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            work.join("podman").display()
        ),
    )
    .unwrap();

    // 1. The image, built offline by deploy/build-image.
    let tag = format!("localhost/regtrust-e2e:{}", std::process::id());
    let started = Instant::now();
    let o = run(Command::new(manifest_dir().join("deploy/build-image"))
        .arg(&tag)
        .env("CONTAINERS_STORAGE_CONF", &storage)
        .current_dir(manifest_dir()));
    assert!(o.status.success(), "deploy/build-image: {}", text(&o));
    eprintln!(
        "deploy/build-image: {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&o.stdout).trim()
    );
    let o = run(podman(&storage).args(["image", "inspect", &tag]));
    let inspect: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        inspect[0]["RootFS"]["Layers"].as_array().map(Vec::len),
        Some(1),
        "FROM scratch: one layer, the binary: {inspect}"
    );

    // 2. The manifests, validated, and read back.
    let spec = work.join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let render = |name: &str, extra: &[&str]| {
        let yaml = work.join(name);
        let mut args = vec![
            "render",
            "--spec",
            spec.to_str().unwrap(),
            "--target",
            "kubernetes",
            "--image",
            &tag,
            "--out",
            yaml.to_str().unwrap(),
        ];
        args.extend(extra);
        let o = regtrust(&args);
        assert!(o.status.success(), "render: {}", text(&o));
        for k in KUBERNETES_VERSIONS {
            let o = run(Command::new(&kv).args(["--strict", "-k", k]).arg(&yaml));
            assert!(
                o.status.success(),
                "kubernetes-validate --strict -k {k} {name}: {}",
                text(&o)
            );
        }
        let m = parse(&yaml);
        assert_eq!(
            m.spec_text, E2E_SPEC,
            "the ConfigMap holds the spec as it is"
        );
        assert_eq!(m.tolerations, serde_json::json!([{ "operator": "Exists" }]));
        m
    };
    let m = render("regtrust.yaml", &[]);
    // The opt-in: the DaemonSet restarts containerd itself (hostPID, SIGTERM).
    let m_restart = render("regtrust-restart.yaml", &["--restart-containerd"]);
    assert!(!m.host_pid && m_restart.host_pid);

    // 3. Every node: configured by the running container, probed before and after.
    let nodes = [
        Node {
            version: "1.6",
            config: Some(debian_config("1.6")),
            ip_base: 210,
        },
        Node {
            version: "1.7",
            config: None,
            ip_base: 220,
        },
        Node {
            version: "2.1",
            config: Some(default_config("2.1")),
            ip_base: 230,
        },
    ];
    for (i, n) in nodes.iter().enumerate() {
        // 2.1 runs the restart opt-in's manifest; 1.7 also sees its ConfigMap change.
        let manifest = if i == 2 { &m_restart } else { &m };
        node(manifest, n, &storage, &tag, i == 1);
    }
    let _ = run(podman(&storage).args(["rmi", "-f", &tag]));
}

fn node(m: &Manifest, n: &Node, storage: &Path, tag: &str, change_spec: bool) {
    let fx = Fixture::new(&format!("kubernetes-{}", n.version), n.ip_base);
    let dir = fx.work.clone();
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    if let Some(config) = &n.config {
        fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
    }
    let spec_dir = dir.join("configmap");
    fs::create_dir_all(&spec_dir).unwrap();
    fs::write(spec_dir.join("registries.yaml"), &m.spec_text).unwrap();
    let socket_dir = tempfile::Builder::new()
        .prefix("k8s")
        .tempdir_in("/tmp")
        .unwrap();
    let socket = socket_dir.path().join("containerd.sock");
    let bin = containerd_bin(n.version);
    let state = dir.join("state");
    let start = || {
        Containerd::try_start_at(&bin, &root, &fx.hosts, &state, &socket)
            .unwrap_or_else(|e| panic!("containerd {}: {e}", n.version))
    };
    let opts = run_options(m, &root, socket_dir.path(), &spec_dir);
    let probe_once = || {
        let mut c = podman(storage);
        c.args(["run", "--rm"])
            .args(&opts)
            .arg(tag)
            .args(&m.probe[1..]);
        run(&mut c)
    };
    let what = format!("containerd {}", n.version);

    // Before: the pull fails (negative control), and so does the probe.
    let mut ctrd = start();
    let e = ctrd
        .cri_pull(PRIVATE_IMAGE)
        .expect_err("pulls before regtrust");
    assert!(e.contains(HTTP_ERROR), "{what}: before: {e}");
    let o = probe_once();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what}: probe before: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("/etc/containerd/config.toml"),
        "{what}: probe before: {}",
        text(&o)
    );

    // The DaemonSet's container, running as the manifest says.
    let name = format!("regtrust-e2e-{}-{}", std::process::id(), n.ip_base);
    let mut c = podman(storage);
    c.args(["run", "-d", "--name", &name])
        .args(&opts)
        .arg(tag)
        .args(&m.args);
    let o = run(&mut c);
    assert!(o.status.success(), "{what}: podman run: {}", text(&o));
    let _removed = Removed {
        name: name.clone(),
        storage: storage.to_path_buf(),
    };
    let logs = || text(&run(podman(storage).args(["logs", &name])));
    let probe = || run(podman(storage).args(["exec", &name]).args(&m.probe));
    let hosts_toml = root.join("etc/containerd/certs.d/my.private.registry:5000/hosts.toml");
    waited(
        &format!("{what}: the container writes hosts.toml"),
        20,
        || hosts_toml.exists().then_some(()),
    );
    let config = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
    assert_eq!(
        config_path_of(&config).as_deref(),
        Some("/etc/containerd/certs.d"),
        "{what}: config.toml: {config}"
    );
    if m.host_pid {
        // The opt-in: the container sends containerd SIGTERM; containerd stops. Here the test
        // starts it again at the same socket, as systemd's Restart=always does on a node, and
        // the container sees the new containerd answer.
        let t = Instant::now();
        waited(
            &format!("{what}: containerd stopped by the pod"),
            30,
            || {
                std::os::unix::net::UnixStream::connect(&socket)
                    .is_err()
                    .then_some(())
            },
        );
        eprintln!(
            "{what}: containerd stopped {:.1} s after the container wrote hosts.toml",
            t.elapsed().as_secs_f64()
        );
        drop(ctrd);
        ctrd = start();
        waited(
            &format!("{what}: the pod sees the new containerd"),
            70,
            || {
                logs()
                    .contains("a new containerd answers on /run/containerd/containerd.sock")
                    .then_some(())
            },
        );
        assert!(
            logs().contains("restart: sent SIGTERM to containerd (pid "),
            "{what}: {}",
            logs()
        );
    } else {
        // Files right, containerd not restarted: not ready, and the probe says why.
        let o = probe();
        assert_eq!(o.status.code(), Some(1), "{what}: probe: {}", text(&o));
        assert!(
            text(&o).contains("has not read /etc/containerd/config.toml as it is now"),
            "{what}: probe names the pending restart: {}",
            text(&o)
        );
        assert!(
            logs().contains("containerd on that system must restart"),
            "{what}: the pod log says the restart is needed: {}",
            logs()
        );
        // containerd restarts (what systemd does on the node).
        drop(ctrd);
        ctrd = start();
    }
    {
        // Nothing under the mounts says the version (no package database, no binary; the 1.7
        // node not even a config.toml): the running containerd's API did, on every node.
        let log = logs();
        let line = log
            .lines()
            .find(|l| l.starts_with("containerd "))
            .unwrap_or_default();
        assert!(
            line.starts_with(&format!("containerd {}", n.version))
                && line.contains(
                    "(the Version API of the containerd running on /run/containerd/containerd.sock"
                ),
            "{what}: {log}"
        );
        eprintln!("{what}: {line}");
    }
    // Ready, and it pulls.
    let o = probe();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what}: probe after: {}",
        text(&o)
    );
    for image in [PRIVATE_IMAGE, MIRRORED_IMAGE] {
        if let Err(e) = ctrd.cri_pull(image) {
            panic!("{what}: pull {image}: {e}\n{}", ctrd.log_tail());
        }
    }

    if change_spec {
        // The ConfigMap changes: kubelet swaps the projected files; here the file is replaced by
        // a rename, as atomically.
        let e = ctrd.cri_pull(LEGACY_IMAGE).expect_err("legacy before");
        let changed = format!("{}{CHANGED_SPEC_TAIL}", m.spec_text);
        let tmp = spec_dir.join(".registries.yaml.new");
        fs::write(&tmp, &changed).unwrap();
        fs::rename(&tmp, spec_dir.join("registries.yaml")).unwrap();
        let legacy = root.join("etc/containerd/certs.d/legacy.corp.example:5000/hosts.toml");
        let t = Instant::now();
        waited(&format!("{what}: the change is applied"), 30, || {
            legacy.exists().then_some(())
        });
        eprintln!(
            "{what}: the ConfigMap change was applied {:.1} s after the file changed",
            t.elapsed().as_secs_f64()
        );
        let o = probe();
        assert_eq!(o.status.code(), Some(0), "{what}: probe: {}", text(&o));
        if let Err(e2) = ctrd.cri_pull(LEGACY_IMAGE) {
            panic!("{what}: legacy after the change (before: {e}): {e2}");
        }
        assert!(
            logs().contains("created /etc/containerd/certs.d/legacy.corp.example:5000/hosts.toml"),
            "{what}: {}",
            logs()
        );
    }
}
