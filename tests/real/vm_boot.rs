//! Real first boots under QEMU (TCG, direct kernel boot, no network device), two per run (the CI
//! budget): a Debian 12 guest with containerd 1.6 and a plain-HTTP registry inside,
//! - booted with regtrust's cloud-init user-data (NoCloud seed), and
//! - prepared by the real Ignition (its `fetch-offline` and `files` stages, `-platform file`, on a
//!   copy of the guest root with cloud-init disabled and containerd laid out as Flatcar's), with
//!   regtrust's Ignition config merged into one of the test's own,
//!
//! pulls through CRI; in both boots the same registry under a name the spec does not name fails
//! to pull (the negative control). The guest's probe unit reports on the serial console, which
//! the test reads. (`regtrust apply --root` into an image is proven with real containerd by the
//! e2e and Packer tests, not booted.)
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::*;
use crate::system::*;

const PROBE: &str = "REGTRUST-PROBE: ";
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

fn vm_dir() -> PathBuf {
    manifest_dir().join("target/vm")
}

/// The guest image, built once per run (and reused while its build inputs are unchanged).
fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        require_e2e_prerequisites();
        for tool in [
            "debootstrap",
            "qemu-system-x86_64",
            "qemu-img",
            "cloud-localds",
            "mkfs.ext4",
        ] {
            let ok = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status();
            assert!(
                ok.is_ok_and(|s| s.success()),
                "`{tool}` is missing: run .ci/install-deps"
            );
        }
        let inputs: String = [
            "tests/vm/build-image.sh",
            "tests/vm/probe.sh",
            "tests/e2e/cri_pull.py",
            "tests/e2e/make_oci_image.py",
        ]
        .iter()
        .map(|p| fs::read_to_string(manifest_dir().join(p)).unwrap())
        .collect();
        let stamp = format!("{:x}", md5ish(&inputs));
        let dir = vm_dir().join("image");
        if fs::read_to_string(dir.join("stamp")).ok().as_deref() != Some(stamp.as_str()) {
            let o = run(Command::new("bash")
                .arg(manifest_dir().join("tests/vm/build-image.sh"))
                .arg(&dir));
            assert!(
                o.status.success(),
                "step: building the guest image failed:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            make_disk(&dir.join("root"), &dir.join("base.raw"));
            fs::write(dir.join("stamp"), &stamp).unwrap();
        }
        dir
    })
}

/// A cheap, stable fingerprint of the build inputs (FNV-1a).
fn md5ish(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

fn make_disk(root: &Path, disk: &Path) {
    let _ = fs::remove_file(disk);
    let o = run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "root", "-d"])
        .arg(root)
        .arg(disk)
        .arg("3G"));
    assert!(
        o.status.success(),
        "step: mkfs.ext4 -d failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Boots `disk` (through a qcow2 overlay) with an optional NoCloud seed; returns the console.
fn boot(name: &str, disk: &Path, user_data: Option<&str>) -> String {
    let img = image();
    let dir = vm_dir().join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let overlay = dir.join("overlay.qcow2");
    let o = run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(disk)
        .arg(&overlay));
    assert!(
        o.status.success(),
        "step: qemu-img create: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args([
        "-machine", "q35", "-accel", "tcg", "-m", "1536", "-smp", "2",
    ])
    .args([
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-nic",
        "none",
    ])
    .arg("-kernel")
    .arg(img.join("vmlinuz"))
    .arg("-initrd")
    .arg(img.join("initrd.img"))
    .args(["-append", "root=/dev/vda rw console=ttyS0 panic=-1 quiet"])
    .arg("-drive")
    .arg(format!("file={},if=virtio,format=qcow2", overlay.display()))
    .arg("-serial")
    .arg(format!("file:{}", dir.join("console.log").display()));
    if let Some(ud) = user_data {
        fs::write(dir.join("user-data"), ud).unwrap();
        fs::write(
            dir.join("meta-data"),
            format!("instance-id: iid-{name}\nlocal-hostname: node\n"),
        )
        .unwrap();
        let o = run(Command::new("cloud-localds")
            .arg(dir.join("seed.img"))
            .arg(dir.join("user-data"))
            .arg(dir.join("meta-data")));
        assert!(
            o.status.success(),
            "step: cloud-localds: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        qemu.arg("-drive").arg(format!(
            "file={},if=virtio,format=raw,readonly=on",
            dir.join("seed.img").display()
        ));
    }
    let mut child = qemu
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let console = fs::read_to_string(dir.join("console.log")).unwrap_or_default();
    assert!(
        status.is_some(),
        "step: boot {name}: no poweroff within {BOOT_TIMEOUT:?}; console kept in {}:\n{}",
        dir.display(),
        tail_text(&console)
    );
    eprintln!("boot {name}: {:.0?}", start.elapsed());
    assert!(
        console.contains(&format!("{PROBE}DONE")),
        "step: boot {name}: the probe did not report; console kept in {}:\n{}",
        dir.display(),
        tail_text(&console)
    );
    console
}

fn tail_text(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn probe_lines(console: &str) -> String {
    console
        .lines()
        .filter(|l| l.contains(PROBE))
        .collect::<Vec<_>>()
        .join("\n")
}

fn render_user_data() -> String {
    let spec = vm_dir().join("spec.yaml");
    fs::create_dir_all(vm_dir()).unwrap();
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["render", "--spec"])
        .arg(&spec)
        .args(["--target", "cloud-init", "--containerd", "1.6"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "step: render user-data: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// What the probe reported: the named registry pulled, and the same registry under a name the
/// spec does not name failed with the HTTPS-to-HTTP error (the negative control of the same boot:
/// without regtrust's configuration a pull fails).
fn assert_pulled_and_control_failed(step: &str, probe: &str) {
    assert!(
        probe.contains(&format!("{PROBE}my.private.registry:5000 PULLED sha256:")),
        "step: {step}: CRI pull in the guest:\n{probe}"
    );
    let control = probe
        .lines()
        .find(|l| l.contains(&format!("{PROBE}other.private.registry:5000 ")))
        .unwrap_or_else(|| panic!("step: {step}: the negative control did not run:\n{probe}"));
    assert!(
        control.contains("PULL FAILED") && control.contains(HTTP_ERROR),
        "step: {step}: negative control:\n{probe}"
    );
}

#[test]
fn first_boot_with_regtrust_user_data_pulls() {
    let img = image();
    let console = boot(
        "with-user-data",
        &img.join("base.raw"),
        Some(&render_user_data()),
    );
    let probe = probe_lines(&console);
    assert_pulled_and_control_failed("first boot with user-data", &probe);
    assert!(
        probe.contains("config_path=\"/etc/containerd/certs.d\""),
        "{probe}"
    );
    // The restart decision, read from the guest's journal: containerd started at boot, then once
    // more when runcmd changed config.toml — and regtrust said so once. Run again in the same
    // boot, the script changes nothing and restarts nothing.
    assert!(
        probe.contains(&format!(
            "{PROBE}cloud-init run: containerd-starts=2 said-restart=1"
        )),
        "step: restart on first boot:\n{probe}"
    );
    assert!(
        probe.contains(&format!(
            "{PROBE}cloud-init rerun: rc=0 files unchanged, containerd not-restarted, containerd-starts=2"
        )),
        "step: second run:\n{probe}"
    );
}

/// A copy of the guest root made ready for Ignition, as the test (not regtrust's output) needs it:
/// cloud-init disabled (Ignition is the only configuration), `/etc/machine-id` = `uninitialized`
/// (systemd's first boot, which applies the presets Ignition's `enabled` writes), containerd laid
/// out as Flatcar's (its config moved to /usr/share/containerd/config.toml and a vendor drop-in
/// that runs `containerd --config ${CONTAINERD_CONFIG}` with that file, as Flatcar's unit does),
/// and what Ignition's SELinux relabel step needs on a root without SELinux: /etc/selinux/config
/// naming a policy with an empty file_contexts, and a `setfiles` stub on Ignition's PATH that
/// records the paths it is asked to relabel (the Debian guest has no SELinux to label for).
fn ignition_ready_root(dir: &Path) -> PathBuf {
    let img = image();
    let root = dir.join("root");
    let o = run(Command::new("cp")
        .arg("-a")
        .arg(img.join("root"))
        .arg(&root));
    assert!(o.status.success(), "step: copy the image root");
    fs::write(root.join("etc/cloud/cloud-init.disabled"), "").unwrap();
    fs::write(root.join("etc/machine-id"), "uninitialized\n").unwrap();
    fs::create_dir_all(root.join("usr/share/containerd")).unwrap();
    fs::rename(
        root.join("etc/containerd/config.toml"),
        root.join("usr/share/containerd/config.toml"),
    )
    .expect("step: the guest has Debian's /etc/containerd/config.toml");
    let vendor = root.join("usr/lib/systemd/system/containerd.service.d");
    fs::create_dir_all(&vendor).unwrap();
    fs::write(
        vendor.join("00-flatcar-layout.conf"),
        "# Test layout: containerd reads its config as on Flatcar.\n[Service]\n\
         Environment=CONTAINERD_CONFIG=/usr/share/containerd/config.toml\n\
         ExecStart=\nExecStart=/usr/bin/containerd --config ${CONTAINERD_CONFIG}\n",
    )
    .unwrap();
    // systemd-firstboot would prompt on the console of a first boot; nobody answers in CI.
    let firstboot = root.join("etc/systemd/system/systemd-firstboot.service");
    let _ = fs::remove_file(&firstboot);
    std::os::unix::fs::symlink("/dev/null", &firstboot).unwrap();
    fs::create_dir_all(root.join("etc/selinux/regtrust-test/contexts/files")).unwrap();
    fs::write(
        root.join("etc/selinux/config"),
        "SELINUX=disabled\nSELINUXTYPE=regtrust-test\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/selinux/regtrust-test/contexts/files/file_contexts"),
        "",
    )
    .unwrap();
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(
        bin.join("setfiles"),
        format!(
            "#!/bin/sh\n# Test stub: records what Ignition asks to relabel.\n\
             printf 'setfiles %s\\n' \"$*\" >> {log}\ntr '\\0' '\\n' >> {log}\n",
            log = dir.join("setfiles.log").display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        bin.join("setfiles"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    root
}

/// Runs Ignition's `fetch-offline` and `files` stages (`-platform file`) on `root`.
fn run_ignition(dir: &Path, root: &Path, config: &Path) -> String {
    assert!(
        Path::new(crate::ignition::IGNITION).is_file(),
        "{} is missing: install Debian's `ignition` package (.ci/install-deps)",
        crate::ignition::IGNITION
    );
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut log = String::new();
    for stage in ["fetch-offline", "files"] {
        let o = run(Command::new(crate::ignition::IGNITION)
            .args([
                "-platform",
                "file",
                "-stage",
                stage,
                "-log-to-stdout",
                "-root",
            ])
            .arg(root)
            .arg("-config-cache")
            .arg(dir.join("ignition.json"))
            .arg("-state-file")
            .arg(dir.join("ignition-state"))
            .arg("-neednet")
            .arg(dir.join("neednet"))
            .env("IGNITION_CONFIG_FILE", config)
            .env("PATH", &path));
        let out = text(&o);
        fs::write(dir.join(format!("ignition-{stage}.log")), &out).unwrap();
        assert!(
            o.status.success() && out.contains("Ignition finished successfully"),
            "step: ignition -stage {stage}:\n{out}"
        );
        log.push_str(&out);
    }
    assert!(
        !dir.join("neednet").exists(),
        "step: fetch-offline asked for the network"
    );
    log
}

/// Ignition prepares the guest (regtrust's config merged into a config of the test's own), the
/// guest boots, regtrust's unit runs before containerd — which reads config.toml where Flatcar's
/// layout says — and the CRI pull succeeds; the unregistered name fails (the control of the same
/// boot); the unit run again (as on every later boot) changes nothing and restarts nothing.
#[test]
fn ignition_first_boot_pulls() {
    require_tool(
        "ignition-validate",
        "install Debian's `ignition` package (.ci/install-deps)",
    );
    let dir = vm_dir().join("ignition-image");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let root = ignition_ready_root(&dir);
    let spec = dir.join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let regtrust_config = crate::ignition::render_ignition(&spec, &["--containerd", "1.6"]);
    // The test's own config: the probe enabled for multi-user.target (its unit is wanted by
    // cloud-init.target, which is off here) with a link, and regtrust's config merged in.
    let config = dir.join("config.ign");
    fs::write(
        &config,
        crate::ignition::merging_config(
            &regtrust_config,
            r#", "storage": {"links": [{"path": "/etc/systemd/system/multi-user.target.wants/regtrust-probe.service", "target": "/etc/systemd/system/regtrust-probe.service"}]}"#,
        ),
    )
    .unwrap();
    let o = run(Command::new("ignition-validate").arg(&config));
    assert!(o.status.success(), "step: ignition-validate: {}", text(&o));
    let started = Instant::now();
    run_ignition(&dir, &root, &config);
    eprintln!("ignition stages: {:.1?}", started.elapsed());
    // What the files stage wrote: the planned file, the script, the unit, its preset, the
    // drop-in, the test's link; the relabel step was asked for them.
    let hosts =
        fs::read_to_string(root.join("etc/containerd/certs.d/my.private.registry:5000/hosts.toml"))
            .expect("step: Ignition wrote hosts.toml");
    assert!(
        hosts.contains("server = \"http://my.private.registry:5000\""),
        "{hosts}"
    );
    let preset =
        fs::read_to_string(root.join("etc/systemd/system-preset/20-ignition.preset")).unwrap();
    assert!(
        preset.contains("enable regtrust-containerd-config.service"),
        "{preset}"
    );
    for p in [
        "etc/regtrust/containerd-config.sh",
        "etc/systemd/system/regtrust-containerd-config.service",
        "etc/systemd/system/containerd.service.d/90-regtrust-config-file.conf",
    ] {
        assert!(root.join(p).is_file(), "step: Ignition did not write {p}");
    }
    assert!(
        !root.join("etc/containerd/config.toml").exists(),
        "nothing edits config.toml before the boot"
    );
    // Ignition only writes the preset; the first boot's presets must enable the unit.
    assert!(
        !root
            .join("etc/systemd/system/multi-user.target.wants/regtrust-containerd-config.service")
            .exists(),
        "the unit is enabled at boot, not by the files stage"
    );
    let relabel = fs::read_to_string(dir.join("setfiles.log")).unwrap_or_default();
    assert!(
        relabel.contains("etc/systemd/system/regtrust-containerd-config.service"),
        "step: the relabel step:\n{relabel}"
    );
    make_disk(&root, &dir.join("ignition.raw"));
    let _ = fs::remove_dir_all(&root);
    let console = boot("ignition", &dir.join("ignition.raw"), None);
    let probe = probe_lines(&console);
    assert_pulled_and_control_failed("Ignition first boot", &probe);
    let line = |prefix: &str| -> String {
        probe
            .lines()
            .find_map(|l| {
                l.split_once(&format!("{PROBE}{prefix}"))
                    .map(|(_, r)| r.to_string())
            })
            .unwrap_or_else(|| panic!("step: the probe did not report `{prefix}`:\n{probe}"))
    };
    assert!(
        probe.contains("config_path=\"/etc/containerd/certs.d\""),
        "{probe}"
    );
    let unit = line("unit: ");
    assert!(
        unit.contains("enabled=enabled") && unit.contains("result=success"),
        "step: the unit was not enabled by the first boot's presets, or failed:\n{probe}"
    );
    let order = line("order: ");
    let stamp = |k: &str| -> u64 {
        order
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{order}"))
    };
    assert!(
        stamp("unit-exit=") > 0 && stamp("unit-exit=") <= stamp("containerd-start="),
        "step: the unit did not finish before containerd started: {order}"
    );
    assert!(
        line("containerd: ").contains("--config /etc/containerd/config.toml"),
        "step: containerd does not read the edited file (the drop-in):\n{probe}"
    );
    let first = line("first run: ");
    assert!(
        first.contains("copied /usr/share/containerd/config.toml")
            && first.contains("set config_path"),
        "step: the unit's first run:\n{probe}"
    );
    let second = line("second run: ");
    assert!(
        second.contains("files unchanged")
            && second.contains("containerd not-restarted")
            && second.contains("result=success"),
        "step: the second run of the unit:\n{probe}"
    );
    assert!(
        line("second run said: ").contains("already has config_path"),
        "{probe}"
    );
}
