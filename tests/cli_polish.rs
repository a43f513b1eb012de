//! `regtrust schema` (checked with check-jsonschema from PyPI against the shipped examples and
//! known-bad specs), completions, man page, --help examples and --version.
mod support;

use std::fs;
use std::process::{Command, Output};

use support::*;

fn regtrust(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .unwrap()
}

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

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let text = stdout(&regtrust(&["completions", shell]));
        for sub in ["check", "render", "apply", "terraform-external", "schema"] {
            assert!(text.contains(sub), "{shell}: {sub}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("regtrust.bash");
    fs::write(&f, stdout(&regtrust(&["completions", "bash"]))).unwrap();
    let o = Command::new("bash").arg("-n").arg(&f).output().unwrap();
    assert!(
        o.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn man_page_help_examples_and_version() {
    let man = stdout(&regtrust(&["man"]));
    assert!(man.contains(".TH regtrust 1"), "{man}");
    for sub in ["check", "render", "apply"] {
        assert!(man.contains(sub), "{sub}");
    }
    for sub in [
        "check",
        "render",
        "apply",
        "terraform-external",
        "schema",
        "completions",
        "man",
    ] {
        let help = stdout(&regtrust(&[sub, "--help"]));
        assert!(
            help.contains("Example"),
            "`regtrust {sub} --help` shows no example:\n{help}"
        );
    }
    let v = stdout(&regtrust(&["--version"]));
    assert_eq!(v.trim(), format!("regtrust {}", env!("CARGO_PKG_VERSION")));
}
