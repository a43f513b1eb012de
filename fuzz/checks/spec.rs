//! The spec parser and validator: no panic on any input; for every accepted spec, every
//! hosts.toml parses, no planned path leaves config_path, and the plan is deterministic.
//!
//! Plain Rust, no libFuzzer: `fuzz_targets/spec.rs` calls [`check`] on every input,
//! and a test can replay saved inputs through it (docs/testing.md, "Fuzzing").
use regtrust::plan::{FileKind, Plan};

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = regtrust::spec::load_str("fuzz.yaml", text) else {
        return;
    };
    let root = loaded
        .spec
        .config_path
        .clone()
        .unwrap_or_else(|| "/etc/containerd/certs.d".into());
    let plan = Plan::build(&loaded.spec, &[], &root, None);
    for f in &plan.files {
        let rest = f
            .path
            .strip_prefix(&format!("{root}/"))
            .expect("path under config_path");
        assert!(
            !rest
                .split('/')
                .any(|c| c == ".." || c == "." || c.is_empty()),
            "{}",
            f.path
        );
        assert!(!f.path.contains('\0'));
        assert_eq!(
            rest.matches('/').count(),
            1,
            "one directory level: {}",
            f.path
        );
        if f.kind == FileKind::HostsToml {
            f.content
                .parse::<toml_edit::DocumentMut>()
                .expect("hosts.toml parses");
        }
    }
    assert_eq!(plan, Plan::build(&loaded.spec, &[], &root, None));
}
