//! Terraform without terraform: the external data source protocol answers the JSON Terraform
//! sends with what the CLI renders, and the shipped example's template is what regtrust renders
//! today. (The real suite evaluates the templates with the real `terraform`.)
use std::fs;
use std::process::{Command, Output};

use base64::Engine as _;

use crate::support::{manifest_dir, regtrust, run_with_input};

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_terraform_example_template_is_current() {
    let example = manifest_dir().join("examples/terraform");
    let spec = manifest_dir().join("examples/registries.yaml");
    let fresh = ok(regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
        "--target",
        "cloud-init",
        "--runtime",
        "containerd",
        "--escape",
        "terraform",
        "--template-var",
        "registry_host=my.private.registry:5000",
    ]));
    assert_eq!(
        fs::read_to_string(example.join("user-data.yaml.tftpl")).unwrap(),
        fresh,
        "regenerate the example template"
    );
}

fn external(query: &str) -> Output {
    run_with_input(
        Command::new(env!("CARGO_BIN_EXE_regtrust")).arg("terraform-external"),
        query,
    )
}

#[test]
fn external_data_source_protocol() {
    let spec_text = fs::read_to_string(manifest_dir().join("examples/registries.yaml")).unwrap();
    // What Terraform sends for query = { spec = file("registries.yaml"), containerd = "1.7" }.
    let query = serde_json::json!({ "spec": spec_text, "containerd": "1.7" }).to_string();
    let o = external(&query);
    let out: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&ok(o).into_bytes()).unwrap();
    assert!(
        out.values().all(|v| v.is_string()),
        "a flat object of strings"
    );
    let spec = manifest_dir().join("examples/registries.yaml");
    let s = spec.to_str().unwrap();
    let direct = ok(regtrust(&[
        "render",
        "--spec",
        s,
        "--target",
        "cloud-init",
        "--containerd",
        "1.7",
    ]));
    assert_eq!(out["user_data"], direct.as_str());
    assert_eq!(
        out["hosts_json"],
        ok(regtrust(&["render", "--spec", s, "--target", "json"])).as_str()
    );
    assert_eq!(
        out["script"],
        ok(regtrust(&["render", "--spec", s, "--target", "script"])).as_str()
    );
    let gz = base64::engine::general_purpose::STANDARD
        .decode(out["user_data_base64gzip"].as_str().unwrap())
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert_eq!(text, direct);

    // spec_path works too, and errors go to stderr with a non-zero exit and no stdout.
    let by_path = external(&serde_json::json!({ "spec_path": s }).to_string());
    assert!(by_path.status.success());
    for (bad, words) in [
        (serde_json::json!({ "spec": "registries: [{host: \"http://x\"}]", "containerd": "1.7" }).to_string(), "query.spec:1:"),
        (serde_json::json!({ "spec": spec_text, "colour": "blue" }).to_string(), "unknown query key `colour`"),
        ("{\"spec\": 1}".to_string(), "one JSON object of strings"),
        (serde_json::json!({}).to_string(), "exactly one of `spec`"),
    ] {
        let o = external(&bad);
        assert_ne!(o.status.code(), Some(0), "{bad}");
        assert!(o.stdout.is_empty(), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(words), "{bad}: {err}");
    }
}

/// `--target json` with docker and podman among the spec's runtimes lists every file `apply`
/// writes for the three runtimes (path, mode, content, and the runtime that reads it) and the
/// daemon.json entries `apply` merges; without `runtimes` it is containerd's plan alone (no node
/// to look at). terraform-external's hosts_json is the same document.
#[test]
fn the_json_plan_carries_the_pinned_runtimes_as_apply_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pinned = crate::support::boot_spec!("[containerd, docker, podman]");
    fs::write(d.join("pinned.yaml"), pinned).unwrap();
    fs::write(d.join("unpinned.yaml"), pinned.split_once('\n').unwrap().1).unwrap();
    let spec = |n: &str| d.join(n).to_str().unwrap().to_string();
    let json: serde_json::Value = serde_json::from_str(&ok(regtrust(&[
        "render",
        "--spec",
        &spec("pinned.yaml"),
        "--target",
        "json",
    ])))
    .unwrap();
    let root = d.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    ok(regtrust(&[
        "apply",
        "--spec",
        &spec("pinned.yaml"),
        "--root",
        root.to_str().unwrap(),
    ]));
    let listed: std::collections::BTreeMap<String, (String, String, String)> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_string();
            (s("path"), (s("mode"), s("content"), s("runtime")))
        })
        .collect();
    // Every file apply wrote for a runtime's trust, and nothing else, with its mode and bytes.
    let written: std::collections::BTreeMap<String, (String, String, String)> =
        crate::support::faults::snapshot_with_modes(&root)
            .into_iter()
            .filter(|(p, (_, mode))| {
                *mode != 0
                    && !p.ends_with('/')
                    && [
                        "etc/containerd/certs.d/",
                        "etc/docker/certs.d/",
                        "etc/containers/",
                    ]
                    .iter()
                    .any(|dir| p.starts_with(dir))
            })
            .map(|(p, (content, mode))| {
                let runtime = match p.split('/').nth(1) {
                    Some("docker") => "docker",
                    Some("containers") => "podman",
                    _ => "containerd",
                };
                (
                    format!("/{p}"),
                    (format!("{mode:04o}"), content, runtime.to_string()),
                )
            })
            .collect();
    assert_eq!(listed, written);
    assert!(
        written
            .keys()
            .any(|p| p.starts_with("/etc/docker/certs.d/"))
    );
    assert!(written.contains_key("/etc/containers/registries.conf.d/50-regtrust.conf"));
    // The daemon.json entries are the lists apply wrote into a node without a daemon.json.
    let daemon: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap())
            .unwrap();
    for key in ["insecure-registries", "registry-mirrors"] {
        assert!(
            daemon[key].as_array().is_some_and(|l| !l.is_empty()),
            "{daemon}"
        );
        assert_eq!(json["docker"]["daemon_json"][key], daemon[key], "{key}");
    }
    // Without runtimes: containerd's plan alone.
    let plain: serde_json::Value = serde_json::from_str(&ok(regtrust(&[
        "render",
        "--spec",
        &spec("unpinned.yaml"),
        "--target",
        "json",
    ])))
    .unwrap();
    assert!(plain.get("docker").is_none());
    assert!(
        plain["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["runtime"] == "containerd"
                && f["path"].as_str().unwrap().starts_with("/etc/containerd/"))
    );
    // terraform-external answers with the same document.
    let query = serde_json::json!({ "spec": pinned }).to_string();
    let out: serde_json::Value = serde_json::from_str(&ok(external(&query))).unwrap();
    let hosts_json: serde_json::Value =
        serde_json::from_str(out["hosts_json"].as_str().unwrap()).unwrap();
    assert_eq!(hosts_json, json);
}
