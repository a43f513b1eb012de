//! `--root` is a tree that is not this machine's `/` (an image being built): nothing outside it is
//! written, removed, read or executed, whatever links the image holds (`../shared/contracts.md`,
//! "Roots"). Hostile trees: absolute links out, `..` chains, links to links, loops, a symlinked
//! host directory, and a `usr/bin/containerd` that leaves a mark if anything runs it. The
//! installer (`--target script --root`) is held to the same rules.
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::config_path_of;

const SPEC: &str = "registries:\n  - host: reg.test:5000\n    http: true\n";

fn regtrust(args: &[&str], extra: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

/// Every path under `dir` (files, dirs, links), to show nothing appeared or vanished there.
fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

struct Image {
    _t: tempfile::TempDir,
    root: PathBuf,
    /// A directory beside the root: the build host's files.
    outside: PathBuf,
    spec: PathBuf,
}

fn image() -> Image {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let outside = t.path().join("host");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(outside.join("containerd")).unwrap();
    fs::write(outside.join("containerd/config.toml"), "version = 2\n").unwrap();
    let spec = t.path().join("spec.yaml");
    fs::write(&spec, SPEC).unwrap();
    Image {
        root,
        outside,
        spec,
        _t: t,
    }
}

fn apply(img: &Image, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--containerd", "1.7"];
    args.extend(extra);
    regtrust(
        &args,
        &[
            Path::new("--spec"),
            &img.spec,
            Path::new("--root"),
            &img.root,
        ],
    )
}

#[test]
fn links_out_of_the_root_are_followed_inside_it() {
    for (name, target) in [
        ("absolute", None),
        (
            "dotdot-chain",
            Some("../../../../../../../../../host/containerd"),
        ),
    ] {
        let img = image();
        let target = target.map_or_else(|| img.outside.join("containerd"), PathBuf::from);
        symlink(&target, img.root.join("etc/containerd")).unwrap();
        let before = listing(&img.outside);
        let host_config = fs::read(img.outside.join("containerd/config.toml")).unwrap();
        let o = apply(&img, &[]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            listing(&img.outside),
            before,
            "{name}: the host's tree changed"
        );
        assert_eq!(
            fs::read(img.outside.join("containerd/config.toml")).unwrap(),
            host_config,
            "{name}: the host's config.toml changed"
        );
        // The link's target, taken inside the root.
        let inside = match name {
            "absolute" => img
                .root
                .join(img.outside.strip_prefix("/").unwrap())
                .join("containerd"),
            _ => img.root.join("host/containerd"),
        };
        let hosts = inside.join("certs.d/reg.test:5000/hosts.toml");
        let doc: toml_edit::DocumentMut = fs::read_to_string(&hosts).unwrap().parse().unwrap();
        assert_eq!(
            doc.get("server").and_then(|s| s.as_str()),
            Some("http://reg.test:5000"),
            "{name}: {}",
            hosts.display()
        );
        assert_eq!(
            config_path_of(&fs::read_to_string(inside.join("config.toml")).unwrap()).as_deref(),
            Some("/etc/containerd/certs.d"),
            "{name}"
        );
    }
}

#[test]
fn a_symlinked_host_directory_is_never_pruned() {
    let img = image();
    fs::create_dir_all(img.root.join("etc/containerd/certs.d")).unwrap();
    // A host directory that points out of the root, holding a file with regtrust's mark, for a
    // host that is not in the spec: apply removes stale managed hosts, but never through a link.
    let victim = img.outside.join("victim");
    fs::create_dir_all(&victim).unwrap();
    fs::write(
        victim.join("hosts.toml"),
        "# Managed by regtrust. old\nserver = \"http://old:5000\"\n",
    )
    .unwrap();
    fs::write(victim.join("ca.crt"), "x").unwrap();
    symlink(&victim, img.root.join("etc/containerd/certs.d/old:5000")).unwrap();
    let o = apply(&img, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        victim.join("hosts.toml").exists(),
        "a file out of the root was removed"
    );
    assert!(
        victim.join("ca.crt").exists(),
        "a file out of the root was removed"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("old:5000"));
}

#[test]
fn a_link_loop_is_an_error_and_nothing_is_written() {
    let img = image();
    symlink("/etc/b", img.root.join("etc/containerd")).unwrap();
    symlink("/etc/containerd", img.root.join("etc/b")).unwrap();
    let before = listing(&img.root);
    let o = apply(&img, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("too many levels of symbolic links"), "{err}");
    assert_eq!(listing(&img.root), before);
}

#[test]
fn nothing_under_the_root_is_executed() {
    let img = image();
    fs::create_dir_all(img.root.join("etc/containerd")).unwrap();
    fs::write(img.root.join("etc/containerd/config.toml"), "version = 2\n").unwrap();
    let mark = img.outside.join("ran");
    for bin in ["usr/bin/containerd", "usr/local/bin/containerd"] {
        let p = img.root.join(bin);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(
            &p,
            format!(
                "#!/bin/sh\ntouch {}\necho containerd github.com/containerd/containerd 1.7.24\n",
                mark.display()
            ),
        )
        .unwrap();
        Command::new("chmod").arg("755").arg(&p).status().unwrap();
    }
    // No --containerd: the version must be found without running the image's binary.
    for args in [vec!["apply", "--dry-run"], vec!["doctor"]] {
        let mut full: Vec<&Path> = Vec::new();
        if args[0] == "apply" {
            full.extend([Path::new("--spec"), img.spec.as_path()]);
        }
        full.extend([Path::new("--root"), img.root.as_path()]);
        let o = regtrust(&args, &full);
        assert!(
            !mark.exists(),
            "`regtrust {}` ran the image's containerd: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn the_installer_stays_inside_its_root() {
    let img = image();
    symlink(
        img.outside.join("containerd"),
        img.root.join("etc/containerd"),
    )
    .unwrap();
    let script = img.root.parent().unwrap().join("install.sh");
    let o = regtrust(
        &["render", "--target", "script", "--containerd", "1.7"],
        &[Path::new("--spec"), &img.spec, Path::new("--out"), &script],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = listing(&img.outside);
    let o = Command::new("sh")
        .arg(&script)
        .arg("--root")
        .arg(&img.root)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        listing(&img.outside),
        before,
        "the installer wrote out of its root"
    );
    let inside = img
        .root
        .join(img.outside.strip_prefix("/").unwrap())
        .join("containerd");
    assert!(inside.join("certs.d/reg.test:5000/hosts.toml").exists());
    assert_eq!(
        config_path_of(&fs::read_to_string(inside.join("config.toml")).unwrap()).as_deref(),
        Some("/etc/containerd/certs.d")
    );
}
