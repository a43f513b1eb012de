//! The configs projects ship (tests/project-configs/<case>: config.toml, the files beside it under
//! rootfs/, and case.toml naming the source and the containerd line tested), on real containerd:
//! unpatched, the CRI pull from the plain-HTTP registry fails with the HTTP error (negative
//! control); after `regtrust apply` it pulls, and `containerd config dump` shows every setting of
//! the original file unchanged but the registry's config_path (and legacy mirrors, migrated).
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use crate::system::*;

struct Case {
    name: String,
    dir: PathBuf,
    containerd: String,
    base_specs: Vec<String>,
}

fn cases() -> Vec<Case> {
    let base = manifest_dir().join("tests/project-configs");
    let mut out: Vec<Case> = fs::read_dir(&base)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("case.toml").exists())
        .map(|e| {
            let doc: toml_edit::DocumentMut = fs::read_to_string(e.path().join("case.toml"))
                .unwrap()
                .parse()
                .unwrap();
            Case {
                name: e.file_name().to_string_lossy().into_owned(),
                containerd: doc["containerd"].as_str().unwrap().to_string(),
                base_specs: doc["base_specs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
                dir: e.path(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 10, "the cases are under {}", base.display());
    out
}

/// The case laid out as a node root: config.toml in /etc/containerd, rootfs/ at /, and the base
/// runtime specs the project generates with `ctr oci spec` generated the same way.
fn lay_out(case: &Case, root: &Path) {
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::copy(
        case.dir.join("config.toml"),
        root.join("etc/containerd/config.toml"),
    )
    .unwrap();
    let rootfs = case.dir.join("rootfs");
    if rootfs.exists() {
        let o = run(Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", rootfs.display()))
            .arg(root));
        assert!(o.status.success(), "{}", text(&o));
    }
    let ctr = containerd_bin(&case.containerd).with_file_name("ctr");
    for spec in &case.base_specs {
        let o = run(Command::new(&ctr).args(["oci", "spec"]));
        assert!(o.status.success(), "ctr oci spec: {}", text(&o));
        let p = root.join(&spec[1..]);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, o.stdout).unwrap();
    }
}

/// `containerd config dump` on the root's files (/etc/containerd and, if present, /etc/cri).
fn config_dump(version: &str, root: &Path) -> String {
    let script = r#"set -e
mount --bind "$E2E_ROOT/etc/containerd" /etc/containerd
if [ -d "$E2E_ROOT/etc/cri" ]; then mkdir -p /etc/cri; mount --bind "$E2E_ROOT/etc/cri" /etc/cri; fi
exec "$E2E_BIN" --config /etc/containerd/config.toml config dump"#;
    let o = run(in_namespace(script)
        .env("E2E_ROOT", root)
        .env("E2E_BIN", containerd_bin(version)));
    assert!(o.status.success(), "config dump: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A dump without what apply is meant to change: each CRI plugin's registry `config_path` and
/// `mirrors` (legacy mirrors are migrated into hosts.toml). Everything else must be equal.
fn settings(dump: &str) -> toml_edit::DocumentMut {
    let mut doc: toml_edit::DocumentMut = dump.parse().expect("config dump is TOML");
    if let Some(plugins) = doc.get_mut("plugins").and_then(|p| p.as_table_like_mut()) {
        for plugin in ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images"] {
            if let Some(reg) = plugins
                .get_mut(plugin)
                .and_then(|p| p.as_table_like_mut())
                .and_then(|p| p.get_mut("registry"))
                .and_then(|r| r.as_table_like_mut())
            {
                reg.remove("config_path");
                reg.remove("mirrors");
            }
        }
    }
    doc
}

/// A value of a dump by path, for the report of the settings that matter most.
fn get<'a>(doc: &'a toml_edit::DocumentMut, path: &[&str]) -> Option<&'a toml_edit::Item> {
    let mut item = doc.as_item();
    for k in path {
        item = item.get(k)?;
    }
    Some(item)
}

#[test]
fn project_configs_pull_after_apply_and_keep_their_settings() {
    // ip_base 160: .160 my.private.registry, .161 cache.corp.example, .162 (nothing listens).
    let fx = Fixture::new("project-configs", 160);
    let spec = fx.spec.to_str().unwrap();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for case in cases() {
        let v = case.containerd.as_str();
        let work = fx.work.join(&case.name);
        let (orig, root) = (work.join("original"), work.join("root"));
        lay_out(&case, &orig);
        lay_out(&case, &root);

        // Negative control: the file as the project ships it.
        let before = {
            let c = Containerd::start(
                &containerd_bin(v),
                &orig,
                &fx.hosts,
                &work.join("state-original"),
            );
            c.cri_pull(PRIVATE_IMAGE)
        };
        let control_ok = matches!(&before, Err(e) if e.contains(HTTP_ERROR));
        if !control_ok {
            failures.push(format!(
                "{}: unpatched pull: expected the HTTP error, got {before:?}",
                case.name
            ));
        }

        let snap = snapshot(&root);
        let o = regtrust(&[
            "apply",
            "--spec",
            spec,
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            v,
        ]);
        let apply = match o.status.code() {
            Some(0) => "edited",
            Some(3) => {
                assert!(
                    text(&o).contains("config.toml"),
                    "{}: exit 3 must name the file: {}",
                    case.name,
                    text(&o)
                );
                assert_eq!(
                    snapshot(&root),
                    snap,
                    "{}: refused, yet the root changed",
                    case.name
                );
                "refused (exit 3)"
            }
            _ => panic!("{}: apply: {}", case.name, text(&o)),
        };
        let again = regtrust(&[
            "apply",
            "--spec",
            spec,
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            v,
        ]);
        if apply == "edited" {
            assert!(
                again.status.success() && text(&again).contains("nothing to do"),
                "{}: second apply: {}",
                case.name,
                text(&again)
            );
        }

        let after = {
            let c = Containerd::start(&containerd_bin(v), &root, &fx.hosts, &work.join("state"));
            let r = c.cri_pull(PRIVATE_IMAGE);
            if r.is_err() {
                failures.push(format!(
                    "{} on {v}: pull after apply: {r:?}\n{}",
                    case.name,
                    c.log_tail()
                ));
            }
            r
        };

        let (d0, d1) = (config_dump(v, &orig), config_dump(v, &root));
        let (s0, s1) = (settings(&d0), settings(&d1));
        let same = s0.to_string() == s1.to_string();
        if !same {
            let diff: Vec<String> = s0
                .to_string()
                .lines()
                .zip(s1.to_string().lines())
                .filter(|(a, b)| a != b)
                .take(10)
                .map(|(a, b)| format!("- {a}\n+ {b}"))
                .collect();
            failures.push(format!(
                "{} on {v}: config dump differs beyond config_path:\n{}",
                case.name,
                diff.join("\n")
            ));
        }
        // The settings that matter most, named in the report (each read from the dump as TOML).
        let key = |doc: &toml_edit::DocumentMut| {
            let cri = if v.starts_with("1.") {
                (
                    "io.containerd.grpc.v1.cri",
                    "io.containerd.grpc.v1.cri",
                    "io.containerd.grpc.v1.cri",
                )
            } else {
                (
                    "io.containerd.cri.v1.images",
                    "io.containerd.cri.v1.runtime",
                    "io.containerd.cri.v1.images",
                )
            };
            let rt = get(
                doc,
                &["plugins", cri.1, "containerd", "default_runtime_name"],
            )
            .and_then(|i| i.as_str())
            .unwrap_or("runc")
            .to_string();
            let sandbox = if v.starts_with("1.") {
                get(doc, &["plugins", cri.0, "sandbox_image"])
            } else {
                get(doc, &["plugins", cri.2, "pinned_images", "sandbox"])
            };
            let snapshotter = if v.starts_with("1.") {
                get(doc, &["plugins", cri.0, "containerd", "snapshotter"])
            } else {
                get(doc, &["plugins", cri.2, "snapshotter"])
            };
            format!(
                "SystemdCgroup={} sandbox={} snapshotter={}",
                get(
                    doc,
                    &[
                        "plugins",
                        cri.1,
                        "containerd",
                        "runtimes",
                        &rt,
                        "options",
                        "SystemdCgroup"
                    ]
                )
                .map_or("-".into(), |i| i.to_string().trim().to_string()),
                sandbox.map_or("-".into(), |i| i.to_string().trim().to_string()),
                snapshotter.map_or("-".into(), |i| i.to_string().trim().to_string()),
            )
        };
        let (k0, k1) = (key(&s0), key(&s1));
        if k0 != k1 {
            failures.push(format!("{} on {v}: {k0} became {k1}", case.name));
        }
        table.push(format!(
            "{:<22} {v}: apply {apply}; unpatched {}; after apply {}; dump {} ({k1})",
            case.name,
            if control_ok {
                "HTTP error"
            } else {
                "NOT the HTTP error"
            },
            if after.is_ok() { "pulls" } else { "FAILS" },
            if same { "same" } else { "DIFFERS" },
        ));
    }
    eprintln!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
