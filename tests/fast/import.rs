//! `migrate` and `import k3s` on the inputs real projects write: endpoints without a scheme,
//! k3s mirrors with nothing under them, and what cannot be carried over said as a warning.
use std::fs;
use std::process::{Command, Output};

fn regtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `endpoint = ["mirror.gcr.io"]` (legacy CRI reads it as https://): migrate and apply both
/// write the explicit https:// endpoint, and doctor is clean of `host-without-scheme` after apply.
#[test]
fn a_legacy_endpoint_without_a_scheme_becomes_https_in_migrate_and_apply() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let config = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"mirror.gcr.io\", \"https://registry-1.docker.io\"]\n";
    fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
    let r = root.to_str().unwrap();
    let o = regtrust(&[
        "migrate",
        "--root",
        r,
        "--containerd",
        "1.7",
        "--emit-spec",
        "-",
    ]);
    let (spec, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(spec.contains("url: https://mirror.gcr.io"), "{spec}");
    assert!(err.contains("has no scheme"), "{err}");
    let spec_path = dir.path().join("spec.yaml");
    fs::write(&spec_path, "registries: []\n").unwrap();
    let o = regtrust(&[
        "apply",
        "--spec",
        spec_path.to_str().unwrap(),
        "--root",
        r,
        "--containerd",
        "1.7",
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let hosts =
        fs::read_to_string(root.join("etc/containerd/certs.d/docker.io/hosts.toml")).unwrap();
    assert!(
        hosts.contains("[host.\"https://mirror.gcr.io\"]"),
        "{hosts}"
    );
    assert!(!hosts.contains("[host.\"mirror.gcr.io\"]"), "{hosts}");
    let o = regtrust(&["doctor", "--root", r, "--containerd", "1.7"]);
    let (report, _) = text(&o);
    assert!(!report.contains("host-without-scheme"), "{report}");
}

/// k3s's embedded-mirror documentation writes `docker.io:` and `"*":` with nothing under them;
/// `rewrite` and `auth` cannot be carried over: warnings, not notes.
#[test]
fn import_k3s_takes_empty_mirror_entries_and_warns_about_what_it_drops() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("registries.yaml");
    fs::write(
        &yaml,
        "mirrors:\n  docker.io:\n  \"*\":\n  registry.example.com:\n    endpoint:\n      - \"http://mirror.example:5000\"\n    rewrite:\n      \"^library/(.*)\": \"mirrored/$1\"\nconfigs:\n  registry.example.com:\n    auth:\n      username: u\n      password: p\n",
    )
    .unwrap();
    let o = regtrust(&["import", "k3s", yaml.to_str().unwrap(), "--emit-spec", "-"]);
    let (spec, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(spec.contains("host: \"registry.example.com\""), "{spec}");
    assert!(spec.contains("http://mirror.example:5000"), "{spec}");
    assert!(
        err.contains("warning: mirrors.\"registry.example.com\".rewrite is dropped"),
        "{err}"
    );
    assert!(
        err.contains("warning: configs.\"registry.example.com\".auth is dropped"),
        "{err}"
    );
    // No secret reaches the output.
    assert!(
        !spec.contains("password") && !err.contains(": p"),
        "{spec}{err}"
    );
}
