//! End to end: real containerd 1.6.20, 1.7.24 and 2.1.9 pull over CRI from a real plain-HTTP
//! docker-registry on a non-localhost name, on configs patched by `regtrust apply`; the unpatched
//! config and the popular `insecure_skip_verify` recipe fail (negative controls).
use std::fs;

use crate::support::*;
use crate::system::*;

const PRIVATE: &str = PRIVATE_IMAGE;
const MIRRORED: &str = MIRRORED_IMAGE;
const LEGACY: &str = LEGACY_IMAGE;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Expect {
    Pulls,
    HttpError,
}

struct Case {
    name: String,
    config: String,
    /// Run `regtrust apply` (twice) before starting containerd.
    apply: bool,
    /// Without apply: render the hosts tree anyway (to show config.toml is what is missing).
    hosts_only: bool,
    /// A user's own hosts.toml for legacy.corp.example:5000 in k3s's hosts directory (a host the
    /// spec does not name), before anything runs.
    other_dir_host: bool,
    pulls: Vec<(&'static str, Expect)>,
}

fn case(name: &str, config: String, apply: bool, pulls: Vec<(&'static str, Expect)>) -> Case {
    Case {
        name: name.to_string(),
        config,
        apply,
        hosts_only: false,
        other_dir_host: false,
        pulls,
    }
}

/// The cases for one containerd version.
fn cases(version: &str) -> Vec<Case> {
    use Expect::*;
    let debian = debian_config(version);
    let default = default_config(version);
    let ok = || vec![(PRIVATE, Pulls), (MIRRORED, Pulls)];
    let mut v = vec![
        case("debian+regtrust", debian.clone(), true, ok()),
        case("default+regtrust", default.clone(), true, ok()),
        case("debian+recipe+regtrust", with_recipe(&debian), true, ok()),
        case("default+recipe+regtrust", with_recipe(&default), true, ok()),
        // Legacy mirrors cannot coexist with config_path: apply migrates them, CRI still loads,
        // and the migrated mirror still serves.
        case(
            "debian+legacy-mirrors+regtrust",
            append_table(
                &debian,
                "registry.mirrors.\"legacy.corp.example:5000\"",
                "endpoint = [\"http://cache.corp.example:5000\"]",
            ),
            true,
            vec![(PRIVATE, Pulls), (MIRRORED, Pulls), (LEGACY, Pulls)],
        ),
        case("debian+list+regtrust", with_list(&debian), true, ok()),
        // Negative controls.
        case(
            "debian-unpatched",
            debian.clone(),
            false,
            vec![(PRIVATE, HttpError)],
        ),
        case(
            "default-unpatched",
            default.clone(),
            false,
            vec![(PRIVATE, HttpError)],
        ),
        case(
            "debian+recipe",
            with_recipe(&debian),
            false,
            vec![(PRIVATE, HttpError)],
        ),
        case(
            "default+recipe",
            with_recipe(&default),
            false,
            vec![(PRIVATE, HttpError)],
        ),
    ];
    // A node set to another directory, with a host configured there that the spec does not name:
    // it pulls before apply, and still pulls after apply moved config_path to the default
    // (the host was carried over). The list form: 1.7 splits it, so the host pulls before too.
    let mut moved = vec![("k3s-dir", with_dir(&debian, K3S_HOSTS_DIR))];
    if version == "1.7" {
        let list = format!("/etc/containerd/certs.d:{K3S_HOSTS_DIR}");
        moved.push(("k3s-list", with_dir(&debian, &list)));
    }
    for (name, config) in moved {
        for apply in [false, true] {
            let mut pulls = vec![(LEGACY, Pulls)];
            if apply {
                pulls.extend(ok());
            }
            let suffix = if apply { "+regtrust" } else { "" };
            let mut c = case(
                &format!("debian+{name}+own-host{suffix}"),
                config.clone(),
                apply,
                pulls,
            );
            c.other_dir_host = true;
            v.push(c);
        }
    }
    // A version 1 file (no `version` key; minikube's ISO ships one): 1.x still reads it, and
    // apply sets config_path in [plugins.cri.registry], keeping the rest.
    if version.starts_with("1.") {
        v.push(case("v1+regtrust", V1_CONFIG.to_string(), true, ok()));
        v.push(case(
            "v1-unpatched",
            V1_CONFIG.to_string(),
            false,
            vec![(PRIVATE, HttpError)],
        ));
    }
    // A `:`-list config_path with the right hosts.toml in place: 1.7 splits the list and pulls;
    // 2.1's CRI pull path does not, and falls back to HTTPS (the measured facts).
    let list_expect = match version {
        "1.7" => Some(Pulls),
        "2.1" => Some(HttpError),
        _ => None,
    };
    if let Some(e) = list_expect {
        let mut c = case(
            "debian+list+hosts-only",
            with_list(&debian),
            false,
            vec![(PRIVATE, e)],
        );
        c.hosts_only = true;
        v.push(c);
    }
    v
}

/// The scenario for one containerd version; each version gets its own loopback addresses.
fn e2e(version: &str, ip_base: u8) {
    let fx = Fixture::new(&format!("containerd-{version}"), ip_base);
    let (work, hosts) = (&fx.work, &fx.hosts);
    let spec = fx.spec.to_str().unwrap();
    let bin = containerd_bin(version);
    let mut failures = Vec::new();

    for c in cases(version) {
        let dir = work.join(&c.name);
        let root = dir.join("root");
        fs::create_dir_all(root.join("etc/containerd/certs.d")).unwrap();
        fs::write(root.join("etc/containerd/config.toml"), &c.config).unwrap();
        if c.other_dir_host {
            let d = root.join(format!("{}/legacy.corp.example:5000", &K3S_HOSTS_DIR[1..]));
            fs::create_dir_all(&d).unwrap();
            fs::write(
                d.join("hosts.toml"),
                "server = \"https://legacy.corp.example:5000\"\n\n\
                 [host.\"http://cache.corp.example:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            )
            .unwrap();
        }
        let root_s = root.to_str().unwrap();
        if c.apply {
            let apply = [
                "apply",
                "--spec",
                spec,
                "--root",
                root_s,
                "--containerd",
                version,
            ];
            let first = regtrust(&apply);
            let out = String::from_utf8_lossy(&first.stdout).to_string();
            let err = String::from_utf8_lossy(&first.stderr);
            assert!(
                first.status.success(),
                "{version} {}: apply failed: {out}{err}",
                c.name
            );
            // A scratch root: the restart is said for that system, not as a command here.
            assert!(
                out.contains("containerd on that system must restart"),
                "{version} {}: {out}",
                c.name
            );
            assert!(
                root.join("etc/containerd/config.toml.bak").exists(),
                "{}: no backup",
                c.name
            );
            let second = regtrust(&apply);
            let out2 = String::from_utf8_lossy(&second.stdout);
            assert!(
                second.status.success() && out2.contains("nothing to do"),
                "{}: second apply: {out2}",
                c.name
            );
            let check = regtrust(&[&apply[..], &["--check"]].concat());
            assert_eq!(
                check.status.code(),
                Some(0),
                "{}: --check after apply",
                c.name
            );
            let patched = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
            for gone in [
                "insecure_skip_verify",
                "legacy.corp.example",
                "/etc/docker/certs.d",
            ] {
                assert!(
                    !patched.contains(gone),
                    "{}: `{gone}` left in config.toml:\n{patched}",
                    c.name
                );
            }
        } else if c.hosts_only {
            let out = root.join("etc/containerd/certs.d");
            let r = regtrust(&[
                "render",
                "--spec",
                spec,
                "--target",
                "hosts",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(r.status.success());
        }

        let ctrd = Containerd::start(&bin, &root, hosts, &dir.join("state"));
        for (image, expect) in &c.pulls {
            let got = ctrd.cri_pull(image);
            let ok = match (expect, &got) {
                (Expect::Pulls, Ok(_)) => true,
                (Expect::HttpError, Err(e)) => e.contains(HTTP_ERROR),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "containerd {version}, {}: pull {image}: expected {expect:?}, got {got:?}\n{}",
                    c.name,
                    ctrd.log_tail()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The registry table's plugin for the config's own layout.
fn plugin(config: &str) -> &'static str {
    if config.lines().any(|l| l.trim() == "version = 3") {
        "io.containerd.cri.v1.images"
    } else {
        "io.containerd.grpc.v1.cri"
    }
}

fn append_table(config: &str, table: &str, body: &str) -> String {
    format!(
        "{config}\n[plugins.\"{}\".{table}]\n  {body}\n",
        plugin(config)
    )
}

/// The popular recipe, in the registry table of the config's own layout.
pub(crate) fn with_recipe(config: &str) -> String {
    let c = append_table(
        config,
        "registry.configs.\"my.private.registry:5000\".tls",
        "insecure_skip_verify = true",
    );
    append_table(
        &c,
        "registry.configs.\"my.private.registry:5000\".http",
        "skip_verify = true",
    )
}

/// A version 1 config.toml in the style of minikube's ISO (no `version` key, short plugin
/// names), with a legacy mirror apply moves into hosts.toml.
const V1_CONFIG: &str = r#"oom_score = 0

[plugins]
  [plugins.cgroups]
    no_prometheus = false
  [plugins.cri]
    stream_server_address = ""
    stream_server_port = "10010"
    enable_selinux = false
    sandbox_image = "registry.k8s.io/pause:3.9"
    [plugins.cri.containerd]
      snapshotter = "overlayfs"
      [plugins.cri.containerd.default_runtime]
        runtime_type = "io.containerd.runc.v2"
    [plugins.cri.registry]
      [plugins.cri.registry.mirrors]
        [plugins.cri.registry.mirrors."docker.io"]
          endpoint = ["https://registry-1.docker.io"]
"#;

/// Where k3s keeps its hosts.toml tree: a real directory a node's config_path may name.
const K3S_HOSTS_DIR: &str = "/var/lib/rancher/k3s/agent/etc/containerd/certs.d";

/// config_path set to one directory (or a `:`-list).
fn with_dir(config: &str, dir: &str) -> String {
    append_table(config, "registry", &format!("config_path = \"{dir}\""))
}

/// A vendor-style `:`-separated config_path (a config without a registry table).
fn with_list(config: &str) -> String {
    append_table(
        config,
        "registry",
        "config_path = \"/etc/containerd/certs.d:/etc/docker/certs.d\"",
    )
}

#[test]
fn containerd_1_6_pulls_over_cri_after_apply() {
    e2e("1.6", 20);
}

#[test]
fn containerd_1_7_pulls_over_cri_after_apply() {
    e2e("1.7", 30);
}

#[test]
fn containerd_2_1_pulls_over_cri_after_apply() {
    e2e("2.1", 40);
}
