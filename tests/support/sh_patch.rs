//! The sh/awk config patch (used by cloud-init and the installer) against regtrust's own
//! toml_edit patch: same resulting configuration for every seed, idempotent, loud on conflicts.
//! The fast suite runs it with `sh` on hand-written seeds; the real suite with dash on the
//! configs real containerd ships.
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Output;

use regtrust::containerd::Version;
use regtrust::emit::{config_patch, patch_script};
use toml_edit::{DocumentMut, Item, Value};

pub const WANT: &str = "/etc/containerd/certs.d";

pub fn run_script(shell: &str, script: &str, root: &Path) -> Output {
    let path = root.with_extension("sh");
    fs::write(&path, script).unwrap();
    super::run_sh(shell, &path, &[], Some(root))
}

/// Every leaf of a TOML document as `dotted.path = value`, independent of layout and quoting.
pub fn leaves(doc: &DocumentMut) -> BTreeSet<String> {
    fn value(v: &Value) -> String {
        match v {
            Value::String(s) => format!("{:?}", s.value()),
            Value::Array(a) => format!("[{}]", a.iter().map(value).collect::<Vec<_>>().join(",")),
            Value::InlineTable(t) => {
                let mut kv: Vec<String> =
                    t.iter().map(|(k, v)| format!("{k}={}", value(v))).collect();
                kv.sort();
                format!("{{{}}}", kv.join(","))
            }
            other => other.clone().decorated("", "").to_string(),
        }
    }
    fn walk(prefix: &str, item: &Item, out: &mut BTreeSet<String>) {
        if let Some(t) = item.as_table_like() {
            for (k, v) in t.iter() {
                walk(&format!("{prefix}.{k}"), v, out);
            }
            if t.is_empty() {
                out.insert(format!("{prefix} = {{}}"));
            }
        } else if let Some(v) = item.as_value() {
            out.insert(format!("{prefix} = {}", value(v)));
        }
    }
    let mut out = BTreeSet::new();
    walk("", doc.as_item(), &mut out);
    out
}

/// Hand-written seeds: (name, containerd version, config.toml or None for no file).
pub fn hand_seeds() -> Vec<(String, &'static str, Option<String>)> {
    vec![
        ("missing-1.7".into(), "1.7", None),
        ("missing-2.1".into(), "2.1", None),
        ("missing-2.3".into(), "2.3", None),
        ("commented".into(), "1.7", Some("# hand-tuned\nversion = 2 # two\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    sandbox_image = \"pause:3.9\"\n".into())),
        ("list-single-quotes".into(), "2.1", Some("version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '/etc/containerd/certs.d:/etc/docker/certs.d' # vendor\n".into())),
        ("table-without-key".into(), "2.1", Some("version = 3\n[plugins.\"io.containerd.cri.v1.images\".registry]\n\n[plugins.\"io.containerd.cri.v1.images\".registry.headers]\n  X = [\"y\"]\n".into())),
        ("already-set".into(), "1.6", Some("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n".into())),
        ("v2-on-2.1".into(), "2.1", Some("version = 2\n".into())),
    ]
}

pub fn equals_the_toml_edit_patch_and_is_idempotent(
    shell: &str,
    seeds: Vec<(String, &'static str, Option<String>)>,
) {
    let dir = tempfile::tempdir().unwrap();
    for (name, ver, seed) in seeds {
        let version = Version::parse(ver).unwrap();
        let root = dir.path().join(&name);
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        let cfg = root.join("etc/containerd/config.toml");
        if let Some(s) = &seed {
            fs::write(&cfg, s).unwrap();
        }
        let script = patch_script::render(version, WANT, false);
        let first = run_script(shell, &script, &root);
        let out = String::from_utf8_lossy(&first.stdout).to_string()
            + &String::from_utf8_lossy(&first.stderr);
        assert!(first.status.success(), "{name}: {out}");
        let by_sh = fs::read_to_string(&cfg).unwrap();
        let covered = BTreeSet::new();
        let by_rust = config_patch::patch(&config_patch::PatchRequest {
            existing: seed.as_deref(),
            containerd: version,
            config_path: Some(WANT),
            covered_dirs: &covered,
            credentials: &[],
        })
        .unwrap();
        let sh_doc: DocumentMut = by_sh
            .parse()
            .unwrap_or_else(|e| panic!("{name}: {e}\n{by_sh}"));
        let rust_doc: DocumentMut = by_rust.text.parse().unwrap();
        assert_eq!(leaves(&sh_doc), leaves(&rust_doc), "{name}:\n{by_sh}");
        if let Some(s) = &seed {
            // Every line of the original is still there, in order (only config_path lines differ).
            let kept: Vec<&str> = s.lines().filter(|l| !l.contains("config_path")).collect();
            let mut it = by_sh.lines();
            for l in &kept {
                assert!(
                    it.any(|x| x == *l),
                    "{name}: line `{l}` lost or moved:\n{by_sh}"
                );
            }
            if by_rust.changed {
                assert_eq!(
                    fs::read_to_string(cfg.with_extension("toml.bak")).unwrap(),
                    *s,
                    "{name}: backup"
                );
                assert!(out.contains("set config_path"), "{name}: {out}");
            } else {
                assert!(out.contains(": unchanged"), "{name}: {out}");
            }
        }
        let second = run_script(shell, &script, &root);
        let out2 = String::from_utf8_lossy(&second.stdout);
        assert!(
            second.status.success() && out2.contains(": unchanged"),
            "{name}: second run: {out2}"
        );
        assert_eq!(
            fs::read_to_string(&cfg).unwrap(),
            by_sh,
            "{name}: second run changed the file"
        );
    }
}

pub fn refuses_what_only_apply_can_migrate(shell: &str) {
    let dir = tempfile::tempdir().unwrap();
    let v17 = Version::parse("1.7").unwrap();
    for (name, seed, words) in [
        (
            "mirrors",
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n  endpoint = [\"http://c:5000\"]\n",
            "registry.mirrors",
        ),
        (
            "tls",
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"h:5000\".tls]\n  insecure_skip_verify = true\n",
            "registry.configs.*.tls",
        ),
        (
            "dotted",
            "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  registry.config_path = \"\"\n",
            "dotted keys",
        ),
        ("version-1", "[plugins.cri]\n  x = 1\n", "version 1 file"),
        ("too-new", "version = 3\n", "cannot read"),
    ] {
        let root = dir.path().join(name);
        fs::create_dir_all(root.join("etc/containerd")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), seed).unwrap();
        let o = run_script(shell, &patch_script::render(v17, WANT, false), &root);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(words), "{name}: {err}");
        assert_eq!(
            fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap(),
            seed,
            "{name}: changed"
        );
        assert!(!root.join("etc/containerd/config.toml.bak").exists());
    }
}
