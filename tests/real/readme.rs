//! Every command in README.md's `sh` blocks, read from the README and run as written, in order, in
//! private mount and network namespaces (only a loopback exists) where this machine's /etc is an overlay (so /etc/containerd,
//! /etc/hosts and /etc/rancher are scratch copies), /mnt is a tmpfs holding an image root, /run
//! is a tmpfs, `regtrust` on PATH is the binary under test, `sudo` runs its arguments, and
//! `systemctl` only records what it was asked. The few lines that cannot run here are listed
//! below with the reason; any other line that fails, fails the test.
use std::fs;
use std::path::Path;

use crate::support::*;
use crate::system::*;

/// Lines of the README that are not run here, by their start, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("bash .ci/run", "this is CI itself (it runs this test)"),
    (
        "cargo install",
        "installs into ~/.cargo/bin of this machine",
    ),
    (
        "RUSTFLAGS=",
        "a second release build; benches/first-apply.sh builds and measures it",
    ),
];

/// The README's `sh` lines, comments and blank lines left out.
fn readme_lines() -> Vec<String> {
    let readme = fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        let l = line.trim();
        if in_sh && !l.is_empty() && !l.starts_with('#') {
            out.push(l.to_string());
        }
    }
    out
}

#[test]
fn every_readme_command_runs_as_written() {
    require_root("the README's commands run in private mount and network namespaces");
    for tool in ["unshare", "packer", "ip"] {
        require_tool(tool, "run .ci/install-deps");
    }
    let lines = readme_lines();
    assert!(lines.len() >= 15, "README sh lines: {lines:?}");
    let work = work_dir("readme");
    let (bin, cwd, upper, wk) = (
        work.join("bin"),
        work.join("cwd"),
        work.join("etc-upper"),
        work.join("etc-work"),
    );
    for d in [&bin, &cwd, &upper, &wk] {
        fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(regtrust_bin(), bin.join("regtrust")).unwrap();
    fs::write(bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n").unwrap();
    fs::write(
        bin.join("systemctl"),
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\n[ \"$1\" = is-active ] && exit 3\nexit 0\n",
            work.join("systemctl.log").display()
        ),
    )
    .unwrap();
    for f in ["sudo", "systemctl"] {
        run(std::process::Command::new("chmod")
            .arg("+x")
            .arg(bin.join(f)));
    }
    // The working directory: the example spec as registries.yaml, and what the lines name.
    fs::copy(
        manifest_dir().join("examples/registries.yaml"),
        cwd.join("registries.yaml"),
    )
    .unwrap();
    copy_tree(&manifest_dir().join("examples"), &cwd.join("examples"));
    copy_tree(&manifest_dir().join("packer"), &cwd.join("packer"));

    // One script: the namespace's setup, then each line, reporting its exit code.
    let mut script = String::from(
        "set -u\n\
         mount -t overlay overlay -o lowerdir=/etc,upperdir=\"$W/etc-upper\",workdir=\"$W/etc-work\" /etc\n\
         mount -t tmpfs readme /run && mkdir -p /run/lock\n\
         mount -t tmpfs readme /mnt && mkdir -p /mnt/image/etc/containerd\n\
         rm -rf /etc/containerd && mkdir -p /etc/containerd /etc/rancher/k3s\n\
         ip link set lo up\n\
         printf '127.0.0.1 localhost\\n127.0.0.252 my.private.registry cache.corp.example harbor.corp.example registry-1.docker.io\\n' > /etc/hosts\n\
         printf 'mirrors:\\n  my.private.registry:5000:\\n    endpoint:\\n      - http://my.private.registry:5000\\n' > /etc/rancher/k3s/registries.yaml\n\
         export PATH=\"$W/bin:$PATH\" CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1\n\
         cd \"$W/cwd\"\n",
    );
    let mut ran = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some((_, why)) = NOT_RUN.iter().find(|(p, _)| line.starts_with(p)) {
            eprintln!("README line not run here ({why}): {line}");
            continue;
        }
        // `cargo run --release --` is the binary under test, built by this test run.
        let cmd = line.replace("cargo run --release --", "regtrust");
        // On its own line: a trailing `# comment` ends there.
        script.push_str(&format!(
            "(\n{cmd}\n) > \"$W/out-{i}\" 2>&1; echo \"{i} $?\"\n"
        ));
        ran.push((i, line.clone()));
    }
    // A private network namespace too: only its own loopback exists, so nothing a line does
    // (doctor --probe, packer) can reach another machine; every name it asks for is in /etc/hosts.
    let o = run(std::process::Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .env("W", &work));
    let codes = String::from_utf8_lossy(&o.stdout).to_string();
    let mut failures = Vec::new();
    for (i, line) in &ran {
        let code: i32 = codes
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{i} ")))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(-1);
        // doctor reports problems here (the registry it probes is not running): exit 1.
        let want = if line.starts_with("regtrust doctor") {
            1
        } else {
            0
        };
        if code != want {
            failures.push(format!(
                "`{line}` exited {code} (expected {want}):\n{}",
                fs::read_to_string(work.join(format!("out-{i}"))).unwrap_or_default()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(namespace: {})",
        failures.join("\n\n"),
        String::from_utf8_lossy(&o.stderr)
    );
    // What the lines left behind is what they say they do.
    let upper_cfg = upper.join("containerd/config.toml");
    assert!(
        fs::read_to_string(&upper_cfg)
            .unwrap()
            .contains("config_path = \"/etc/containerd/certs.d\""),
        "sudo regtrust apply did not set config_path"
    );
    assert!(
        cwd.join("certs.d/my.private.registry:5000/hosts.toml")
            .exists()
    );
    for f in ["user-data", "regtrust.ign", "install.sh"] {
        assert!(
            fs::metadata(cwd.join(f)).is_ok_and(|m| m.len() > 0),
            "{f} not written"
        );
    }
    // This machine's containerd was never asked to restart: the recording systemctl says only
    // `is-active` was asked (containerd counts as stopped in the namespace).
    let asked = fs::read_to_string(work.join("systemctl.log")).unwrap_or_default();
    assert!(asked.lines().all(|l| l.starts_with("is-active")), "{asked}");
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
