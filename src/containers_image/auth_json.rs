//! `/etc/containers/auth.json` (containers-auth.json(5)): `{"auths": {"<host>": {"auth":
//! "base64(user:password)"}}}`. regtrust sets its own entries and removes the ones it wrote
//! earlier that left the spec; every other entry and key is kept. Written as `podman login`
//! writes it (Go's `json.MarshalIndent` with a tab: keys sorted, tab indentation).
use serde_json::{Map, Value};

use super::plan::AuthEntry;

/// The new text of auth.json, or `None` when it needs no change. `existing`: the file's text;
/// `stale`: keys regtrust wrote earlier that are no longer planned.
pub fn merge(
    existing: Option<&str>,
    entries: &[AuthEntry],
    stale: &[String],
) -> Result<Option<String>, String> {
    let mut doc: Map<String, Value> = match existing {
        Some(t) if !t.trim().is_empty() => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err("not a JSON object".into()),
            // The parser's message names a position, never the file's text.
            Err(e) => return Err(format!("not valid JSON ({e})")),
        },
        _ => Map::new(),
    };
    let before = Value::Object(doc.clone());
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(auths) = auths else {
        return Err("`auths` is not an object".into());
    };
    for key in stale {
        if !entries.iter().any(|e| &e.key == key) {
            auths.remove(key);
        }
    }
    for e in entries {
        let entry = auths
            .entry(e.key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        match entry {
            Value::Object(m) => {
                m.insert("auth".into(), Value::String(e.token.expose().to_string()));
            }
            _ => return Err(format!("`auths.\"{}\"` is not an object", e.key)),
        }
    }
    let after = Value::Object(doc);
    if after == before && existing.is_some() {
        return Ok(None);
    }
    if existing.is_none() && entries.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&after, &mut ser).map_err(|e| e.to_string())?;
    let mut text = String::from_utf8(out).expect("serde_json writes UTF-8");
    text.push('\n');
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn entry(k: &str, t: &str) -> AuthEntry {
        AuthEntry {
            key: k.into(),
            token: Secret::new(t.into()),
        }
    }

    #[test]
    fn other_entries_and_keys_are_kept_and_stale_ones_removed() {
        let old = r#"{"auths":{"quay.io":{"auth":"cXVheTp4"},"old.test":{"auth":"b2xkOng="}},"credHelpers":{"gcr.io":"gcloud"}}"#;
        let new = merge(
            Some(old),
            &[entry("r.test:5000", "dTpw")],
            &["old.test".into()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            new,
            "{\n\t\"auths\": {\n\t\t\"quay.io\": {\n\t\t\t\"auth\": \"cXVheTp4\"\n\t\t},\n\t\t\
             \"r.test:5000\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t}\n\t},\n\t\"credHelpers\": {\n\t\t\
             \"gcr.io\": \"gcloud\"\n\t}\n}\n"
        );
        // Idempotent: the same entries again change nothing.
        assert_eq!(
            merge(Some(&new), &[entry("r.test:5000", "dTpw")], &[]),
            Ok(None)
        );
        // No file and nothing to write: no file.
        assert_eq!(merge(None, &[], &["x".into()]), Ok(None));
        assert!(merge(Some("[1]"), &[], &[]).is_err());
        assert!(merge(Some("{\"auths\": 3}"), &[], &[]).is_err());
        let e = merge(Some("{\"auths\": {\"a\": \"secretvalue\""), &[], &[]).unwrap_err();
        assert!(!e.contains("secretvalue"), "{e}");
    }
}
