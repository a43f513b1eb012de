//! The boot-time outputs with `docker` among the runtimes: cloud-init carries dockerd's certs.d
//! files and a Python 3 merge of daemon.json run from runcmd; the installer runs the same merge
//! with python3 (and stops before writing anything without it). The merge is differential
//! against `regtrust apply --runtime docker`: over a corpus of daemon.json shapes, the /etc/docker
//! tree it leaves (daemon.json, .bak, regtrust's record, certs.d; contents and modes) is byte for
//! byte apply's, or both refuse the file and the merge leaves daemon.json unchanged. Also across
//! runs: either one after the other, with a spec whose registries left, removes exactly what
//! regtrust added (the record is shared).
//!
//! These tests run python3 (the merge is Python); without it they fail, naming it.
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::text;

const SPEC: &str = crate::support::boot_spec!("[containerd, docker]");

/// The HTTP registry and the TLS registry left the spec; the mirror stays.
const SPEC_PRUNED: &str = "runtimes: [containerd, docker]
containerd:
  version: \"1.7\"
registries:
  - host: docker.io
    endpoints:
      - url: http://cache.registry.test:5000
";

use crate::support::regtrust_in as regtrust;

fn require_python3() {
    let ok = Command::new("python3")
        .arg("-c")
        .arg("import sys; assert sys.version_info >= (3, 6)")
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 (3.6 or newer) is missing: the Docker boot merge is Python; install python3"
    );
}

/// node path → (mode, bytes) of every file under <root>/etc/docker.
fn docker_tree(root: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, (u32, Vec<u8>)>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(base).unwrap().display());
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(
                    format!("{rel}/"),
                    (meta.permissions().mode() & 0o7777, vec![]),
                );
                walk(base, &p, out);
            } else {
                out.insert(
                    rel,
                    (meta.permissions().mode() & 0o7777, fs::read(&p).unwrap()),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, &root.join("etc/docker"), &mut out);
    out
}

/// The rendered outputs for one spec: the installer, and cloud-init's merge script.
struct Rendered {
    installer: std::path::PathBuf,
    merge: std::path::PathBuf,
    userdata: serde_json::Value,
}

fn render(d: &Path, name: &str, spec: &str) -> Rendered {
    fs::write(d.join(format!("{name}.yaml")), spec).unwrap();
    let spec_arg = format!("{name}.yaml");
    let installer = d.join(format!("{name}.sh"));
    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            &spec_arg,
            "--target",
            "script",
            "--out",
            installer.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = regtrust(
        d,
        &["render", "--spec", &spec_arg, "--target", "cloud-init"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc = String::from_utf8_lossy(&o.stdout).into_owned();
    let userdata: serde_json::Value = serde_saphyr::from_str(&doc).unwrap();
    let entry = userdata["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/usr/local/sbin/regtrust-docker-config")
        .expect("the merge script is in write_files");
    assert_eq!(entry["permissions"], "0755");
    assert_eq!(entry["encoding"], "gz+b64");
    let script = crate::support::cloud_init::write_files(&doc)
        .remove("/usr/local/sbin/regtrust-docker-config")
        .unwrap()
        .1;
    // The installer runs the very same script (between its heredoc markers).
    let sh = fs::read_to_string(&installer).unwrap();
    let open = "<<'REGTRUST_DOCKER_MERGE' || exit 1\n";
    let start = sh.find(open).unwrap() + open.len();
    let end = sh.find("\nREGTRUST_DOCKER_MERGE\n").unwrap();
    assert_eq!(
        &sh[start..end + 1],
        script,
        "installer and cloud-init differ"
    );
    let merge = d.join(format!("{name}-merge.py"));
    fs::write(&merge, script).unwrap();
    Rendered {
        installer,
        merge,
        userdata,
    }
}

fn apply(d: &Path, root: &Path, spec: &str) -> Output {
    fs::write(d.join("apply-spec.yaml"), spec).unwrap();
    regtrust(
        d,
        &[
            "apply",
            "--spec",
            "apply-spec.yaml",
            "--runtime",
            "docker",
            "--root",
            root.to_str().unwrap(),
        ],
    )
}

/// cloud-init's merge script run with `python3 SCRIPT --root ROOT`.
fn merge(r: &Rendered, root: &Path) -> Output {
    crate::support::run(
        Command::new("python3")
            .arg(&r.merge)
            .arg("--root")
            .arg(root),
    )
}

fn install(r: &Rendered, root: &Path) -> Output {
    crate::support::run_installer(&r.installer, root)
}

fn seeded(d: &Path, name: &str, seed: Option<&[u8]>) -> std::path::PathBuf {
    let root = d.join(name);
    fs::create_dir_all(root.join("etc/docker")).unwrap();
    // A node with Docker Engine (the merge leaves a node without it alone).
    fs::create_dir_all(root.join("usr/sbin")).unwrap();
    fs::write(root.join("usr/sbin/dockerd"), "").unwrap();
    if let Some(bytes) = seed {
        fs::write(root.join("etc/docker/daemon.json"), bytes).unwrap();
    }
    root
}

/// daemon.json shapes: (name, content; None = no file).
fn corpus() -> Vec<(String, Option<Vec<u8>>)> {
    let mut c: Vec<(&str, Option<&[u8]>)> = vec![
        ("missing", None),
        ("empty", Some(b"")),
        ("blank", Some(b"  \n\n")),
        ("nbsp-only", Some("\u{a0}\n".as_bytes())),
        ("empty-object", Some(b"{}")),
        ("empty-object-lines", Some(b"{\n}\n")),
        (
            "log-opts-own-insecure",
            Some(
                b"{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\"old.registry.test:5000\"]\n}\n",
            ),
        ),
        (
            "one-line-no-newline",
            Some(b"{\"debug\":true,\"insecure-registries\":[\"a:5000\"]}"),
        ),
        ("tabs", Some(b"{\n\t\"debug\": true\n}\n")),
        (
            "crlf",
            Some(b"{\r\n  \"debug\": true,\r\n  \"registry-mirrors\": []\r\n}\r\n"),
        ),
        (
            "duplicate-keys",
            Some(
                b"{\n  \"insecure-registries\": [\"first:5000\"],\n  \"debug\": false,\n  \"insecure-registries\": [\"second:5000\"]\n}\n",
            ),
        ),
        (
            "already-there",
            Some(
                b"{\n  \"insecure-registries\": [\"my.private.registry:5000\"],\n  \"registry-mirrors\": [\"http://cache.registry.test:5000\"]\n}\n",
            ),
        ),
        (
            "own-mirror",
            Some(b"{\"registry-mirrors\": [\"https://mirror.gcr.io\"]}\n"),
        ),
        (
            "escaped-keys",
            Some(b"{\n  \"d\\u00e9bug\": true,\n  \"a\\\"b\\\\c\\/d\\u0001\": 1,\n  \"\": null\n}\n"),
        ),
        (
            "unicode-values",
            Some("{\n  \"labels\": [\"é\", \"\u{2028}\", \"\\ud83d\\ude00\"],\n  \"x\": \"\\ud800\"\n}\n".as_bytes()),
        ),
        (
            "numbers",
            Some(
                b"{\"a\": 123456789012345678901234567890123456789, \"b\": 1e400, \"c\": -0.0, \"d\": 1E+2, \"e\": -12.5e-3}\n",
            ),
        ),
        (
            "nested-indent",
            Some(b"{\"features\": {\n      \"containerd-snapshotter\": true},\n   \"debug\": true}\n"),
        ),
        ("trailing-space", Some(b"{\"debug\": true}  \n\n  ")),
        // What dockerd and apply refuse.
        ("nan", Some(b"{\"x\": NaN}")),
        ("infinity", Some(b"{\"x\": -Infinity}")),
        ("trailing-comma", Some(b"{\"debug\": true,}")),
        ("comment", Some(b"// mine\n{}")),
        ("bom", Some("\u{feff}{}".as_bytes())),
        ("array", Some(b"[1]")),
        ("null", Some(b"null")),
        ("insecure-not-list", Some(b"{\"insecure-registries\": \"a:5000\"}")),
        ("insecure-not-strings", Some(b"{\"insecure-registries\": [1]}")),
        ("mirrors-not-list", Some(b"{\"registry-mirrors\": {}}")),
        ("lone-surrogate-key", Some(b"{\"\\ud800\": 1}")),
        (
            "lone-surrogate-in-list",
            Some(b"{\"insecure-registries\": [\"\\udc00\"]}"),
        ),
        ("control-char", Some(b"{\"a\": \"x\ty\"}")),
        ("bad-escape", Some(b"{\"a\": \"\\x\"}")),
        ("key-not-string", Some(b"{1: 2}")),
        ("leading-zero", Some(b"{\"a\": 01}")),
        ("trailing-garbage", Some(b"{} x")),
        ("two-objects", Some(b"{}{}")),
        ("not-utf8", Some(b"{\"a\": \"\xff\"}")),
        ("unclosed", Some(b"{\"a\": [1, 2}")),
    ];
    let mut owned: Vec<(String, Option<Vec<u8>>)> = c
        .drain(..)
        .map(|(n, b)| (n.to_string(), b.map(<[u8]>::to_vec)))
        .collect();
    for depth in [100usize, 128, 499, 500, 501, 5000] {
        let v = "[".repeat(depth) + &"]".repeat(depth);
        owned.push((
            format!("nested-{depth}"),
            Some(format!("{{\"deep\": {v}}}\n").into_bytes()),
        ));
    }
    owned
}

#[test]
fn the_merge_writes_what_apply_writes_or_both_refuse() {
    require_python3();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = render(d, "spec", SPEC);
    let mut refused = Vec::new();
    let mut left_to_apply = Vec::new();
    for (name, seed) in corpus() {
        let a = seeded(d, &format!("{name}-apply"), seed.as_deref());
        let b = seeded(d, &format!("{name}-boot"), seed.as_deref());
        let before = docker_tree(&b);
        let oa = apply(d, &a, SPEC);
        // The certs.d files as cloud-init's write_files leaves them, then the merge.
        for f in r.userdata["write_files"].as_array().unwrap() {
            let path = f["path"].as_str().unwrap();
            if let Some(rel) = path.strip_prefix("/etc/docker/") {
                let p = b.join("etc/docker").join(rel);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, f["content"].as_str().unwrap()).unwrap();
                let mode = u32::from_str_radix(f["permissions"].as_str().unwrap(), 8).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let ob = merge(&r, &b);
        match (oa.status.code(), ob.status.code()) {
            (Some(0), Some(0)) => {
                assert_eq!(
                    docker_tree(&b),
                    docker_tree(&a),
                    "{name}: the merge differs from apply\napply: {}\nmerge: {}",
                    text(&oa),
                    text(&ob)
                );
                // Idempotent: a second run changes nothing and says so.
                let again = merge(&r, &b);
                assert!(again.status.success(), "{name}: {}", text(&again));
                assert!(
                    text(&again).contains("already has the spec's entries: unchanged"),
                    "{name}: {}",
                    text(&again)
                );
                assert_eq!(docker_tree(&b), docker_tree(&a), "{name}: second run");
            }
            (Some(3), Some(1)) => {
                let daemon = |t: &BTreeMap<String, (u32, Vec<u8>)>| {
                    t.iter()
                        .filter(|(k, _)| !k.starts_with("/etc/docker/certs.d"))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(
                    daemon(&docker_tree(&b)),
                    daemon(&before),
                    "{name}: a refused daemon.json must stay as it was, with no record"
                );
                let err = String::from_utf8_lossy(&ob.stderr);
                assert!(
                    err.starts_with("regtrust: error: ") && err.contains("left unchanged"),
                    "{name}: {err}"
                );
                refused.push(name);
            }
            (Some(0), Some(1))
                if text(&ob).contains("run regtrust apply, which edits any valid JSON") =>
            {
                assert_eq!(
                    docker_tree(&b).get("/etc/docker/daemon.json"),
                    before.get("/etc/docker/daemon.json"),
                    "{name}"
                );
                assert!(!b.join("etc/docker/regtrust-managed.json").exists());
                left_to_apply.push(name);
            }
            (ca, cb) => panic!(
                "{name}: apply exited {ca:?}, the merge {cb:?}\napply: {}\nmerge: {}",
                text(&oa),
                text(&ob)
            ),
        }
    }
    // What both refuse (checked so that a refusal cannot hide a broken corpus).
    assert_eq!(
        refused,
        [
            "nan",
            "infinity",
            "trailing-comma",
            "comment",
            "bom",
            "array",
            "null",
            "insecure-not-list",
            "insecure-not-strings",
            "mirrors-not-list",
            "lone-surrogate-key",
            "lone-surrogate-in-list",
            "control-char",
            "bad-escape",
            "key-not-string",
            "leading-zero",
            "trailing-garbage",
            "two-objects",
            "not-utf8",
            "unclosed",
        ]
    );
    // Only where the merge is stricter than apply: left to apply, said so.
    assert_eq!(left_to_apply, ["nested-501", "nested-5000"]);
}

/// A seed with the operator's own keys and entries: what the merge leaves, read as JSON.
#[test]
fn the_merge_keeps_the_operators_keys_and_records_only_its_own_entries() {
    require_python3();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = render(d, "spec", SPEC);
    let seed = "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"},\n    \"insecure-registries\": [\"old.registry.test:5000\", \"my.private.registry:5000\"]\n}\n";
    let b = seeded(d, "root", Some(seed.as_bytes()));
    let o = install(&r, &b);
    assert!(o.status.success(), "{}", text(&o));
    let said = text(&o);
    assert!(
        said.contains("regtrust: /etc/docker/daemon.json: registry-mirrors gains http://cache.registry.test:5000"),
        "{said}"
    );
    let daemon: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(b.join("etc/docker/daemon.json")).unwrap())
            .unwrap();
    assert_eq!(
        daemon,
        serde_json::json!({
            "log-driver": "json-file",
            "log-opts": {"max-size": "10m", "max-file": "3"},
            "insecure-registries": ["old.registry.test:5000", "my.private.registry:5000"],
            "registry-mirrors": ["http://cache.registry.test:5000"],
        })
    );
    assert_eq!(
        fs::read_to_string(b.join("etc/docker/daemon.json.bak")).unwrap(),
        seed
    );
    // my.private.registry:5000 was the operator's before the spec wanted it: not recorded.
    let record: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(b.join("etc/docker/regtrust-managed.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["insecure-registries"], serde_json::json!([]));
    assert_eq!(
        record["registry-mirrors"],
        serde_json::json!(["http://cache.registry.test:5000"])
    );
    assert_eq!(
        record["certs.d"],
        serde_json::json!([
            "/etc/docker/certs.d/secure.registry.test:5443/ca.crt",
            "/etc/docker/certs.d/secure.registry.test:5443/client.cert",
            "/etc/docker/certs.d/secure.registry.test:5443/client.key",
        ])
    );
    let key = b.join("etc/docker/certs.d/secure.registry.test:5443/client.key");
    assert_eq!(
        fs::metadata(key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!b.join("etc/docker/regtrust-managed.pending.json").exists());
    // `regtrust apply` agrees: nothing to do for docker.
    let o = apply(d, &b, SPEC);
    assert!(
        text(&o).contains("nothing to do"),
        "apply after the installer: {}",
        text(&o)
    );
    // A second installer run changes nothing.
    let before = docker_tree(&b);
    let o = install(&r, &b);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("already has the spec's entries: unchanged"));
    assert_eq!(docker_tree(&b), before);
}

/// The record is shared: a run of either kind after one of the other, with a spec whose
/// registries left, removes exactly what regtrust added — the same tree as apply after apply.
#[test]
fn apply_and_the_merge_follow_one_another() {
    require_python3();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let full = render(d, "full", SPEC);
    let pruned = render(d, "pruned", SPEC_PRUNED);
    let empty = render(
        d,
        "empty",
        "runtimes: [containerd, docker]\ncontainerd:\n  version: \"1.7\"\nregistries: []\n",
    );
    let seed = b"{\n  \"insecure-registries\": [\"old.registry.test:5000\"]\n}\n";
    type Step<'a> = &'a dyn Fn(&Path, &str) -> Output;
    let by_apply = |root: &Path, which: &str| -> Output {
        let spec = match which {
            "full" => SPEC.to_string(),
            "pruned" => SPEC_PRUNED.to_string(),
            _ => "registries: []\n".to_string(),
        };
        apply(d, root, &spec)
    };
    let by_installer = |root: &Path, which: &str| -> Output {
        let r = match which {
            "full" => &full,
            "pruned" => &pruned,
            _ => &empty,
        };
        install(r, root)
    };
    let steps: [(&str, Step); 2] = [("apply", &by_apply), ("installer", &by_installer)];
    let want = {
        let root = seeded(d, "reference", Some(seed));
        let mut trees = Vec::new();
        for which in ["full", "pruned", "empty"] {
            let o = by_apply(&root, which);
            assert!(o.status.success(), "{}", text(&o));
            trees.push(docker_tree(&root));
        }
        trees
    };
    // After the pruned spec: the operator's entry stays, ours left, the CA's directory is gone.
    let pruned_daemon = String::from_utf8(want[1]["/etc/docker/daemon.json"].1.clone()).unwrap();
    assert_eq!(
        pruned_daemon,
        "{\n  \"insecure-registries\": [\n    \"old.registry.test:5000\"\n  ],\n  \"registry-mirrors\": [\n    \"http://cache.registry.test:5000\"\n  ]\n}\n"
    );
    assert!(!want[1].contains_key("/etc/docker/certs.d/secure.registry.test:5443/"));
    // After no registries: the lists hold only the operator's entry (`[]` for the mirrors), no
    // record.
    assert!(!want[2].contains_key("/etc/docker/regtrust-managed.json"));
    for (first, run_first) in &steps {
        for (then, run_then) in &steps {
            for (last, run_last) in &steps {
                let root = seeded(d, &format!("{first}-{then}-{last}"), Some(seed));
                for (n, (which, run)) in [
                    ("full", run_first),
                    ("pruned", run_then),
                    ("empty", run_last),
                ]
                .into_iter()
                .enumerate()
                {
                    let o = run(&root, which);
                    assert!(
                        o.status.success(),
                        "{first}/{then}/{last} {which}: {}",
                        text(&o)
                    );
                    let got = docker_tree(&root);
                    assert_eq!(
                        got,
                        want[n],
                        "{first}/{then}/{last}: after {which}: {}",
                        text(&o)
                    );
                }
            }
        }
    }
}

#[test]
fn an_interrupted_run_is_finished_and_a_broken_record_refused() {
    require_python3();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = render(d, "spec", SPEC);
    // A pending file names an entry regtrust added before being killed: the merge takes it as
    // regtrust's (and removes it, since the spec does not want it), as apply does.
    let seed = b"{\n  \"insecure-registries\": [\"killed.registry.test:5000\"]\n}\n";
    let pending = "{\"insecure-registries\": [\"killed.registry.test:5000\"]}\n";
    let a = seeded(d, "a", Some(seed));
    let b = seeded(d, "b", Some(seed));
    for root in [&a, &b] {
        fs::write(
            root.join("etc/docker/regtrust-managed.pending.json"),
            pending,
        )
        .unwrap();
    }
    let oa = apply(d, &a, SPEC);
    assert!(oa.status.success(), "{}", text(&oa));
    let ob = merge(&r, &b);
    assert!(ob.status.success(), "{}", text(&ob));
    let daemon = |root: &Path| fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap();
    assert_eq!(daemon(&b), daemon(&a));
    assert!(!daemon(&b).contains("killed.registry.test"));
    assert!(!b.join("etc/docker/regtrust-managed.pending.json").exists());
    assert_eq!(
        fs::read(b.join("etc/docker/regtrust-managed.json")).unwrap(),
        fs::read(a.join("etc/docker/regtrust-managed.json")).unwrap()
    );
    // A record that is not regtrust's: refused, nothing changed (apply refuses it too).
    for bad in [
        "{\"insecure\": []}",
        "{\"auths\": [1]}",
        "{\"auths\": [], \"auths\": []}",
    ] {
        let c = seeded(d, "c", Some(seed));
        fs::write(c.join("etc/docker/regtrust-managed.json"), bad).unwrap();
        let before = docker_tree(&c);
        let o = merge(&r, &c);
        assert_eq!(o.status.code(), Some(1), "{bad}: {}", text(&o));
        assert!(
            text(&o).contains("not regtrust's record"),
            "{bad}: {}",
            text(&o)
        );
        assert_eq!(docker_tree(&c), before, "{bad}");
        let o = apply(d, &c, SPEC);
        assert_eq!(o.status.code(), Some(3), "apply on {bad}: {}", text(&o));
        fs::remove_dir_all(&c).unwrap();
    }
}

#[test]
fn the_installer_without_python3_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("spec.yaml"), SPEC).unwrap();
    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            "spec.yaml",
            "--target",
            "script",
            "--out",
            "install.sh",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("the installer merges /etc/docker/daemon.json with python3"),
        "{}",
        text(&o)
    );
    // A PATH with sh's tools but no python3.
    let bin = d.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in [
        "sh", "mkdir", "dirname", "basename", "printf", "cat", "rm", "mv", "chmod", "cmp", "stat",
        "awk", "grep", "head", "tail", "tr", "wc", "sed", "cp", "flock", "readlink",
    ] {
        if let Some(p) = which(tool) {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    assert!(which("python3").is_some());
    let root = seeded(d, "root", Some(b"{\"debug\": true}\n"));
    let before = crate::support::snapshot(&root);
    let o = Command::new(bin.join("sh"))
        .arg(d.join("install.sh"))
        .arg("--root")
        .arg(&root)
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(
            "python3 is missing: this installer merges /etc/docker/daemon.json with it (docker \
             is among its runtimes); nothing was written. Install python3, or run `regtrust \
             apply --runtime docker` on the node or image root"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(crate::support::snapshot(&root), before);
    assert!(!root.join("etc/containerd").exists() && !root.join("run").exists());
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn render_shapes_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let spec_no_runtimes = SPEC.replace("runtimes: [containerd, docker]\n", "");
    fs::write(d.join("spec.yaml"), &spec_no_runtimes).unwrap();
    // --runtime puts docker among the runtimes (the spec has none).
    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            "spec.yaml",
            "--target",
            "cloud-init",
            "--runtime",
            "containerd,docker",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value =
        serde_saphyr::from_str(&String::from_utf8_lossy(&o.stdout)).unwrap();
    let files: BTreeMap<String, (String, String)> = doc["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                (
                    f["permissions"].as_str().unwrap().to_string(),
                    f["owner"].as_str().unwrap().to_string(),
                ),
            )
        })
        .filter(|(p, _)| p.starts_with("/etc/docker/") || p.contains("regtrust-docker"))
        .collect();
    let m = |mode: &str| (mode.to_string(), "root:root".to_string());
    assert_eq!(
        files,
        BTreeMap::from([
            (
                "/etc/docker/certs.d/secure.registry.test:5443/ca.crt".into(),
                m("0644")
            ),
            (
                "/etc/docker/certs.d/secure.registry.test:5443/client.cert".into(),
                m("0644")
            ),
            (
                "/etc/docker/certs.d/secure.registry.test:5443/client.key".into(),
                m("0600")
            ),
            ("/usr/local/sbin/regtrust-docker-config".into(), m("0755")),
        ])
    );
    assert_eq!(
        doc["runcmd"],
        serde_json::json!([
            ["/usr/local/sbin/regtrust-containerd-config"],
            ["/usr/local/sbin/regtrust-docker-config"]
        ])
    );
    // Without docker: no docker file, no second runcmd.
    let o = regtrust(
        d,
        &["render", "--spec", "spec.yaml", "--target", "cloud-init"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let user_data = String::from_utf8_lossy(&o.stdout);
    assert!(!user_data.contains("/etc/docker/") && !user_data.contains("regtrust-docker-config"));
    // The targets that do not configure docker refuse it; docker without containerd too.
    for (target, runtimes, says) in [
        (
            "ignition",
            "containerd,docker",
            "the runtimes include docker: this render target does not configure it",
        ),
        (
            "containerd-config",
            "containerd,docker",
            "the runtimes include docker",
        ),
        (
            "cloud-init",
            "docker",
            "the runtimes are docker without containerd",
        ),
        (
            "script",
            "docker",
            "the runtimes are docker without containerd",
        ),
    ] {
        let o = regtrust(
            d,
            &[
                "render",
                "--spec",
                "spec.yaml",
                "--target",
                target,
                "--runtime",
                runtimes,
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(2),
            "{target} {runtimes}: {}",
            text(&o)
        );
        assert!(text(&o).contains(says), "{target} {runtimes}: {}", text(&o));
        assert!(o.stdout.is_empty());
    }
    // Credentials: left to apply for the docker CLI's config.json, said on stderr.
    fs::write(
        d.join("auth.yaml"),
        format!("{SPEC}    auth:\n      username: alice\n      password_env: REGTRUST_TEST_PW\n"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--spec", "auth.yaml", "--target", "cloud-init"])
        .current_dir(d)
        .env("REGTRUST_TEST_PW", "pw-not-printed")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(
            "warning: the credentials for secure.registry.test:5443 are not written for the \
             docker CLI by this user-data: /root/.docker/config.json must be merged"
        ),
        "{}",
        text(&o)
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("/root/.docker"));
}

/// A node without Docker Engine (no dockerd, no daemon.json): the merge says so and writes
/// nothing; with only a daemon.json it merges.
#[test]
fn a_node_without_docker_engine_is_left_alone() {
    require_python3();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = render(d, "spec", SPEC);
    let root = d.join("bare");
    fs::create_dir_all(&root).unwrap();
    let o = merge(&r, &root);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Docker Engine is not installed here"),
        "{}",
        text(&o)
    );
    assert!(
        !root.join("etc/docker").exists(),
        "written on a node without Docker"
    );
    fs::create_dir_all(root.join("etc/docker")).unwrap();
    fs::write(root.join("etc/docker/daemon.json"), "{}\n").unwrap();
    let o = merge(&r, &root);
    assert!(o.status.success(), "{}", text(&o));
    let text = fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap();
    assert!(text.contains("insecure-registries"), "{text}");
}
