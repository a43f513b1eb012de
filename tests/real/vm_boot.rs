//! A real first boot under QEMU (TCG, direct kernel boot, no network device): a Debian 12 guest
//! with containerd 1.6 and a plain-HTTP registry inside, booted with regtrust's cloud-init
//! user-data (NoCloud seed), pulls through CRI; an image baked with `regtrust apply --root` pulls
//! with no user-data at all. In both boots the same registry under a name the spec does not name
//! fails to pull (the negative control), so two QEMU boots prove both paths (the CI budget allows
//! two). The guest's probe unit reports on the serial console, which the test reads.
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
}

#[test]
fn baked_image_pulls_without_user_data() {
    let img = image();
    let baked = vm_dir().join("baked-image");
    let _ = fs::remove_dir_all(&baked);
    fs::create_dir_all(&baked).unwrap();
    let root = baked.join("root");
    let o = run(Command::new("cp")
        .arg("-a")
        .arg(img.join("root"))
        .arg(&root));
    assert!(o.status.success(), "step: copy the image root");
    let spec = baked.join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  - host: my.private.registry:5000\n    http: true\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["apply", "--spec"])
        .arg(&spec)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "step: regtrust apply --root: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The version came from the image's own containerd binary.
    assert!(out.contains("containerd 1.6.20"), "{out}");
    make_disk(&root, &baked.join("baked.raw"));
    let _ = fs::remove_dir_all(&root);
    let console = boot("baked", &baked.join("baked.raw"), None);
    let probe = probe_lines(&console);
    assert_pulled_and_control_failed("baked image", &probe);
}
