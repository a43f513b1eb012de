//! cloud-init user-data: valid per cloud-init 22.4.2's own schema, read back by PyYAML exactly as
//! planned, and applied by cloud-init's own modules so that real containerd then pulls (twice).
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::support::*;
use crate::system::*;
use regtrust::containerd::Version;
use regtrust::emit::cloud_init::PATCH_SCRIPT_PATH;
use regtrust::emit::patch_script;
use regtrust::plan::Plan;
use serde_json::Value;

fn render(spec: &Path, out: &Path, extra: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--spec"])
        .arg(spec)
        .args(["--target", "cloud-init", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn schema_ok(file: &Path) {
    let o = run(Command::new("cloud-init").args(["schema", "-c"]).arg(file));
    assert!(
        o.status.success(),
        "cloud-init schema rejected {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn valid_per_cloud_init_schema_for_every_version_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let spec = manifest_dir().join("examples/registries.yaml");
    for v in ["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"] {
        for (mode, extra) in [
            ("plain", &[][..]),
            ("hosts-only", &["--hosts-only"][..]),
            ("gz", &["--encoding", "gz+b64"][..]),
        ] {
            let out = dir.path().join(format!("{v}-{mode}.yaml"));
            let stderr = render(&spec, &out, &[&["--containerd", v][..], extra].concat());
            let size = fs::metadata(&out).unwrap().len();
            assert!(
                stderr.contains(&format!("user-data: {size} bytes")),
                "{stderr}"
            );
            schema_ok(&out);
        }
    }
}

/// The spec full of awkward values (shared with the Ignition tests).
const AWKWARD: &str = AWKWARD_SPEC;

/// What the plan says, plus the patch script, as (path, permissions, content).
fn expected(spec_text: &str, hosts_only: bool) -> Vec<(String, String, String)> {
    let loaded = regtrust::spec::load_str("spec.yaml", spec_text).unwrap();
    let v = Version::parse("1.7").unwrap();
    let plan = Plan::build(&loaded.spec, &[], "/etc/containerd/certs.d", Some(v));
    let mut files: Vec<_> = plan
        .files
        .iter()
        .map(|f| (f.path.clone(), format!("{:04o}", f.mode), f.content.clone()))
        .collect();
    if !hosts_only {
        files.push((
            PATCH_SCRIPT_PATH.to_string(),
            "0755".into(),
            patch_script::render(v, &plan.config_path, false),
        ));
    }
    files
}

fn as_files(doc: &Value) -> Vec<(String, String, String)> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["owner"], "root:root");
            (
                f["path"].as_str().unwrap().to_string(),
                f["permissions"].as_str().unwrap().to_string(),
                f["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pyyaml_reads_back_exactly_the_planned_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("awkward.yaml");
    fs::write(&spec, AWKWARD).unwrap();
    // containerd's part alone (the runtimes pinned): the other runtimes' script is checked by
    // boot_and_pull and tests/fast/boot_runtimes.rs.
    for (mode, extra, hosts_only) in [
        ("plain", &["--runtime", "containerd"][..], false),
        (
            "gz",
            &["--runtime", "containerd", "--encoding", "gz+b64"][..],
            false,
        ),
        ("mime", &["--runtime", "containerd", "--mime"][..], false),
        ("hosts-only", &["--hosts-only"][..], true),
    ] {
        let out = dir.path().join(format!("{mode}.yaml"));
        render(&spec, &out, extra);
        if mode != "mime" {
            schema_ok(&out);
        }
        let doc = userdata_files(&out);
        let want = expected(AWKWARD, hosts_only);
        assert_eq!(as_files(&doc), want, "{mode}");
        let keys: Vec<_> = want
            .iter()
            .filter(|(p, ..)| p.ends_with("client.key"))
            .collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].1, "0600");
        if hosts_only {
            assert_eq!(
                doc["runcmd"],
                Value::Array(vec![]),
                "hosts-only has no runcmd"
            );
        } else {
            assert_eq!(doc["runcmd"], serde_json::json!([[PATCH_SCRIPT_PATH]]));
        }
        assert_eq!(doc["merge_how"][0]["name"], "list");
        assert_eq!(
            doc["merge_how"][0]["settings"],
            serde_json::json!(["append"])
        );
    }
}

#[test]
fn mime_part_holds_the_same_document() {
    let dir = tempfile::tempdir().unwrap();
    let spec = manifest_dir().join("examples/registries.yaml");
    let plain = dir.path().join("plain.yaml");
    let mime = dir.path().join("mime.txt");
    render(&spec, &plain, &[]);
    render(&spec, &mime, &["--mime"]);
    let text = fs::read_to_string(&mime).unwrap();
    assert!(text.starts_with("Content-Type: multipart/mixed; boundary="));
    assert!(text.contains("Content-Type: text/cloud-config"));
    assert_eq!(userdata_files(&mime), userdata_files(&plain));
}

#[test]
fn large_user_data_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = String::from("containerd:\n  version: \"1.7\"\nregistries:\n");
    for i in 0..60 {
        spec.push_str(&format!(
            "  - host: registry{i}.corp.example:5000\n    http: true\n"
        ));
    }
    let spec_path = dir.path().join("big.yaml");
    fs::write(&spec_path, spec).unwrap();
    let plain = dir.path().join("plain.yaml");
    let stderr = render(&spec_path, &plain, &[]);
    assert!(fs::metadata(&plain).unwrap().len() > 16384);
    assert!(
        stderr.contains("above EC2's 16384-byte user-data limit; try --encoding gz+b64"),
        "{stderr}"
    );
    let gz = dir.path().join("gz.yaml");
    let stderr = render(&spec_path, &gz, &["--encoding", "gz+b64"]);
    assert!(fs::metadata(&gz).unwrap().len() < fs::metadata(&plain).unwrap().len());
    assert!(stderr.contains("user-data:"), "{stderr}");
    assert_eq!(userdata_files(&gz), userdata_files(&plain));
}

/// cloud-init applies the user-data over a scratch /etc/containerd seeded with `seed`, twice;
/// then containerd of `version` pulls through CRI.
/// `detect`: rendered without `--containerd`; the script reads the version from `containerd
/// --version` (the release's own binary first on PATH in the namespace), says so, and writes
/// what the pinned script writes (apply's patch for that release).
fn boot_and_pull(
    fx: &Fixture,
    version: &str,
    case: &str,
    seed: &str,
    hosts_only: bool,
    detect: bool,
) -> Vec<String> {
    let dir = fx.work.join(case);
    let root = dir.join("root");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), seed).unwrap();
    let userdata = dir.join("user-data.yaml");
    let mut args = if detect {
        vec![]
    } else {
        vec!["--containerd", version]
    };
    if hosts_only {
        args.push("--hosts-only");
    }
    render(&fx.spec, &userdata, &args);
    let bin_dir = containerd_bin(version)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let mut failures = Vec::new();
    for round in 1..=2 {
        let o = run_cloud_init_env(&userdata, &root, &[("PATH", path.clone())]);
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success(),
            "{version} {case} round {round}: cloud-init failed:\n{out}"
        );
        let ran_script = out.contains("running /var/lib/cloud/instances/");
        assert_eq!(
            ran_script, !hosts_only,
            "{version} {case}: runcmd presence:\n{out}"
        );
        if !hosts_only {
            let want = if round == 1 {
                "set config_path"
            } else {
                "unchanged"
            };
            assert!(
                out.contains(want),
                "{version} {case} round {round}: expected `{want}`:\n{out}"
            );
        }
        if !hosts_only {
            // Nothing pins the runtimes: the runtimes script found this machine's dockerd and
            // podman (installed by .ci/install-deps) and wrote their part under the root's
            // /etc/docker and /etc/containers (bound over those in the namespace).
            for found in [
                "found Docker Engine (/usr/sbin/dockerd)",
                "found Podman/CRI-O/Buildah/Skopeo (/usr/bin/podman)",
            ] {
                assert!(out.contains(found), "{version} {case}: `{found}`:\n{out}");
            }
            let drop_in = root.join("etc/containers/registries.conf.d/50-regtrust.conf");
            let daemon = root.join("etc/docker/daemon.json");
            for f in [&drop_in, &daemon] {
                assert!(f.is_file(), "{version} {case}: {}:\n{out}", f.display());
            }
            assert!(
                fs::read_to_string(&daemon)
                    .unwrap()
                    .contains("\"insecure-registries\""),
                "{version} {case}"
            );
        }
        let config = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
        if hosts_only {
            assert_eq!(config, seed, "hosts-only must not touch config.toml");
        }
        if detect {
            assert!(
                out.contains(&format!(
                    "configuring containerd {version} (read from containerd --version"
                )),
                "{version} {case}: the detected version is said:\n{out}"
            );
            let covered = std::collections::BTreeSet::new();
            let want =
                regtrust::emit::config_patch::patch(&regtrust::emit::config_patch::PatchRequest {
                    existing: Some(seed),
                    containerd: Version::parse(version).unwrap(),
                    config_path: Some("/etc/containerd/certs.d"),
                    covered_dirs: &covered,
                    credentials: &[],
                })
                .unwrap();
            assert_eq!(config, want.text, "{version} {case}: not what apply writes");
        }
        let ctrd = Containerd::start(
            &containerd_bin(version),
            &root,
            &fx.hosts,
            &dir.join(format!("state-{round}")),
        );
        for image in [PRIVATE_IMAGE, MIRRORED_IMAGE] {
            if let Err(e) = ctrd.cri_pull(image) {
                failures.push(format!(
                    "{version} {case} round {round}: {image}: {e}\n{}",
                    ctrd.log_tail()
                ));
            }
        }
    }
    failures
}

fn first_boot(version: &str, ip_base: u8) {
    let fx = Fixture::new(&format!("cloud-init-{version}"), ip_base);
    let mut failures = Vec::new();
    let debian = debian_config(version);
    failures.extend(boot_and_pull(&fx, version, "debian", &debian, false, false));
    failures.extend(boot_and_pull(
        &fx,
        version,
        "default",
        &default_config(version),
        false,
        false,
    ));
    // Rendered without --containerd: the script reads the node's.
    failures.extend(boot_and_pull(
        &fx,
        version,
        "detected",
        &default_config(version),
        false,
        true,
    ));
    // An image that already has config_path baked in: hosts files only, config.toml untouched.
    let baked = format!(
        "{debian}\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"
    );
    failures.extend(boot_and_pull(
        &fx,
        version,
        "baked-hosts-only",
        &baked,
        true,
        false,
    ));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cloud_init_then_containerd_1_6_pulls() {
    first_boot("1.6", 50);
}

#[test]
fn cloud_init_then_containerd_1_7_pulls() {
    first_boot("1.7", 60);
}

#[test]
fn cloud_init_then_containerd_2_1_pulls() {
    first_boot("2.1", 70);
}

/// A user's own cloud-config part: a file and a runcmd of its own, and no merge_how (cloud-init's
/// default merge, `dict(replace)+list()+str()`) unless `merge_how` is given.
fn user_part(merge_how: bool) -> String {
    let mut s = String::from("#cloud-config\n");
    if merge_how {
        s.push_str(
            "merge_how:\n  - name: list\n    settings: [append]\n  - name: dict\n    settings: [no_replace, recurse_list]\n",
        );
    }
    s.push_str(
        "write_files:\n  - path: /opt/user-app/app.conf\n    permissions: '0640'\n    content: |\n      user setting\nruncmd:\n  - [sh, -c, \"echo user runcmd ran > /opt/user-app/ran\"]\n",
    );
    s
}

/// `cloud-init devel make-mime` of the parts, in this order.
fn make_mime(parts: &[&Path], out: &Path) {
    let mut c = Command::new("cloud-init");
    c.args(["devel", "make-mime"]);
    for p in parts {
        c.arg("-a").arg(format!("{}:cloud-config", p.display()));
    }
    let o = run(&mut c);
    assert!(o.status.success(), "make-mime: {}", text(&o));
    fs::write(out, &o.stdout).unwrap();
}

/// The config.toml the composition starts from, and what `regtrust apply` makes of it.
const COMPOSE_SEED: &str =
    "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"pause:3.9\"\n";

/// Boots the multipart of `parts` (each a file) through cloud-init over a scratch root seeded
/// with COMPOSE_SEED; returns the root and cloud-init's output.
fn boot_parts(dir: &Path, case: &str, parts: &[&Path]) -> (std::path::PathBuf, String) {
    let root = dir.join(case);
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), COMPOSE_SEED).unwrap();
    let userdata = dir.join(format!("{case}.mime"));
    make_mime(parts, &userdata);
    let o = run_cloud_init_boot(&userdata, &root);
    let out = text(&o);
    assert!(o.status.success(), "{case}: cloud-init failed:\n{out}");
    (root, out)
}

fn user_part_survived(case: &str, root: &Path, out: &str) {
    let conf = root.join("opt/user-app/app.conf");
    assert_eq!(
        fs::read_to_string(&conf).ok().as_deref(),
        Some("user setting\n"),
        "{case}: the user's file:\n{out}"
    );
    assert_eq!(mode_of(&conf), 0o640, "{case}: the user's file mode");
    assert_eq!(
        fs::read_to_string(root.join("opt/user-app/ran"))
            .ok()
            .as_deref(),
        Some("user runcmd ran\n"),
        "{case}: the user's runcmd:\n{out}"
    );
}

/// Every planned file and the patch script are written with their modes, and the runcmd ran:
/// config.toml is byte for byte what `regtrust apply`'s patch makes of the seed.
fn regtrust_part_survived(case: &str, root: &Path, out: &str) {
    let v = Version::parse("1.7").unwrap();
    let loaded = regtrust::spec::load_str("spec.yaml", E2E_SPEC).unwrap();
    let plan = Plan::build(&loaded.spec, &[], "/etc/containerd/certs.d", Some(v));
    let mut files: Vec<(String, u32, String)> = plan
        .files
        .iter()
        .map(|f| (f.path.clone(), f.mode, f.content.clone()))
        .collect();
    assert!(files.len() >= 2, "{case}: the spec plans hosts files");
    files.push((
        PATCH_SCRIPT_PATH.to_string(),
        0o755,
        patch_script::render(v, &plan.config_path, false),
    ));
    for (path, mode, content) in &files {
        let p = root.join(path.trim_start_matches('/'));
        assert_eq!(
            fs::read_to_string(&p).ok().as_deref(),
            Some(content.as_str()),
            "{case}: {path}:\n{out}"
        );
        assert_eq!(mode_of(&p), *mode, "{case}: mode of {path}");
    }
    let covered = std::collections::BTreeSet::new();
    let want = regtrust::emit::config_patch::patch(&regtrust::emit::config_patch::PatchRequest {
        existing: Some(COMPOSE_SEED),
        containerd: v,
        config_path: Some("/etc/containerd/certs.d"),
        covered_dirs: &covered,
        credentials: &[],
    })
    .unwrap();
    assert!(want.changed);
    assert_eq!(
        fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap(),
        want.text,
        "{case}: config.toml not patched by regtrust's runcmd:\n{out}"
    );
    assert!(out.contains("regtrust: set config_path"), "{case}:\n{out}");
}

/// regtrust's part composed with a user's own cloud-config part (its own write_files and
/// runcmd) in one MIME multipart, through cloud-init's whole boot path (its user-data processor
/// does the merging): both parts' files are written and both runcmds run, when regtrust's part
/// comes after a part without merge_how, and in either order when the user's part carries the
/// same merge_how. The control pins the documented limit: a later part without merge_how
/// replaces the lists of the parts before it (cloud-init's default merge), so regtrust's files
/// and runcmd are gone — which also shows the checks above can fail.
#[test]
fn cloud_init_merges_regtrusts_part_with_a_users_part() {
    let dir = work_dir("cloud-init-compose");
    let spec = dir.join("spec.yaml");
    fs::write(&spec, E2E_SPEC).unwrap();
    let ours = dir.join("regtrust.yaml");
    render(&spec, &ours, &["--containerd", "1.7"]);
    let plain_user = dir.join("user.yaml");
    fs::write(&plain_user, user_part(false)).unwrap();
    let merging_user = dir.join("user-merge-how.yaml");
    fs::write(&merging_user, user_part(true)).unwrap();

    for (case, parts) in [
        ("user-then-regtrust", [&plain_user, &ours]),
        ("merging-user-then-regtrust", [&merging_user, &ours]),
        ("regtrust-then-merging-user", [&ours, &merging_user]),
    ] {
        let (root, out) = boot_parts(&dir, case, &parts.map(|p| p.as_path()));
        user_part_survived(case, &root, &out);
        regtrust_part_survived(case, &root, &out);
    }

    // The control: regtrust's part first, then a part without merge_how.
    let case = "regtrust-then-plain-user";
    let (root, out) = boot_parts(&dir, case, &[&ours, &plain_user]);
    user_part_survived(case, &root, &out);
    assert!(
        !root
            .join("etc/containerd/certs.d/my.private.registry:5000/hosts.toml")
            .exists(),
        "{case}: cloud-init kept regtrust's write_files after all:\n{out}"
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap(),
        COMPOSE_SEED,
        "{case}: regtrust's runcmd ran after all:\n{out}"
    );
    assert!(!out.contains(PATCH_SCRIPT_PATH), "{case}:\n{out}");
}
