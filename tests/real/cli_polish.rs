//! `regtrust schema`, checked with check-jsonschema from PyPI (in .ci/install-deps' virtualenv)
//! against the shipped examples and known-bad specs; the bash completions parse with `bash -n`;
//! the man page renders with groff without warnings.
//! (The fast suite has the completions' content, the man page, --help and --version.)
use std::fs;
use std::process::{Command, Output};

use crate::support::*;
use crate::system::{cache_dir, require_tool};

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn check_jsonschema(schema: &std::path::Path, file: &std::path::Path) -> Output {
    let bin = cache_dir().join("venv/bin/check-jsonschema");
    assert!(
        bin.exists(),
        "{} is missing: run .ci/install-deps",
        bin.display()
    );
    Command::new(bin)
        .arg("--schemafile")
        .arg(schema)
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn shipped_examples_validate_against_the_schema_and_bad_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("regtrust-spec.schema.json");
    fs::write(&schema, stdout(&regtrust(&["schema"]))).unwrap();
    for good in ["examples/registries.yaml", "examples/registries.json"] {
        let f = manifest_dir().join(good);
        let o = check_jsonschema(&schema, &f);
        assert!(
            o.status.success(),
            "{good}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        // The schema and regtrust agree.
        assert!(
            regtrust(&["check", "--spec", f.to_str().unwrap()])
                .status
                .success(),
            "{good}"
        );
    }
    let bad_dir = manifest_dir().join("tests/schema");
    let mut n = 0;
    for e in fs::read_dir(&bad_dir).unwrap().flatten() {
        let f = e.path();
        let o = check_jsonschema(&schema, &f);
        assert!(!o.status.success(), "{} passed the schema", f.display());
        let c = regtrust(&["check", "--spec", f.to_str().unwrap()]);
        assert_eq!(
            c.status.code(),
            Some(2),
            "{} passed regtrust check",
            f.display()
        );
        n += 1;
    }
    assert!(n >= 5, "the bad examples are under tests/schema");
}

/// The bash completions parse (`bash -n`).
#[test]
fn bash_completions_parse() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("regtrust.bash");
    fs::write(&f, stdout(&regtrust(&["completions", "bash"]))).unwrap();
    let o = Command::new("bash")
        .arg("-n")
        .arg(&f)
        .output()
        .unwrap_or_else(|e| panic!("bash is missing ({e})"));
    assert!(
        o.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The shipped example's CA is a real certificate: openssl reads the file regtrust writes from it.
#[test]
fn the_example_ca_is_a_real_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs.d");
    let spec = manifest_dir().join("examples/registries.yaml");
    let o = regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
        "--target",
        "hosts",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ca = out.join("harbor.corp.example/ca.crt");
    let x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&ca)
        .output()
        .expect("openssl is missing: run .ci/install-deps");
    assert!(
        x509.status.success(),
        "{}",
        String::from_utf8_lossy(&x509.stderr)
    );
    assert!(String::from_utf8_lossy(&x509.stdout).contains("regtrust example CA"));
}

/// The man page renders with groff without a warning (every roff request it uses is valid).
#[test]
fn the_man_page_renders_with_groff_without_warnings() {
    require_tool("groff", "apt-get install groff-base (.ci/install-deps)");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("regtrust.1");
    fs::write(&page, stdout(&regtrust(&["man"]))).unwrap();
    let o = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
