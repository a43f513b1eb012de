//! `render --target kubernetes` read back as YAML (what the DaemonSet tolerates, mounts, runs and
//! probes; where credentials come from, and that none is in the output), and the two apply
//! features the DaemonSet runs on: `--watch` (a changed spec file is applied by the running
//! process) and `--check` reporting a pending restart (config.toml newer than the socket of the
//! containerd answering under the root).
use std::fs;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{regtrust, regtrust_bin, text};

const PASSWORD: &str = "s3cret-never-printed";

fn render(dir: &Path, spec: &str, extra: &[&str]) -> std::process::Output {
    let file = dir.join("registries.yaml");
    fs::write(&file, spec).unwrap();
    let mut args = vec![
        "render",
        "--spec",
        file.to_str().unwrap(),
        "--target",
        "kubernetes",
        "--image",
        "registry.example/regtrust:1",
    ];
    args.extend(extra);
    regtrust(&args)
}

fn docs(out: &std::process::Output) -> (Value, Value) {
    assert!(out.status.success(), "{}", text(out));
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(docs.len(), 2, "a ConfigMap and a DaemonSet");
    assert_eq!(docs[0]["kind"], "ConfigMap");
    assert_eq!(docs[1]["kind"], "DaemonSet");
    (docs[0].clone(), docs[1].clone())
}

fn pod(ds: &Value) -> &Value {
    &ds["spec"]["template"]["spec"]
}

/// (hostPath, mountPath, readOnly) of every hostPath volume.
fn host_mounts(ds: &Value) -> Vec<(String, String, bool)> {
    let p = pod(ds);
    let volumes = p["volumes"].as_array().unwrap();
    p["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
            Some((
                v["hostPath"]["path"].as_str()?.to_string(),
                m["mountPath"].as_str().unwrap().to_string(),
                m["readOnly"].as_bool().unwrap_or(false),
            ))
        })
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

const SPEC: &str =
    "# the fleet's registries\nregistries:\n  - host: my.private.registry:5000\n    http: true\n";

#[test]
fn daemonset_tolerates_every_taint_and_mounts_only_what_apply_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (cm, ds) = docs(&render(dir.path(), SPEC, &[]));
    assert_eq!(
        cm["data"]["registries.yaml"], SPEC,
        "the spec, byte for byte"
    );
    assert_eq!(ds["metadata"]["namespace"], "kube-system");
    let p = pod(&ds);
    assert_eq!(
        p["tolerations"],
        serde_json::json!([{ "operator": "Exists" }])
    );
    assert_eq!(
        p["hostPID"],
        Value::Null,
        "no hostPID without --restart-containerd"
    );
    assert_eq!(p["automountServiceAccountToken"], false, "no API access");
    assert_eq!(ds["spec"]["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(
        host_mounts(&ds),
        [
            ("/etc/containerd", "/host/etc/containerd", false),
            ("/run/containerd", "/host/run/containerd", true),
            ("/run/lock", "/host/run/lock", false),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c))
    );
    let c = &p["containers"][0];
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(strings(&c["command"]), ["/regtrust"]);
    let args = strings(&c["args"]);
    let probe = strings(&c["readinessProbe"]["exec"]["command"]);
    assert_eq!(
        &args[..6],
        [
            "apply",
            "--root",
            "/host",
            "--spec",
            "/etc/regtrust/spec/registries.yaml",
            "--runtime"
        ]
    );
    assert!(args.ends_with(&["--watch", "10"]), "{args:?}");
    // The probe is the same apply, checking: the binary, then the args with --check for --watch.
    assert_eq!(probe[0], "/regtrust");
    assert_eq!(probe[1..probe.len() - 1], args[..args.len() - 2]);
    assert_eq!(probe.last(), Some(&"--check"));
}

#[test]
fn restart_opt_in_adds_host_pid_and_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (_, ds) = docs(&render(
        dir.path(),
        SPEC,
        &[
            "--restart-containerd",
            "--namespace",
            "regtrust",
            "--containerd",
            "2.1",
        ],
    ));
    assert_eq!(ds["metadata"]["namespace"], "regtrust");
    assert_eq!(pod(&ds)["hostPID"], true);
    let c = &pod(&ds)["containers"][0];
    let args = strings(&c["args"]);
    assert!(args.contains(&"--restart-containerd"), "{args:?}");
    assert!(
        args.windows(2).any(|w| w == ["--containerd", "2.1"]),
        "{args:?}"
    );
    let probe = strings(&c["readinessProbe"]["exec"]["command"]);
    assert!(
        !probe.contains(&"--restart-containerd"),
        "the probe only checks"
    );
}

#[test]
fn docker_and_an_own_config_path_are_mounted_when_the_spec_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "runtimes: [containerd, docker]\ncontainerd:\n  config_path: /etc/registries/hosts.d\nregistries:\n  - host: r.example:5000\n    http: true\n";
    let (_, ds) = docs(&render(dir.path(), spec, &[]));
    let paths: Vec<String> = host_mounts(&ds).into_iter().map(|(h, _, _)| h).collect();
    assert_eq!(
        paths,
        [
            "/etc/containerd",
            "/etc/registries/hosts.d",
            "/run/containerd",
            "/etc/docker",
            "/run/lock"
        ]
    );
    let args = strings(&pod(&ds)["containers"][0]["args"]).join(" ");
    assert!(
        !args.contains("--runtime"),
        "apply reads the spec's runtimes: {args}"
    );
}

#[test]
fn node_path_ca_and_client_files_are_mounted_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let spec = "registries:
  - host: a.example
    ca: /etc/pki/corp/ca.crt
    client:
      cert: /etc/pki/corp/client.cert
      key: /etc/pki/corp/client.key
  - host: b.example
    ca: /etc/containerd/ca.crt
";
    let (_, ds) = docs(&render(dir.path(), spec, &[]));
    let mounts = host_mounts(&ds);
    assert!(
        mounts.contains(&("/etc/pki/corp".into(), "/host/etc/pki/corp".into(), true)),
        "{mounts:?}"
    );
    assert_eq!(
        mounts.len(),
        4,
        "/etc/containerd already covers b's CA: {mounts:?}"
    );
}

#[test]
fn credentials_come_from_the_secret_and_never_appear_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("creds")).unwrap();
    fs::write(dir.path().join("creds/puller"), PASSWORD).unwrap();
    let spec = "registries:
  - host: a.example
    auth:
      username: puller
      password_file: creds/puller
  - host: b.example
    auth:
      username: bot
      password_file: /var/run/regtrust/bot
  - host: c.example
    auth:
      username: env
      password_env: C_PASSWORD
";
    let out = render(dir.path(), spec, &[]);
    assert!(!text(&out).contains(PASSWORD), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kubectl -n kube-system create secret generic regtrust-credentials")
            && stderr.contains("--from-file=puller=")
            && stderr.contains("--from-file=bot=/var/run/regtrust/bot"),
        "{stderr}"
    );
    let (cm, ds) = docs(&out);
    assert_eq!(cm["data"]["registries.yaml"], spec);
    let p = pod(&ds);
    let volumes = p["volumes"].as_array().unwrap();
    let projected = volumes.iter().find(|v| v["name"] == "spec").unwrap();
    assert_eq!(
        projected["projected"]["sources"][1]["secret"],
        serde_json::json!({"name": "regtrust-credentials", "items": [{"key": "puller", "path": "creds/puller"}]}),
        "a relative password_file is projected beside the spec"
    );
    let absolute = volumes.iter().find(|v| v["secret"].is_object()).unwrap();
    assert_eq!(
        absolute["secret"],
        serde_json::json!({"secretName": "regtrust-credentials", "items": [{"key": "bot", "path": "bot"}]})
    );
    let mounts = p["containers"][0]["volumeMounts"].as_array().unwrap();
    assert!(
        mounts
            .iter()
            .any(|m| m["name"] == absolute["name"] && m["mountPath"] == "/var/run/regtrust")
    );
    assert_eq!(
        p["containers"][0]["env"],
        serde_json::json!([{"name": "C_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "regtrust-credentials", "key": "C_PASSWORD"}}}])
    );
}

#[test]
fn an_inline_password_a_dotdot_path_and_a_missing_image_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inline =
        "registries:\n  - host: a.example\n    auth:\n      username: u\n      password: hunter2\n";
    let out = render(dir.path(), inline, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out).contains("the ConfigMap would carry it"),
        "{}",
        text(&out)
    );
    let dotdot = "registries:\n  - host: a.example\n    auth:\n      username: u\n      password_file: ../pw\n";
    let out = render(dir.path(), dotdot, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let file = dir.path().join("registries.yaml");
    fs::write(&file, SPEC).unwrap();
    let out = regtrust(&[
        "render",
        "--spec",
        file.to_str().unwrap(),
        "--target",
        "kubernetes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("needs --image"), "{}", text(&out));
    let out = regtrust(&[
        "render",
        "--spec",
        file.to_str().unwrap(),
        "--target",
        "json",
        "--image",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2), "--image is for kubernetes only");
    let out = render(dir.path(), SPEC, &["--namespace", "Kube_System"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "not a DNS label: {}",
        text(&out)
    );
    assert!(out.stdout.is_empty());
}

fn root_with_config(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::create_dir_all(root.join("run/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), "version = 2\n").unwrap();
    root
}

fn check(root: &Path, spec: &Path) -> std::process::Output {
    regtrust(&[
        "apply",
        "--check",
        "--root",
        root.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ])
}

#[test]
fn check_reports_a_restart_pending_until_containerd_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_config(dir.path());
    let spec = dir.path().join("registries.yaml");
    // The version given: the listener below is no containerd, its Version API would not answer.
    fs::write(&spec, format!("containerd:\n  version: \"1.7\"\n{SPEC}")).unwrap();
    let socket = root.join("run/containerd/containerd.sock");
    // A containerd (a listener on its socket) started before apply changes config.toml.
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let o = regtrust(&[
        "apply",
        "--root",
        root.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = check(&root, &spec);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the files match the spec, but the running containerd has not read /etc/containerd/config.toml"),
        "{}",
        text(&o)
    );
    let json = regtrust(&[
        "apply",
        "--check",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
        "--spec",
        spec.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["changed"], false);
    assert_eq!(v["restart"], "containerd must restart");
    assert!(v["pending_restart"].is_string());
    // A stale socket (nobody listens): nothing runs; the files alone decide.
    drop(listener);
    let o = check(&root, &spec);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // containerd starts again: a new socket, after the file changed.
    fs::remove_file(&socket).unwrap();
    let _listener = UnixListener::bind(&socket).unwrap();
    let o = check(&root, &spec);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("nothing to do: the node matches the spec"),
        "{}",
        text(&o)
    );
}

#[test]
fn watch_applies_a_changed_spec_file_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = root_with_config(dir.path());
    let spec = dir.path().join("registries.yaml");
    fs::write(&spec, SPEC).unwrap();
    let mut child = Command::new(regtrust_bin())
        .args([
            "apply",
            "--watch",
            "1",
            "--root",
            root.to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let wait_for = |p: &Path| {
        let start = Instant::now();
        while !p.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{} not written",
                p.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let certs = root.join("etc/containerd/certs.d");
    wait_for(&certs.join("my.private.registry:5000/hosts.toml"));
    // An invalid spec: said, the node left as it is.
    fs::write(&spec, "registries: [\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(certs.join("my.private.registry:5000/hosts.toml").exists());
    // Replaced as kubelet replaces a ConfigMap's file.
    let tmp = dir.path().join(".new");
    fs::write(
        &tmp,
        "registries:\n  - host: other.example:5000\n    http: true\n",
    )
    .unwrap();
    fs::rename(&tmp, &spec).unwrap();
    wait_for(&certs.join("other.example:5000/hosts.toml"));
    let start = Instant::now();
    while certs.join("my.private.registry:5000/hosts.toml").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the old host stays"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Three more rounds with nothing to do: said once.
    std::thread::sleep(Duration::from_millis(3200));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.contains("created /etc/containerd/certs.d/my.private.registry:5000/hosts.toml"),
        "{log}"
    );
    assert!(
        log.contains("created /etc/containerd/certs.d/other.example:5000/hosts.toml"),
        "{log}"
    );
    assert!(log.contains("the node is left as it is"), "{log}");
    let after = log
        .split("created /etc/containerd/certs.d/other.example")
        .nth(1)
        .unwrap();
    assert_eq!(
        after
            .matches("nothing to do: the node matches the spec")
            .count(),
        1,
        "a report only when what it says changes: {log}"
    );
}
