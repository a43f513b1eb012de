//! The config.toml patcher: arbitrary TOML in. No panic; a patched config parses, has
//! config_path where the file's version wants it, and every key outside the registry table
//! keeps its value.
//!
//! Plain Rust, no libFuzzer: `fuzz_targets/config_patch.rs` calls [`check`] on every input,
//! and a test can replay saved inputs through it (docs/testing.md, "Fuzzing").
use std::collections::BTreeSet;

use regtrust::containerd::Version;
use regtrust::emit::config_patch::{PatchRequest, patch};
use toml_edit::{DocumentMut, Item};

/// Every leaf as `path = value`, skipping the registry tables (the patch may change them).
fn leaves(doc: &DocumentMut) -> BTreeSet<String> {
    fn walk(prefix: &str, item: &Item, out: &mut BTreeSet<String>) {
        // The registry table of every layout: version 1 (`cri`, read by containerd 1.x), 2, 3/4.
        if prefix.ends_with(r#"."plugins"."io.containerd.grpc.v1.cri"."registry""#)
            || prefix.ends_with(r#"."plugins"."io.containerd.cri.v1.images"."registry""#)
            || prefix.ends_with(r#"."plugins"."cri"."registry""#)
        {
            return;
        }
        if let Some(t) = item.as_table_like() {
            for (k, v) in t.iter() {
                walk(&format!("{prefix}.{k:?}"), v, out);
            }
        } else if let Some(v) = item.as_value() {
            out.insert(format!("{prefix} = {}", v.clone().decorated("", "")));
        }
    }
    let mut out = BTreeSet::new();
    walk("", doc.as_item(), &mut out);
    out
}

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let version = ["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"][usize::from(pick) % 6];
    let covered = BTreeSet::new();
    let Ok(patched) = patch(&PatchRequest {
        existing: Some(text),
        containerd: Version::parse(version).unwrap(),
        config_path: Some("/etc/containerd/certs.d"),
        covered_dirs: &covered,
        credentials: &[],
    }) else {
        return;
    };
    let new: DocumentMut = patched.text.parse().expect("the patched config parses");
    let plugin = patched.plugin;
    let registry = &new["plugins"][plugin]["registry"];
    assert_eq!(
        registry["config_path"].as_str(),
        Some("/etc/containerd/certs.d")
    );
    // (A document without keys is treated as a new file: `version` is added.)
    if let Ok(old) = text.parse::<DocumentMut>().map_err(drop).and_then(|d| {
        if d.as_table().is_empty() {
            Err(())
        } else {
            Ok(d)
        }
    }) {
        assert_eq!(
            leaves(&old),
            leaves(&new),
            "a key outside the registry table changed"
        );
    }
}
