//! Completions, man page, --help examples and --version. (The real suite checks `regtrust
//! schema` with check-jsonschema from PyPI, and the bash completions with `bash -n`.)
use std::process::Output;

use crate::support::regtrust;

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let text = stdout(&regtrust(&["completions", shell]));
        for sub in ["check", "render", "apply", "terraform-external", "schema"] {
            assert!(text.contains(sub), "{shell}: {sub}");
        }
    }
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
