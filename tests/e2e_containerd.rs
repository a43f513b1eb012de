//! End to end: real containerd 1.6.20, 1.7.24 and 2.1.9 pull over CRI from a real plain-HTTP
//! docker-registry on a non-localhost name, on configs patched by `regtrust apply`; the unpatched
//! config and the popular `insecure_skip_verify` recipe fail (negative controls).
mod support;

use std::fs;
use std::path::Path;

use support::*;

const HTTP_ERROR: &str = "server gave HTTP response to HTTPS client";

/// The scenario for one containerd version; each version gets its own loopback addresses.
fn e2e(version: &str, ip_base: u8) {
    require_e2e_prerequisites();
    let work = work_dir(&format!("containerd-{version}"));
    let private_ip = format!("127.0.0.{ip_base}");
    let cache_ip = format!("127.0.0.{}", ip_base + 1);
    // upstream.corp.example resolves to an address where nothing listens: only the mirror serves.
    let upstream_ip = format!("127.0.0.{}", ip_base + 2);

    let private = Registry::start(&work.join("registry-private"), &private_ip);
    let cache = Registry::start(&work.join("registry-cache"), &cache_ip);
    let image = make_image(&work, &format!("hello from containerd {version}"));
    private.push(&image, "demo/hello:latest");
    cache.push(&image, "demo/mirrored:1");

    let hosts = work.join("hosts");
    fs::write(
        &hosts,
        format!(
            "127.0.0.1 localhost\n{private_ip} my.private.registry\n{cache_ip} cache.corp.example\n{upstream_ip} upstream.corp.example\n"
        ),
    )
    .unwrap();
    let spec = work.join("spec.yaml");
    fs::write(
        &spec,
        "registries:\n  \
         - host: my.private.registry:5000\n    http: true\n  \
         - host: upstream.corp.example:5000\n    fallback: false\n    endpoints:\n      \
           - url: http://cache.corp.example:5000\n",
    )
    .unwrap();

    let seeds = [
        ("debian", debian_config(version)),
        ("default", default_config(version)),
    ];
    let bin = containerd_bin(version);
    let mut failures = Vec::new();

    for (name, seed) in &seeds {
        // Positive: regtrust applied to the seed, and to the seed carrying the popular recipe.
        for (case, config) in [
            (format!("{name}+regtrust"), seed.clone()),
            (format!("{name}+recipe+regtrust"), with_recipe(seed)),
        ] {
            let root = work.join(&case).join("root");
            seed_root(&root, &config);
            let first = regtrust(&[
                "apply",
                "--spec",
                spec.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
                "--containerd",
                version,
            ]);
            let first_out = String::from_utf8_lossy(&first.stdout).to_string();
            assert!(
                first.status.success(),
                "{case}: apply failed: {}{}",
                first_out,
                String::from_utf8_lossy(&first.stderr)
            );
            assert!(
                first_out.contains("containerd must be restarted"),
                "{case}: {first_out}"
            );
            assert!(
                root.join("etc/containerd/config.toml.bak").exists(),
                "{case}: no backup"
            );
            let second = regtrust(&[
                "apply",
                "--spec",
                spec.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
                "--containerd",
                version,
            ]);
            let second_out = String::from_utf8_lossy(&second.stdout);
            assert!(
                second.status.success() && second_out.contains("nothing to do"),
                "{case}: second apply: {second_out}"
            );
            let check = regtrust(&[
                "apply",
                "--spec",
                spec.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
                "--containerd",
                version,
                "--check",
            ]);
            assert_eq!(check.status.code(), Some(0), "{case}: --check after apply");
            if case.contains("recipe") {
                let patched = fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap();
                assert!(
                    !patched.contains("insecure_skip_verify"),
                    "{case}: recipe left in place:\n{patched}"
                );
            }

            let ctrd = Containerd::start(&bin, &root, &hosts, &work.join(&case).join("state"));
            for image in [
                "my.private.registry:5000/demo/hello:latest",
                "upstream.corp.example:5000/demo/mirrored:1",
            ] {
                if let Err(e) = ctrd.cri_pull(image) {
                    failures.push(format!(
                        "{version} {case}: pull {image} failed: {e}\n{}",
                        ctrd.log_tail()
                    ));
                }
            }
        }
        // Negative controls: the seed as shipped, and the seed with the popular recipe.
        for (case, config) in [
            (format!("{name}-unpatched"), seed.clone()),
            (format!("{name}+recipe"), with_recipe(seed)),
        ] {
            let root = work.join(&case).join("root");
            seed_root(&root, &config);
            fs::create_dir_all(root.join("etc/containerd/certs.d")).unwrap();
            let ctrd = Containerd::start(&bin, &root, &hosts, &work.join(&case).join("state"));
            match ctrd.cri_pull("my.private.registry:5000/demo/hello:latest") {
                Ok(r) => failures.push(format!("{version} {case}: negative control pulled {r}")),
                Err(e) if e.contains(HTTP_ERROR) => {}
                Err(e) => failures.push(format!(
                    "{version} {case}: expected `{HTTP_ERROR}`, got: {e}"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn seed_root(root: &Path, config: &str) {
    fs::create_dir_all(root.join("etc/containerd")).unwrap();
    fs::write(root.join("etc/containerd/config.toml"), config).unwrap();
}

/// The popular recipe, in the registry table of the config's own layout.
fn with_recipe(seed: &str) -> String {
    let plugin = if seed.lines().any(|l| l.trim() == "version = 3") {
        "io.containerd.cri.v1.images"
    } else {
        "io.containerd.grpc.v1.cri"
    };
    format!(
        "{seed}\n[plugins.\"{plugin}\".registry.configs.\"my.private.registry:5000\".tls]\n  insecure_skip_verify = true\n\
         [plugins.\"{plugin}\".registry.configs.\"my.private.registry:5000\".http]\n  skip_verify = true\n"
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
