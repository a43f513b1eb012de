//! Helpers both suites share (`tests/fast` and `tests/real` include this file with `#[path]`):
//! paths, running regtrust, tree snapshots, and the checks that the fast suite runs on what any
//! machine has (sh, awk, coreutils) and the real suite runs again on more inputs or tools.
#![allow(dead_code)]

pub mod boot_patch;
pub mod cloud_init;
pub mod doctor_corpus;
pub mod faults;
pub mod ignition;
pub mod sh_patch;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn regtrust_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_regtrust"))
}

/// Runs the regtrust binary.
pub fn regtrust(args: &[&str]) -> Output {
    run(Command::new(regtrust_bin()).args(args))
}

/// The text after `step: PREFIX` on the first such line of an e2e script's log (tests/e2e/*.sh
/// print one line per step), trimmed; panics with `ctx` when there is none.
pub fn step(log: &str, prefix: &str, ctx: &str) -> String {
    log.lines()
        .find_map(|l| l.strip_prefix(&format!("step: {prefix}")))
        .unwrap_or_else(|| panic!("no `step: {prefix}` line:\n{ctx}"))
        .trim()
        .to_string()
}

/// Runs the regtrust binary in `dir` (relative paths in `args` are under it).
pub fn regtrust_in(dir: &Path, args: &[&str]) -> Output {
    run(Command::new(regtrust_bin()).args(args).current_dir(dir))
}

/// Runs an installer (`--target script`) as `sh SCRIPT --root ROOT`.
pub fn run_installer(script: &Path, root: &Path) -> Output {
    run(Command::new("sh").arg(script).arg("--root").arg(root))
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// [`run`] with `input` on the command's standard input.
pub fn run_with_input(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Every file under `root` (relative path → content), for before/after comparisons.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let text = fs::read(&p)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                out.insert(p.strip_prefix(base).unwrap().display().to_string(), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The last 40 lines of a log file.
pub fn tail(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The spec the boot-output tests of Docker and Podman share, after their `runtimes:` list: an
/// HTTP registry, a docker.io mirror, an HTTPS registry with a CA and a client certificate.
#[allow(unused_macros)]
macro_rules! boot_spec {
    ($runtimes:literal) => {
        concat!(
            "runtimes: ",
            $runtimes,
            "
containerd:
  version: \"1.7\"
registries:
  - host: my.private.registry:5000
    http: true
  - host: docker.io
    endpoints:
      - url: http://cache.registry.test:5000
  - host: secure.registry.test:5443
    ca_pem: |
      -----BEGIN CERTIFICATE-----
      MAA=
      -----END CERTIFICATE-----
    client:
      cert_pem: |
        -----BEGIN CERTIFICATE-----
        MAA=
        -----END CERTIFICATE-----
      key_pem: |
        -----BEGIN PRIVATE KEY-----
        MAA=
        -----END PRIVATE KEY-----
"
        )
    };
}
#[allow(unused_imports)]
pub(crate) use boot_spec;

/// A file's permission bits (with setuid/setgid/sticky), e.g. 0o600.
pub fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Renders the POSIX sh installer (`--target script`) for this spec and containerd version.
pub fn render_script(spec: &Path, version: &str) -> String {
    let o = run(Command::new(regtrust_bin())
        .args(["render", "--spec"])
        .arg(spec)
        .args(["--target", "script", "--containerd", version]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Runs a shell script with `shell` (the fast suite: `sh`; the real suite: `dash`), with
/// REGTRUST_ROOT set when `env_root` is given.
pub fn run_sh(shell: &str, script: &Path, args: &[&str], env_root: Option<&Path>) -> Output {
    let mut c = Command::new(shell);
    c.arg(script).args(args);
    if let Some(r) = env_root {
        c.env("REGTRUST_ROOT", r);
    }
    c.output()
        .unwrap_or_else(|e| panic!("`{shell}` cannot run ({e}): run .ci/install-deps"))
}

/// The spec the end-to-end tests apply: the plain-HTTP registry, and a mirror-only registry.
pub const E2E_SPEC: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: upstream.corp.example:5000
    fallback: false
    endpoints:
      - url: http://cache.corp.example:5000
";

/// A spec full of values that trip serialisers: `yes`, `0644`, `: `, `#`, quotes, `${`, `%{`,
/// unicode, trailing spaces, a private key (mode 0600).
pub const AWKWARD_SPEC: &str = r#"containerd:
  version: "1.7"
registries:
  - host: "yes"
    http: true
    headers:
      X-Yes: "yes"
      X-Octal: "0644"
      X-Colon: "a: b # not a comment"
      X-Quotes: "it's \"quoted\" ${not_a_var} %{nor_this}"
      X-Unicode: "ünïcødé ✓"
  - host: "0644"
    ca_pem: "-----BEGIN CERTIFICATE-----   \nMAA=\n-----END CERTIFICATE-----\n"
    client:
      cert_pem: |
        -----BEGIN CERTIFICATE-----
        MAA=
        -----END CERTIFICATE-----
      key_pem: |
        -----BEGIN PRIVATE KEY-----
        MAA=
        -----END PRIVATE KEY-----
  - host: on.example:5000
    endpoints:
      - url: http://cache.corp.example:5000
"#;

/// The `config_path` a config.toml sets in its CRI registry table (version 2:
/// `plugins."io.containerd.grpc.v1.cri".registry`, version 3:
/// `plugins."io.containerd.cri.v1.images".registry`), read as TOML: not a substring that a
/// comment or another key could hold too.
pub fn config_path_of(config: &str) -> Option<String> {
    let doc: toml_edit::DocumentMut = config
        .parse()
        .unwrap_or_else(|e| panic!("config.toml does not parse: {e}\n{config}"));
    let plugin = match doc.get("version").and_then(|v| v.as_integer()) {
        Some(3) => "io.containerd.cri.v1.images",
        _ => "io.containerd.grpc.v1.cri",
    };
    doc.get("plugins")?
        .get(plugin)?
        .get("registry")?
        .get("config_path")?
        .as_str()
        .map(String::from)
}
