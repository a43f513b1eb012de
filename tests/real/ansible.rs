//! The Ansible collection (`ansible/`, issue #17) with Debian's ansible-core 2.14 and
//! ansible-lint: the collection is built and installed from its tarball into a scratch collections
//! path (nothing in ~/.ansible, no network), ansible-lint passes on it and on the playbooks (and
//! fails on an unknown module option, so it does see the module), and `ansible-playbook` runs an
//! example-style playbook on three local-connection "nodes", each a scratch root seeded with
//! another containerd's config (1.6 Debian's, 1.7 `config default`, 2.1 `config default` with the
//! popular `insecure_skip_verify` recipe): check mode reports changes and writes nothing; the first
//! run changes the files and runs the handler (a marker file here, not a restart); the second
//! changes nothing and runs no handler; a bad spec fails the task at its line and column; an
//! unsupported runtime fails with regtrust's message; `runtimes: [docker]` edits daemon.json and
//! returns `reload_docker` (then nothing on a second run). Then real containerd of each version,
//! started on each root, pulls over CRI from the Fixture's plain-HTTP registries.
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::e2e_containerd::with_recipe;
use crate::support::*;
use crate::system::*;

const COLLECTION_TARBALL: &str = "regtrust-node-1.0.0.tar.gz";
const HINT: &str = "install Debian's ansible-core and ansible-lint (.ci/install-deps)";

/// The collection's files ansible-lint checks (paths under `ansible/`).
const LINTED: &[&str] = &[
    "galaxy.yml",
    "meta/runtime.yml",
    "roles/install",
    "plugins/modules/apply.py",
    "examples/playbook.yml",
];

/// The example playbook's shape, with what a test needs instead of a real node: a root and a
/// containerd version per host, the binary installed per host, and a handler that leaves a
/// marker file instead of restarting containerd.
const PLAYBOOK: &str = r#"---
- name: Trust the private registries
  hosts: all
  gather_facts: false
  roles:
    - role: regtrust.node.install
  tasks:
    - name: Apply the registry spec
      regtrust.node.apply:
        spec_content: "{{ lookup('ansible.builtin.file', spec_file | default('registries.yaml')) }}"
        root: "{{ regtrust_root }}"
        containerd: "{{ containerd_version }}"
        runtimes:
          - containerd
        regtrust_path: "{{ regtrust_install_dest }}"
      register: regtrust_apply
      notify: Restart containerd
  handlers:
    - name: Restart containerd
      ansible.builtin.copy:
        dest: "{{ restart_marker }}"
        content: "{{ regtrust_apply.restart }}\n"
        mode: "0644"
      when: regtrust_apply.restart_required
"#;

const BAD_SPEC: &str = "registries:\n  - host: my.private.registry:5000\n    insecure: true\n";

struct Node {
    name: String,
    version: &'static str,
    dir: PathBuf,
    root: PathBuf,
    marker: PathBuf,
    bin: PathBuf,
}

/// Every ansible command runs with its home, temp, cache and collections in `work`.
fn ansible(work: &Path, tool: &str) -> Command {
    let mut c = Command::new(tool);
    c.current_dir(work)
        .env("HOME", work.join("home"))
        .env("ANSIBLE_HOME", work.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", work.join("ansible-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", work.join("ansible-remote-tmp"))
        .env("XDG_CACHE_HOME", work.join("cache"))
        // ansible-lint 6.13 (ansible-compat) loads collections from the parent of this path, so
        // it names the ansible_collections directory itself; ansible accepts that too.
        .env(
            "ANSIBLE_COLLECTIONS_PATH",
            work.join("collections/ansible_collections"),
        )
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_CONFIG", work.join("no-ansible.cfg"))
        .env("ANSIBLE_PYTHON_INTERPRETER", PYTHON)
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_CALLBACK_PLUGINS", manifest_dir().join("tests/e2e"))
        .env("ANSIBLE_CALLBACKS_ENABLED", "ansible_record")
        .env("REGTRUST_ANSIBLE_RECORD", work.join("record.json"));
    c
}

fn ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what} failed:\n{}", text(o));
}

/// `ansible-playbook`: (exit code, what tests/e2e/ansible_record.py recorded, the output).
fn playbook(work: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let record = work.join("record.json");
    let _ = fs::remove_file(&record);
    let o = run(ansible(work, "ansible-playbook")
        .args(["-i", "inventory.yml", "playbook.yml"])
        .args(extra));
    let report = fs::read(&record)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| {
            panic!(
                "ansible-playbook {extra:?}: nothing recorded:\n{}",
                text(&o)
            )
        });
    (o.status.code().unwrap_or(-1), report, text(&o))
}

/// The result of the task named `task` on `host`, if it ran there (not skipped).
fn result<'a>(
    report: &'a serde_json::Value,
    task: &str,
    host: &str,
) -> Option<&'a serde_json::Value> {
    report["results"]
        .as_array()?
        .iter()
        .find(|r| r["task"] == task && r["host"] == host && r["status"] != "skipped")
        .map(|r| &r["result"])
}

fn stats(report: &serde_json::Value, host: &str, key: &str) -> i64 {
    report["stats"][host][key]
        .as_i64()
        .unwrap_or_else(|| panic!("no stats.{host}.{key} in the report:\n{report:#}"))
}

/// Every file under `dir` with its mode, and every directory.
fn tree(dir: &Path) -> Vec<(String, u32, String)> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<(String, u32, String)>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.push((rel + "/", mode, String::new()));
                walk(base, &p, out);
            } else {
                let content = String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned();
                out.push((rel, mode, content));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn lint(work: &Path, cwd: &Path, files: &[&str]) -> Output {
    run(ansible(work, "ansible-lint")
        .current_dir(cwd)
        .args(["--offline", "--strict", "--nocolor"])
        .args(files))
}

#[test]
fn ansible_playbook_checks_applies_and_containerd_pulls() {
    require_root("containerd on the node roots needs root");
    for tool in [
        "ansible-playbook",
        "ansible-galaxy",
        "ansible-lint",
        "ansible",
    ] {
        require_tool(tool, HINT);
    }
    let version = run(Command::new("ansible-playbook").arg("--version"));
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    assert!(
        version.contains("[core 2.14."),
        "expected Debian 12's ansible-core 2.14: {version}"
    );

    let fx = Fixture::new("ansible", 170);
    let work = fx.work.clone();
    let collection_src = manifest_dir().join("ansible");

    // Build, and install from the tarball only (no Galaxy server is contacted).
    let o = run(ansible(&work, "ansible-galaxy")
        .args(["collection", "build"])
        .arg(&collection_src)
        .arg("--output-path")
        .arg(work.join("dist")));
    ok(&o, "ansible-galaxy collection build");
    let o = run(ansible(&work, "ansible-galaxy")
        .args(["collection", "install", "--offline"])
        .arg(work.join("dist").join(COLLECTION_TARBALL))
        .arg("-p")
        .arg(work.join("collections")));
    ok(&o, "ansible-galaxy collection install");
    let installed = work.join("collections/ansible_collections/regtrust/node");
    assert!(
        installed.join("plugins/modules/apply.py").is_file()
            && installed.join("roles/install/tasks/main.yml").is_file(),
        "the collection is not installed under {}",
        installed.display()
    );
    let o = run(ansible(&work, "ansible-doc").arg("regtrust.node.apply"));
    ok(&o, "ansible-doc regtrust.node.apply");

    // The nodes: one root each, with their own containerd version and config.
    let nodes: Vec<Node> = [
        ("node-1.6", "1.6", debian_config("1.6")),
        ("node-1.7", "1.7", default_config("1.7")),
        ("node-2.1", "2.1", with_recipe(&default_config("2.1"))),
    ]
    .into_iter()
    .map(|(name, version, config)| {
        let dir = work.join(name);
        let root = dir.join("root");
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
        fs::create_dir_all(dir.join("bin")).unwrap();
        Node {
            name: name.to_string(),
            version,
            marker: dir.join("restart-marker"),
            bin: dir.join("bin/regtrust"),
            root,
            dir,
        }
    })
    .collect();
    let mut inventory = String::from("all:\n  hosts:\n");
    for n in &nodes {
        inventory.push_str(&format!(
            "    {}:\n      ansible_connection: local\n      regtrust_root: {}\n      \
             containerd_version: \"{}\"\n      regtrust_install_dest: {}\n      \
             restart_marker: {}\n",
            n.name,
            n.root.display(),
            n.version,
            n.bin.display(),
            n.marker.display()
        ));
    }
    inventory.push_str(&format!(
        "  vars:\n    regtrust_install_src: {}\n",
        regtrust_bin().display()
    ));
    fs::write(work.join("inventory.yml"), inventory).unwrap();
    fs::write(work.join("playbook.yml"), PLAYBOOK).unwrap();
    fs::copy(&fx.spec, work.join("registries.yaml")).unwrap();
    fs::write(work.join("bad-spec.yaml"), BAD_SPEC).unwrap();

    // ansible-lint, offline: the collection, the README's example playbook, this playbook.
    let o = lint(&work, &collection_src, LINTED);
    ok(&o, "ansible-lint on the collection");
    assert!(
        text(&o).contains("0 failure(s), 0 warning(s)"),
        "{}",
        text(&o)
    );
    let o = lint(&work, &work, &["playbook.yml"]);
    ok(&o, "ansible-lint on the test's playbook");
    // Control: an option the module does not have fails the lint (so it reads the module).
    fs::write(
        work.join("bad-playbook.yml"),
        PLAYBOOK.replace(
            "        runtimes:\n",
            "        no_such_option: true\n        runtimes:\n",
        ),
    )
    .unwrap();
    let o = lint(&work, &work, &["bad-playbook.yml"]);
    assert!(
        !o.status.success() && text(&o).contains("args[module]"),
        "ansible-lint accepted an unknown option of regtrust.node.apply:\n{}",
        text(&o)
    );
    // The README shows examples/playbook.yml as it is.
    let readme = fs::read_to_string(collection_src.join("README.md")).unwrap();
    let example = fs::read_to_string(collection_src.join("examples/playbook.yml")).unwrap();
    assert!(
        readme.contains(&format!("```yaml\n{example}```")),
        "ansible/README.md does not show examples/playbook.yml as it is"
    );

    // 0. The role puts the binary on the nodes (check mode needs it there: the module runs it to
    // know what would change).
    let o = run(ansible(&work, "ansible")
        .args([
            "all",
            "-i",
            "inventory.yml",
            "-m",
            "ansible.builtin.include_role",
        ])
        .args(["-a", "name=regtrust.node.install"]));
    ok(&o, "the install role");
    for n in &nodes {
        let mode = fs::metadata(&n.bin).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(
            mode.ok(),
            Some(0o755),
            "{}: the role did not install the binary",
            n.name
        );
    }

    let apply = "Apply the registry spec";
    let handler = "Restart containerd";
    let hosts_node_path = "/etc/containerd/certs.d/my.private.registry:5000/hosts.toml";
    let config_node_path = "/etc/containerd/config.toml";

    // 1. Check mode (with --diff): changes reported, handler notified, nothing written.
    let before: Vec<_> = nodes.iter().map(|n| tree(&n.dir)).collect();
    let (code, report, out) = playbook(&work, &["--check", "--diff"]);
    assert_eq!(code, 0, "check run:\n{out}");
    for (n, before) in nodes.iter().zip(&before) {
        let r = result(&report, apply, &n.name).unwrap_or_else(|| panic!("{}: {out}", n.name));
        assert_eq!(r["changed"], true, "{}: {r:#}", n.name);
        assert_eq!(r["restart"], "containerd must restart", "{}: {r:#}", n.name);
        assert_eq!(r["restart_required"], true);
        let files = r["files_changed"].as_array().unwrap();
        for f in [hosts_node_path, config_node_path] {
            assert!(files.iter().any(|x| x == f), "{}: {f} not in {r:#}", n.name);
        }
        let diff = r["diff"]["prepared"].as_str().unwrap_or_default();
        assert!(
            diff.contains("+++ /etc/containerd/config.toml")
                && diff.lines().any(|l| l.starts_with('+')
                    && l.contains("config_path")
                    && l.contains("/etc/containerd/certs.d")),
            "{}: no config_path in the diff: {diff}",
            n.name
        );
        assert_eq!(
            &tree(&n.dir),
            before,
            "{}: check mode wrote something",
            n.name
        );
        assert!(!n.marker.exists());
    }

    // 2. For real: the binary installed, files written, the handler run.
    let (code, report, out) = playbook(&work, &[]);
    assert_eq!(code, 0, "first run:\n{out}");
    for n in &nodes {
        let r = result(&report, apply, &n.name).unwrap();
        assert_eq!(r["changed"], true, "{}: {r:#}", n.name);
        assert_eq!(r["containerd"], n.version);
        let config = fs::read_to_string(n.root.join("etc/containerd/config.toml")).unwrap();
        assert_eq!(
            config_path_of(&config).as_deref(),
            Some("/etc/containerd/certs.d"),
            "{}: {config}",
            n.name
        );
        assert!(n.root.join(&hosts_node_path[1..]).is_file(), "{}", n.name);
        assert_eq!(
            fs::read_to_string(&n.marker).ok().as_deref(),
            Some("containerd must restart\n"),
            "{}: the handler did not run:\n{out}",
            n.name
        );
    }

    // 3. Again: nothing changes, the handler is not notified.
    let after: Vec<_> = nodes
        .iter()
        .map(|n| {
            fs::remove_file(&n.marker).unwrap();
            tree(&n.dir)
        })
        .collect();
    let (code, report, out) = playbook(&work, &[]);
    assert_eq!(code, 0, "second run:\n{out}");
    for (n, after) in nodes.iter().zip(&after) {
        assert_eq!(stats(&report, &n.name, "changed"), 0, "{}: {out}", n.name);
        let r = result(&report, apply, &n.name).unwrap();
        assert_eq!(r["changed"], false);
        assert_eq!(r["restart"], "none");
        assert!(
            result(&report, handler, &n.name).is_none(),
            "{}: handler ran",
            n.name
        );
        assert!(!n.marker.exists());
        assert_eq!(&tree(&n.dir), after, "{}: the second run wrote", n.name);
    }

    // 4. A bad spec fails the task with the spec's line and column; nothing is written.
    let (code, report, out) = playbook(
        &work,
        &["--limit", "node-1.6", "-e", "spec_file=bad-spec.yaml"],
    );
    assert_ne!(code, 0, "a bad spec passed:\n{out}");
    let r = result(&report, apply, "node-1.6").unwrap();
    let msg = r["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("at line 3, column 5") && msg.contains("unknown-key"),
        "{msg}"
    );
    assert_eq!(
        (r["line"].as_i64(), r["column"].as_i64()),
        (Some(3), Some(5))
    );
    assert_eq!(tree(&nodes[0].dir), after[0], "a bad spec wrote something");

    // 5. A runtime regtrust does not know fails with regtrust's own message.
    let o = run(ansible(&work, "ansible")
        .args(["node-1.6", "-i", "inventory.yml", "-m", "regtrust.node.apply", "-a"])
        .arg(format!(
            "{{\"spec\": \"{}\", \"root\": \"{}\", \"runtimes\": [\"containerd\", \"rkt\"], \"regtrust_path\": \"{}\"}}",
            fx.spec.display(),
            nodes[0].root.display(),
            nodes[0].bin.display()
        ))
);
    assert!(
        !o.status.success() && text(&o).contains("unknown runtime `rkt`"),
        "{}",
        text(&o)
    );
    // Docker Engine (as `apply --runtime` takes it): daemon.json changes, dockerd must reload;
    // the second run changes nothing and needs no reload. (dockerd itself: tests/real/docker.rs.)
    let docker_root = work.join("docker-root");
    fs::create_dir_all(docker_root.join("etc/docker")).unwrap();
    fs::write(
        docker_root.join("etc/docker/daemon.json"),
        "{\n  \"log-driver\": \"json-file\"\n}\n",
    )
    .unwrap();
    let docker_run = || {
        let o = run(ansible(&work, "ansible")
            .args(["node-1.6", "-i", "inventory.yml", "-m", "regtrust.node.apply", "-a"])
            .arg(format!(
                "{{\"spec\": \"{}\", \"root\": \"{}\", \"runtimes\": [\"docker\"], \"regtrust_path\": \"{}\"}}",
                fx.spec.display(),
                docker_root.display(),
                nodes[0].bin.display()
            )));
        let out = text(&o);
        assert!(o.status.success(), "docker runtime: {out}");
        let json = out.split_once(" => ").map(|(_, j)| j).unwrap_or_default();
        // The result object, then Ansible's warnings.
        serde_json::Deserializer::from_str(json)
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("ad hoc output: {out}"))
    };
    let first = docker_run();
    assert_eq!(
        (
            &first["changed"],
            &first["reload_docker"],
            &first["restart_required"]
        ),
        (&true.into(), &true.into(), &false.into()),
        "{first}"
    );
    assert_eq!(first["runtimes"], serde_json::json!(["docker"]));
    assert!(
        fs::read_to_string(docker_root.join("etc/docker/daemon.json"))
            .unwrap()
            .contains("my.private.registry:5000"),
        "daemon.json names the HTTP registry"
    );
    assert!(!docker_root.join("etc/containerd").exists(), "only docker");
    let second = docker_run();
    assert_eq!(
        (&second["changed"], &second["reload_docker"]),
        (&false.into(), &false.into()),
        "{second}"
    );

    // The spec_content temp files are gone, and nothing went to the real ~/.ansible.
    let leftovers = run(Command::new("find")
        .arg(&work)
        .args(["-name", "regtrust-spec-*"]));
    assert_eq!(
        String::from_utf8_lossy(&leftovers.stdout),
        "",
        "temp specs left"
    );
    assert!(
        !work.join("home/.ansible").exists(),
        "something used ~/.ansible"
    );

    // 5b. Check mode with --diff on credentials: the diff shows the Authorization header
    // redacted; neither the password (read from a file, so it is not in spec_content) nor its
    // base64 appears in anything printed, and nothing is written.
    let secret_root = work.join("secret-node/root");
    fs::create_dir_all(secret_root.join("etc/containerd")).unwrap();
    fs::write(
        secret_root.join("etc/containerd/config.toml"),
        debian_config("1.6"),
    )
    .unwrap();
    let password = "ansible-Secret-7Qw4";
    let pw_file = work.join("secret-node/alice.pw");
    fs::write(&pw_file, format!("{password}\n")).unwrap();
    let token = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"))
    };
    let spec = format!(
        "registries:\n  - host: my.private.registry:5000\n    http: true\n    auth:\n      \
         username: alice\n      password_file: {}\n",
        pw_file.display()
    );
    let before = tree(&secret_root);
    let args = serde_json::json!({
        "spec_content": spec,
        "root": secret_root,
        "containerd": "1.6",
        "regtrust_path": nodes[0].bin,
    });
    let o = run(ansible(&work, "ansible")
        .args([
            "node-1.6",
            "-i",
            "inventory.yml",
            "-m",
            "regtrust.node.apply",
        ])
        .args(["--check", "--diff", "-a"])
        .arg(args.to_string()));
    let out = text(&o);
    assert!(
        // containerd 1.6: the credentials go into config.toml (`method: config`, the default).
        o.status.success() && out.contains("password = \"<redacted>\"") && out.contains("CHANGED"),
        "check --diff with credentials:\n{out}"
    );
    assert!(
        !out.contains(password) && !out.contains(&token),
        "the password or its base64 was printed:\n{out}"
    );
    assert_eq!(tree(&secret_root), before, "check mode wrote");

    // 6. Real containerd of each node's version on each root pulls over CRI.
    let mut failures = Vec::new();
    for n in &nodes {
        let ctrd = Containerd::start(
            &containerd_bin(n.version),
            &n.root,
            &fx.hosts,
            &n.dir.join("state"),
        );
        for image in [PRIVATE_IMAGE, MIRRORED_IMAGE] {
            if let Err(e) = ctrd.cri_pull(image) {
                failures.push(format!(
                    "{} (containerd {}): pull {image}: {e}\n{}",
                    n.name,
                    n.version,
                    ctrd.log_tail()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
