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
fn completions_offer_the_containerd_versions() {
    let bash = stdout(&regtrust(&["completions", "bash"]));
    assert!(
        bash.contains("compgen -W \"1.6 1.7 2.0 2.1 2.2 2.3\""),
        "no containerd versions for --containerd in the bash completion"
    );
    // A patch level is still accepted, and an unknown line refused with the supported ones.
    let o = regtrust(&["render", "--spec", "x.yaml", "--containerd", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected one of 1.6, 1.7"));
}

/// One page: every command with its options, every spec key (from the JSON Schema), the exit
/// codes and examples; no reference to per-command pages that are not installed.
#[test]
fn man_page_help_examples_and_version() {
    let man = stdout(&regtrust(&["man"]));
    assert!(man.contains(".TH regtrust 1"), "{man}");
    for sub in [
        "check",
        "render",
        "apply",
        "terraform\\-external",
        "doctor",
        "migrate",
        "import k3s",
        "schema",
        "completions",
        "man",
    ] {
        assert!(
            man.contains(&format!(".SS \"regtrust {sub}\"")),
            "{sub} missing"
        );
    }
    assert!(
        !man.contains("regtrust\\-check(1)"),
        "refers to a page that does not exist"
    );
    for key in [
        "containerd.config_path",
        "registries.host",
        "registries.http",
        "registries.endpoints.url",
        "registries.endpoints.ca_pem",
        "registries.client.key_pem",
        "registries.fallback",
    ] {
        assert!(
            man.contains(&format!("\\fB{key}\\fR")),
            "spec key {key} missing"
        );
    }
    assert!(man.contains(".SH EXIT STATUS") && man.contains(".SH EXAMPLES"));
    for code in ["0", "1", "2", "3"] {
        assert!(man.contains(&format!(".TP\n{code}\n")), "exit code {code}");
    }
    for sub in [
        "check",
        "render",
        "apply",
        "terraform-external",
        "doctor",
        "migrate",
        "import",
        "import k3s",
        "schema",
        "completions",
        "man",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let help = stdout(&regtrust(&args));
        assert!(
            help.contains("Example"),
            "`regtrust {sub} --help` shows no example:\n{help}"
        );
    }
    let v = stdout(&regtrust(&["--version"]));
    assert_eq!(v.trim(), format!("regtrust {}", env!("CARGO_PKG_VERSION")));
}
