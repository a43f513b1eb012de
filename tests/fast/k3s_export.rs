//! `render --target k3s` read back by `import k3s`: for a spec holding everything registries.yaml
//! can express (plain HTTP, mirrors in order, CA and client files, skip_verify, credentials on
//! the registry and on a mirror, the catch-all), the imported spec plans the same files, byte for
//! byte, as the original (compared through `render --target json --show-secrets`). The password
//! stays out of the imported spec: it names environment variables, which the test sets.
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const SPEC: &str = "registries:
  - host: my.private.registry:5000
    http: true
  - host: docker.io
    endpoints:
      - url: http://cache.corp.example:5000
      - url: https://mirror.corp.example:8443
        ca: /etc/ssl/mirror-ca.pem
        client:
          cert: /etc/ssl/client.pem
          key: /etc/ssl/client.key
        auth:
          username: bob
          password_env: BOB_PASSWORD
  - host: harbor.corp.example
    skip_verify: true
    auth:
      username: alice
      password_file: alice.password
  - host: secure.corp.example
    ca: /etc/ssl/secure-ca.pem
  - host: quay.io
    endpoints:
      - url: https://quay-cache.corp.example
  - host: \"*\"
    endpoints:
      - url: https://catch-all.corp.example
";

fn regtrust(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .current_dir(dir)
        .env("BOB_PASSWORD", "bob-secret")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The planned files of a spec, sorted by path: (path, mode, content).
fn planned_files(dir: &Path, spec: &str, env: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let o = regtrust(
        dir,
        &[
            "render",
            "--spec",
            spec,
            "--target",
            "json",
            "--show-secrets",
            // 2.1: credentials as a header by default (the plan shows them as files).
            "--containerd",
            "2.1",
        ],
        env,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut files: Vec<(String, String, String)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["mode"].as_str().unwrap().to_string(),
                f["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn import_k3s_of_render_k3s_plans_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("spec.yaml"), SPEC).unwrap();
    fs::write(d.join("alice.password"), "alice-secret\n").unwrap();
    let o = regtrust(
        d,
        &[
            "render",
            "--spec",
            "spec.yaml",
            "--target",
            "k3s",
            "--out",
            "registries.yaml",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    // Nothing of this spec is dropped; only the credentials warning.
    assert!(!stderr.contains("dropped"), "{stderr}");
    assert!(stderr.contains("carries registry passwords"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(d.join("registries.yaml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let o = regtrust(
        d,
        &[
            "import",
            "k3s",
            "registries.yaml",
            "--no-probe",
            "--emit-spec",
            "imported.yaml",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let imported = fs::read_to_string(d.join("imported.yaml")).unwrap();
    for secret in ["alice-secret", "bob-secret"] {
        assert!(!imported.contains(secret), "{imported}");
        assert!(!stderr.contains(secret), "{stderr}");
    }
    // Each password is in a 0600 file beside the imported spec, which names it.
    for (file, secret) in [
        ("harbor.corp.example.password", "alice-secret"),
        ("mirror.corp.example_8443.password", "bob-secret"),
    ] {
        let p = d.join("imported.yaml.secrets").join(file);
        assert_eq!(fs::read_to_string(&p).unwrap(), secret, "{stderr}");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(imported.contains(file), "{imported}");
    }
    let original = planned_files(d, "spec.yaml", &[]);
    let back = planned_files(d, "imported.yaml", &[]);
    assert_eq!(original.len(), 6, "{original:#?}");
    assert_eq!(back, original, "imported spec:\n{imported}");
    // The credentials are really in both plans (an Authorization header in a 0600 file).
    assert!(
        original
            .iter()
            .filter(|(_, mode, c)| mode == "0600" && c.contains("Authorization"))
            .count()
            == 2,
        "{original:#?}"
    );
}
