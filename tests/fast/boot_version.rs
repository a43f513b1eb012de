//! The boot scripts without `--containerd` (contracts.md: "decided on the node when the script
//! runs"): cloud-init's script and the installer read the containerd release of the root from its
//! dpkg status or apk database, else a version 3/4 config.toml (2.x), say what they decided, and
//! write byte for byte what the script pinned to that release writes; with nothing to tell by
//! they fail and change nothing. (The live system's `containerd --version`: tests/real.)
use std::fs;
use std::path::Path;
use std::process::Command;

use regtrust::containerd::Version;
use regtrust::emit::patch_script;

use crate::support::*;

const WANT: &str = "/etc/containerd/certs.d";

fn dpkg(version: &str) -> String {
    format!(
        "Package: adduser\nStatus: install ok installed\nVersion: 3.134\n\n\
         Package: containerd\nStatus: install ok installed\nPriority: optional\nVersion: {version}\n\
         Description: daemon\n to manage containers\n\nPackage: zlib1g\nStatus: install ok installed\n\
         Version: 1:1.2.13\n"
    )
}

/// Runs `script` on a root holding `files`; (exit code, output, config.toml after).
fn run_on(dir: &Path, name: &str, script: &str, files: &[(&str, String)]) -> (i32, String, String) {
    let root = dir.join(name);
    let _ = fs::remove_dir_all(&root);
    for (p, content) in files {
        let f = root.join(p);
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(f, content).unwrap();
    }
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let sh = dir.join(format!("{name}.sh"));
    fs::write(&sh, script).unwrap();
    let o = run(Command::new("sh").arg(&sh).env("REGTRUST_ROOT", &root));
    let cfg = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap_or_default();
    (o.status.code().unwrap_or(-1), text(&o), cfg)
}

#[test]
fn the_script_reads_the_roots_containerd_and_writes_what_the_pinned_one_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let unpinned = patch_script::render(None, WANT, false);
    assert!(unpinned.contains("detect_containerd"), "{unpinned}");
    // (release, what, files of the root)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("1.6", "dpkg 1.6", vec![("var/lib/dpkg/status", dpkg("1.6.20~ds1-1+deb12u3"))]),
        ("1.7", "dpkg 1.7", vec![("var/lib/dpkg/status", dpkg("1.7.24~ds1-6+b2"))]),
        ("2.1", "dpkg 2.1", vec![("var/lib/dpkg/status", dpkg("2.1.9~ds1-1"))]),
        ("2.0", "dpkg epoch", vec![("var/lib/dpkg/status", dpkg("1:2.0.5-1"))]),
        (
            "2.2",
            "apk",
            vec![(
                "lib/apk/db/installed",
                "C:Q1abc=\nP:busybox\nV:1.36.1-r5\n\nC:Q1def=\nP:containerd\nV:2.2.1-r0\nA:x86_64\n".to_string(),
            )],
        ),
    ];
    for (version, what, files) in cases {
        for seed in [
            None,
            Some(
                "version = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"/usr/lib/cni\"\n",
            ),
        ] {
            let mut files = files.clone();
            if let Some(s) = seed {
                files.push(("etc/containerd/config.toml", s.to_string()));
            }
            let pinned = patch_script::render(Version::parse(version).unwrap(), WANT, false);
            let (code_p, out_p, cfg_p) = run_on(d, "pinned", &pinned, &files);
            let (code_u, out_u, cfg_u) = run_on(d, "unpinned", &unpinned, &files);
            assert_eq!((code_u, code_p), (0, 0), "{what}: {out_u}\n{out_p}");
            assert_eq!(
                cfg_u, cfg_p,
                "{what}: the detected run differs from the pinned one"
            );
            assert!(
                out_u.contains(&format!("configuring containerd {version} (read from ")),
                "{what}: {out_u}"
            );
        }
    }
    // A version 3 config.toml alone says 2.x.
    let v3 =
        "version = 3\n\n[plugins.\"io.containerd.cri.v1.images\".registry]\n  config_path = \"\"\n";
    let (code, out, cfg) = run_on(
        d,
        "v3",
        &unpinned,
        &[("etc/containerd/config.toml", v3.into())],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("config.toml's version (containerd 2.x"),
        "{out}"
    );
    assert!(
        cfg.contains("config_path = \"/etc/containerd/certs.d\""),
        "{cfg}"
    );
    // Nothing to tell by (no package, no binary under a root, a version 2 file): exit 1, unchanged.
    let v2 = "version = 2\n";
    let (code, out, cfg) = run_on(
        d,
        "none",
        &unpinned,
        &[("etc/containerd/config.toml", v2.into())],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("cannot tell which containerd") && out.contains("--containerd"),
        "{out}"
    );
    assert_eq!(cfg, v2);
    // Too old: refused; newer than 2.3: configured as 2.3, said.
    let (code, out, _) = run_on(
        d,
        "old",
        &unpinned,
        &[("var/lib/dpkg/status", dpkg("1.5.9~ds1-1"))],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("older than 1.6"), "{out}");
    let (code, out, _) = run_on(
        d,
        "new",
        &unpinned,
        &[("var/lib/dpkg/status", dpkg("2.4.0-1"))],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("newer than 2.3") && out.contains("configured as 2.3"),
        "{out}"
    );
}

/// `render --target cloud-init|script` without a version: the outputs say they read it on the
/// node; the other targets still need it.
#[test]
fn cloud_init_and_the_installer_render_without_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let s = spec.to_str().unwrap();
    let o = regtrust(&["render", "--spec", s, "--target", "script"]);
    assert!(o.status.success(), "{}", text(&o));
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(
        script.contains("the containerd the node (or --root) has, read when it runs"),
        "{script}"
    );
    let o = regtrust(&["render", "--spec", s, "--target", "cloud-init"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("for the containerd the node has (read when runcmd runs)")
    );
    for target in ["ignition", "containerd-config"] {
        let o = regtrust(&["render", "--spec", s, "--target", target]);
        assert_eq!(o.status.code(), Some(2), "{target}: {}", text(&o));
        assert!(
            text(&o).contains("pass --containerd"),
            "{target}: {}",
            text(&o)
        );
    }
}
