//! Hostile input: huge specs, deep nesting, alias bombs, oversized files. Each is rejected with a
//! clear message, or handled, within bounded memory (max RSS measured with /usr/bin/time, from
//! Debian's package `time`). (The fast suite has the path tricks in host names.)
use std::fs;
use std::path::Path;
use std::process::Command;

/// Runs `regtrust ARGS` under /usr/bin/time; returns (exit code, stderr, max RSS in KiB).
fn measured(args: &[&str]) -> (i32, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let rss = dir.path().join("rss");
    let o = Command::new("/usr/bin/time")
        .arg("-o")
        .arg(&rss)
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_regtrust"))
        .args(args)
        .output()
        .expect("/usr/bin/time is missing: run .ci/install-deps (Debian package time)");
    let text = fs::read_to_string(&rss).unwrap();
    let kib = text.lines().last().unwrap().trim().parse().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).to_string(),
        kib,
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn a_spec_of_100k_registries_is_handled_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("containerd:\n  version: \"1.7\"\nregistries:\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "  - host: reg{i}.corp.example:5000\n    http: true\n"
        ));
    }
    let spec = write(dir.path(), "huge.yaml", &text);
    let (code, err, kib) = measured(&["check", "--spec", &spec]);
    assert_eq!(code, 0, "{err}");
    assert!(kib < 1024 * 1024, "check of 100k registries used {kib} KiB");
    let out = dir.path().join("hosts");
    let (code, err, kib) = measured(&[
        "render",
        "--spec",
        &spec,
        "--target",
        "hosts",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        kib < 1024 * 1024,
        "render of 100k registries used {kib} KiB"
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 100_000);
}

#[test]
fn deep_nesting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        (
            "flow.yaml",
            format!(
                "registries: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
        ),
        (
            "maps.yaml",
            format!(
                "registries:\n  - host: a.example\n    headers: {}{}\n",
                "{a: ".repeat(10_000),
                "}".repeat(10_000)
            ),
        ),
    ] {
        let spec = write(dir.path(), name, &text);
        let (code, err, kib) = measured(&["check", "--spec", &spec]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("error[spec-syntax]"), "{name}: {err}");
        assert!(kib < 256 * 1024, "{name}: {kib} KiB");
    }
}

/// Each alias bomb is refused by the limit it is about (the diagnostic says which), within
/// bounded memory: a check that accepted any error would pass on an unrelated one (an unknown
/// key, a syntax slip) while the bomb went unmeasured.
#[test]
fn alias_bombs_are_refused_without_expanding() {
    let dir = tempfile::tempdir().unwrap();
    // Billion laughs inside a known key: 9^10 strings once expanded.
    let mut lol = String::from("registries:\n  - host: a.example\n    headers:\n");
    lol.push_str("      X-0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(",");
        lol.push_str(&format!("      X-{i}: &a{i} [{refs}]\n"));
    }
    // The same bomb under top-level keys the spec does not have.
    let mut top = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        top.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 9].join(",")
        ));
    }
    top.push_str("registries: []\n");
    // Many aliases of one big string: 20 GiB of scalars once expanded.
    let mut big =
        String::from("registries:\n  - host: a.example\n    headers:\n      X-Big: &big \"");
    big.push_str(&"x".repeat(1 << 20));
    big.push_str("\"\n");
    for i in 0..20_000 {
        big.push_str(&format!("      X-{i}: *big\n"));
    }
    // Many aliases of a short string: only the alias count is over its limit.
    let mut many =
        String::from("registries:\n  - host: a.example\n    headers:\n      X-Short: &s \"x\"\n");
    for i in 0..20_000 {
        many.push_str(&format!("      X-{i}: *s\n"));
    }
    let limits = "the spec exceeds regtrust's parser limits: ";
    for (name, text, code, message, position) in [
        // The expansion budget (anchor events replayed) stops it at the seventh level.
        (
            "lol.yaml",
            lol,
            "error[spec-syntax]",
            format!(
                "{limits}anchors that expand to more than the parser records (an alias bomb) \
                 (budget breached: RecordedAnchorEvents"
            ),
            "lol.yaml:10:",
        ),
        // The typed parse stops at the first unknown key; the walk that lists every unknown key
        // re-parses with a node budget scaled to the text and gives up, so only `a0` is named
        // (with the walk, each of a0..a9 would be: `unknown key `a0` in the spec`).
        (
            "top.yaml",
            top,
            "error[unknown-key]",
            "unknown field `a0`, expected one of runtimes, containerd, registries".to_string(),
            "top.yaml:1:1",
        ),
        // The budget of scalar bytes (64 MiB) stops it at the 63rd alias of the 1 MiB string.
        (
            "big.yaml",
            big,
            "error[spec-syntax]",
            format!(
                "{limits}more scalar text than the parser allows (aliases expand into it) \
                 (budget breached: ScalarBytes"
            ),
            "big.yaml:67:",
        ),
        // The alias budget: the 10,001st alias (line 10,005) is one too many.
        (
            "many.yaml",
            many,
            "error[spec-syntax]",
            format!(
                "{limits}more than 10,000 aliases (budget breached: Aliases {{ aliases: 10001 }}"
            ),
            "many.yaml:10005:",
        ),
    ] {
        let spec = write(dir.path(), name, &text);
        let (code_n, err, kib) = measured(&["check", "--spec", &spec]);
        assert_eq!(code_n, 2, "{name}: {err}");
        assert!(
            err.starts_with(&format!("{code}: {message}")),
            "{name}: expected `{code}: {message}`:\n{err}"
        );
        assert!(
            err.contains(position),
            "{name}: expected {position}:\n{err}"
        );
        assert!(
            err.contains("1 error in the spec; nothing was written"),
            "{name}: {err}"
        );
        assert!(kib < 256 * 1024, "{name}: {kib} KiB");
    }
}

#[test]
fn oversized_spec_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("registries: []\n");
    text.push_str(&"#".repeat(65 * 1024 * 1024));
    let spec = write(dir.path(), "big.yaml", &text);
    let (code, err, kib) = measured(&["check", "--spec", &spec]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error[spec-too-large]"), "{err}");
    assert!(kib < 256 * 1024, "{kib} KiB");
}
