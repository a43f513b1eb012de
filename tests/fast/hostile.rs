//! Hostile host names: path tricks and very long names are rejected with a clear message. (The
//! real suite feeds huge specs, deep nesting, alias bombs and oversized files and measures the
//! memory used with /usr/bin/time.)
use std::fs;
use std::path::Path;

use crate::support::regtrust;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn path_tricks_in_hosts_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}.example", "a".repeat(300));
    for (host, words) in [
        ("..", "empty label"),
        ("../etc", "path separator"),
        ("a/../../b", "path separator"),
        ("/", "path separator"),
        ("\\0", "not a valid host name label"),
        ("a\\0b.example", "not a valid host name label"),
        (long.as_str(), "bytes long"),
        ("C:\\\\x", "is not a number from 1 to 65535"),
    ] {
        let spec = write(
            dir.path(),
            "s.yaml",
            &format!("registries:\n  - host: \"{host}\"\n    http: true\n"),
        );
        let o = regtrust(&["check", "--spec", &spec]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{host}: {err}");
        assert!(
            err.contains("error[bad-host]") && err.contains(words),
            "{host}: {err}"
        );
    }
}
