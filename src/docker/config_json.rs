//! root's docker `config.json` (`/root/.docker/config.json`): the credentials the docker CLI
//! sends. dockerd never reads this file; the CLI (and what uses its configuration: compose,
//! buildx) reads it and sends the credentials to the daemon with each pull (the Engine API's
//! `X-Registry-Auth` header). The edit sets `auths.<registry>.auth` (base64 of `user:password`)
//! and keeps every other key and entry as written; the file is 0600. Its printed forms go through
//! `secret::redact` (JSON `"auth"` values) like every other text.
use serde_json::value::RawValue;

use super::daemon_json::{Entries, entries_of, indent_of, render_object};
use crate::secret::Secret;

pub const AUTHS: &str = "auths";
/// The key the docker CLI uses for Docker Hub's credentials.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The `auths` key for a registry host as the docker CLI looks it up.
pub fn auths_key(host: &str) -> String {
    if host == super::DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// The result of an edit: the new text when something changed; the keys set and removed; what
/// the file says that makes the CLI not use `auths` for a key (a credential helper).
#[derive(Debug)]
pub struct Edited {
    pub text: Option<String>,
    pub set: Vec<String>,
    pub removed: Vec<String>,
    pub notes: Vec<String>,
}

/// Sets `auths.<key>.auth` to each value of `set` (base64 of `user:password`), removes the
/// `auths` entries `remove` names (those regtrust wrote earlier that left the spec).
pub fn edit(
    existing: Option<&str>,
    set: &[(String, Secret)],
    remove: &[String],
) -> Result<Edited, String> {
    let mut entries = entries_of(existing, "the docker CLI")?;
    let indent = indent_of(existing, "\t");
    let at = entries.iter().rposition(|(k, _)| k == AUTHS);
    let mut auths: Vec<(String, Box<RawValue>)> = match at {
        Some(i) => {
            serde_json::from_str::<Entries>(entries[i].1.get())
                .map_err(|_| format!("`{AUTHS}` is not an object"))?
                .0
        }
        None => Vec::new(),
    };
    let mut changed_set = Vec::new();
    let mut removed = Vec::new();
    for key in remove {
        if set.iter().any(|(k, _)| k == key) {
            continue;
        }
        let before = auths.len();
        auths.retain(|(k, _)| k != key);
        if auths.len() != before {
            removed.push(key.clone());
        }
    }
    for (key, auth) in set {
        let current = auths.iter().rposition(|(k, _)| k == key);
        let same = current.is_some_and(|i| {
            serde_json::from_str::<serde_json::Value>(auths[i].1.get())
                .ok()
                .and_then(|v| v.get("auth").and_then(|a| a.as_str()).map(str::to_string))
                .is_some_and(|a| a == auth.expose())
        });
        if same {
            continue;
        }
        let value = format!(
            "{{\n{indent}{indent}{indent}\"auth\": {}\n{indent}{indent}}}",
            serde_json::to_string(auth.expose()).expect("a string serialises")
        );
        let value = RawValue::from_string(value).expect("an auth entry is JSON");
        match current {
            Some(i) => auths[i].1 = value,
            None => auths.push((key.clone(), value)),
        }
        changed_set.push(key.clone());
    }
    let notes = helper_notes(&entries, set);
    if changed_set.is_empty() && removed.is_empty() {
        return Ok(Edited {
            text: None,
            set: changed_set,
            removed,
            notes,
        });
    }
    match (at, auths.is_empty()) {
        (Some(i), true) => {
            entries.remove(i);
        }
        (None, true) => {}
        (at, false) => {
            let value = RawValue::from_string(nested(&auths, &indent)).expect("auths is JSON");
            match at {
                Some(i) => entries[i].1 = value,
                None => entries.push((AUTHS.to_string(), value)),
            }
        }
    }
    Ok(Edited {
        text: Some(render_object(&entries, &indent)),
        set: changed_set,
        removed,
        notes,
    })
}

/// An object at the second level of indentation, each value as its own text.
fn nested(entries: &[(String, Box<RawValue>)], indent: &str) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            format!(
                "{indent}{indent}{}: {}",
                serde_json::to_string(k).expect("a string serialises"),
                v.get()
            )
        })
        .collect();
    format!("{{\n{}\n{indent}}}", items.join(",\n"))
}

/// `credsStore` (every registry) and `credHelpers.<key>` make the CLI ask a helper instead of
/// reading `auths`: said for each key regtrust sets.
fn helper_notes(entries: &[(String, Box<RawValue>)], set: &[(String, Secret)]) -> Vec<String> {
    let value = |name: &str| {
        entries
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(v.get()).ok())
    };
    let store = value("credsStore")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|s| !s.is_empty());
    let helpers = value("credHelpers");
    let mut out = Vec::new();
    for (key, _) in set {
        let helper = helpers
            .as_ref()
            .and_then(|h| h.get(key))
            .and_then(|v| v.as_str())
            .map(|h| format!("credHelpers names docker-credential-{h} for {key}"))
            .or_else(|| {
                store
                    .as_ref()
                    .map(|s| format!("credsStore names docker-credential-{s}"))
            });
        if let Some(h) = helper {
            out.push(format!(
                "warning: docker: {h}: the docker CLI asks that helper and does not read the \
                 `auths` entry regtrust writes for {key}"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, auth: &str) -> Vec<(String, Secret)> {
        vec![(key.to_string(), Secret::new(auth.to_string()))]
    }

    #[test]
    fn a_new_file_then_idempotent_then_removed() {
        let e = edit(None, &set("r.test:5000", "dTpw"), &[]).unwrap();
        let text = e.text.unwrap();
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"r.test:5000\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t}\n\t}\n}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["auths"]["r.test:5000"]["auth"], "dTpw");
        assert_eq!(e.set, vec!["r.test:5000".to_string()]);
        let again = edit(Some(&text), &set("r.test:5000", "dTpw"), &[]).unwrap();
        assert!(again.text.is_none() && again.set.is_empty());
        let gone = edit(Some(&text), &[], &["r.test:5000".to_string()]).unwrap();
        assert_eq!(gone.text.as_deref(), Some("{}\n"));
        assert_eq!(gone.removed, vec!["r.test:5000".to_string()]);
    }

    #[test]
    fn other_keys_and_entries_are_kept() {
        let theirs = "{\n  \"auths\": {\n    \"other.test\": {\"auth\": \"b3RoZXI=\", \"email\": \"x@y\"},\n    \"r.test:5000\": {\"auth\": \"b2xk\"}\n  },\n  \"psFormat\": \"table {{.ID}}\"\n}\n";
        let e = edit(Some(theirs), &set("r.test:5000", "bmV3"), &[]).unwrap();
        let text = e.text.unwrap();
        assert_eq!(
            text,
            "{\n  \"auths\": {\n    \"other.test\": {\"auth\": \"b3RoZXI=\", \"email\": \"x@y\"},\n    \"r.test:5000\": {\n      \"auth\": \"bmV3\"\n    }\n  },\n  \"psFormat\": \"table {{.ID}}\"\n}\n"
        );
        // An entry that is not regtrust's is never removed: only the keys it is told.
        let e = edit(Some(&text), &[], &["r.test:5000".to_string()]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&e.text.unwrap()).unwrap();
        assert_eq!(v["auths"]["other.test"]["email"], "x@y");
        assert!(v["auths"].get("r.test:5000").is_none());
        assert_eq!(v["psFormat"], "table {{.ID}}");
    }

    #[test]
    fn credential_helpers_are_said_and_broken_files_refused() {
        let store = "{\"credsStore\": \"pass\"}";
        let e = edit(Some(store), &set("r.test:5000", "dTpw"), &[]).unwrap();
        assert_eq!(e.notes.len(), 1);
        assert!(
            e.notes[0].contains("docker-credential-pass"),
            "{:?}",
            e.notes
        );
        let helper = "{\"credHelpers\": {\"r.test:5000\": \"ecr-login\"}}";
        let e = edit(Some(helper), &set("r.test:5000", "dTpw"), &[]).unwrap();
        assert!(e.notes[0].contains("docker-credential-ecr-login for r.test:5000"));
        assert!(
            edit(Some("{\"auths\": []}"), &set("r", "x"), &[])
                .unwrap_err()
                .contains("not an object")
        );
        assert!(
            edit(Some("{"), &set("r", "x"), &[])
                .unwrap_err()
                .starts_with("not valid JSON")
        );
    }

    #[test]
    fn the_shared_redaction_hides_config_json_credentials() {
        let e = edit(
            Some("{\"auths\": {\"o\": {\"auth\": \"b3duOnB3\"}}}"),
            &set("r.test:5000", "c2VjcmV0OnB3"),
            &[],
        )
        .unwrap();
        let shown = crate::secret::redact(&e.text.unwrap());
        assert!(
            !shown.contains("c2VjcmV0OnB3") && !shown.contains("b3duOnB3"),
            "{shown}"
        );
        assert_eq!(
            shown.matches("\"auth\": \"<redacted>\"").count(),
            2,
            "{shown}"
        );
        assert_eq!(auths_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(auths_key("r.test:5000"), "r.test:5000");
    }
}
