//! Packer, with Debian's Packer 1.6.6: the shipped template validates and a real `packer build`
//! (null builder, shell-local) installs into a scratch image root exactly what `regtrust apply`
//! writes; a second build changes nothing; a bad spec fails the build before installing.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;
use crate::system::*;

fn packer(dir: &Path, args: &[&str]) -> Output {
    Command::new("packer")
        .current_dir(dir)
        .args(args)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_NO_COLOR", "1")
        .output()
        .expect("packer is missing: run .ci/install-deps (Debian package packer)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn templates_are_formatted_hcl2() {
    let dir = tempfile::tempdir().unwrap();
    let template = manifest_dir().join("packer/regtrust.pkr.hcl");
    let o = packer(dir.path(), &["fmt", "-check", template.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // The modern example (required_plugins) cannot be validated by Packer 1.6.6, but it parses.
    let example = dir.path().join("node-image.pkr.hcl");
    fs::copy(
        manifest_dir().join("packer/node-image.pkr.hcl.example"),
        &example,
    )
    .unwrap();
    let o = packer(dir.path(), &["fmt", "-check", example.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn packer_build_installs_into_an_image_root() {
    build_into_an_image_root(Some("2.1"), "2.1");
    // No containerd_version: the spec's (1.7 in the example) is used.
    build_into_an_image_root(None, "1.7");
}

fn build_into_an_image_root(containerd_version: Option<&str>, image_version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let template = manifest_dir().join("packer/regtrust.pkr.hcl");
    let spec = manifest_dir().join("examples/registries.yaml");
    let root = dir.path().join("image");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let seed = debian_config(image_version);
    fs::write(root.join("etc/containerd/config.toml"), &seed).unwrap();
    let vars = |spec: &Path| {
        let mut v = vec!["-var".to_string(), format!("spec={}", spec.display())];
        if let Some(cv) = containerd_version {
            v.extend(["-var".to_string(), format!("containerd_version={cv}")]);
        }
        v.extend([
            "-var".to_string(),
            format!("image_root={}", root.display()),
            "-var".to_string(),
            format!("regtrust={}", env!("CARGO_BIN_EXE_regtrust")),
            "-var".to_string(),
            format!("work_dir={}", dir.path().display()),
        ]);
        v
    };
    let with = |cmd: &str, spec: &Path| {
        let mut a = vec![cmd.to_string()];
        a.extend(vars(spec));
        a.push(template.display().to_string());
        a
    };
    let args = with("validate", &spec);
    let o = packer(
        dir.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "validate: {}", text(&o));

    let args = with("build", &spec);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = packer(dir.path(), &args);
    assert!(o.status.success(), "build: {}", text(&o));
    assert!(
        text(&o).contains("created /etc/containerd/certs.d/my.private.registry:5000/hosts.toml"),
        "{}",
        text(&o)
    );

    // What `regtrust apply` writes into the same seed.
    let twin = dir.path().join("twin");
    fs::create_dir_all(twin.join("etc/containerd")).unwrap();
    fs::write(twin.join("etc/containerd/config.toml"), &seed).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["apply", "--spec"])
        .arg(&spec)
        .arg("--root")
        .arg(&twin)
        .args(["--containerd", image_version])
        .output()
        .unwrap();
    assert!(o.status.success());
    let built = snapshot(&root);
    assert_eq!(
        built,
        snapshot(&twin),
        "packer build and regtrust apply differ"
    );

    // Again: nothing changes.
    let o = packer(dir.path(), &args);
    assert!(
        o.status.success() && text(&o).contains("already up to date"),
        "{}",
        text(&o)
    );
    assert_eq!(snapshot(&root), built);

    // A bad spec fails the build at render time; the image is untouched.
    let bad = dir.path().join("bad.yaml");
    fs::write(&bad, "registries:\n  - host: http://x.example\n").unwrap();
    let args = with("build", &bad);
    let o = packer(
        dir.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("error[bad-host]"), "{}", text(&o));
    assert_eq!(snapshot(&root), built);
}

/// Credentials (#15): the installer Packer runs reads the password from the build's environment
/// (shell-local inherits it), never from the rendered script. Without it the build fails and
/// the image is untouched; with it the image gets what `regtrust apply` writes (hosts.toml
/// 0600), and the build's output holds neither the password nor its base64.
#[test]
fn packer_build_with_credentials_reads_the_password_from_the_build_environment() {
    use base64::Engine as _;
    use std::os::unix::fs::PermissionsExt;
    const PW: &str = "packer-Pw-6Tn3Qa";
    let secrets = [
        PW.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("builder:{PW}")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let template = manifest_dir().join("packer/regtrust.pkr.hcl");
    let spec = dir.path().join("spec.yaml");
    fs::write(
        &spec,
        "containerd:\n  version: \"1.7\"\nregistries:\n  - host: reg.corp.example:5000\n    \
         auth:\n      username: builder\n      password_env: REGISTRY_PW\n      method: header\n",
    )
    .unwrap();
    let root = dir.path().join("image");
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    let seed = debian_config("1.7");
    fs::write(root.join("etc/containerd/config.toml"), &seed).unwrap();
    let build = |pw: Option<&str>| {
        let mut c = Command::new("packer");
        c.current_dir(dir.path())
            .arg("build")
            .args(["-var", &format!("spec={}", spec.display())])
            .args(["-var", &format!("image_root={}", root.display())])
            .args([
                "-var",
                &format!("regtrust={}", env!("CARGO_BIN_EXE_regtrust")),
            ])
            .args(["-var", &format!("work_dir={}", dir.path().display())])
            .arg(&template)
            .env("CHECKPOINT_DISABLE", "1")
            .env("PACKER_NO_COLOR", "1")
            .env_remove("REGISTRY_PW");
        if let Some(pw) = pw {
            c.env("REGISTRY_PW", pw);
        }
        let o = c.output().expect("packer is missing: run .ci/install-deps");
        for s in &secrets {
            assert!(
                !text(&o).contains(s.as_str()),
                "packer printed a secret:\n{}",
                text(&o)
            );
        }
        o
    };
    let before = snapshot(&root);
    let o = build(None);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("REGISTRY_PW") && text(&o).contains("nothing was written"),
        "{}",
        text(&o)
    );
    assert_eq!(
        snapshot(&root),
        before,
        "the image changed without the password"
    );
    let installer = dir.path().join("regtrust-install.sh");
    let script = fs::read_to_string(&installer).unwrap();
    assert!(secrets.iter().all(|s| !script.contains(s.as_str())));

    let o = build(Some(PW));
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("an image built with this script contains them"),
        "{}",
        text(&o)
    );
    let hosts = root.join("etc/containerd/certs.d/reg.corp.example:5000/hosts.toml");
    assert_eq!(
        fs::metadata(&hosts).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    let twin = dir.path().join("twin");
    fs::create_dir_all(twin.join("etc/containerd")).unwrap();
    fs::write(twin.join("etc/containerd/config.toml"), &seed).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["apply", "--spec"])
        .arg(&spec)
        .arg("--root")
        .arg(&twin)
        .env("REGISTRY_PW", PW)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        snapshot(&root),
        snapshot(&twin),
        "packer build and regtrust apply differ"
    );
}
