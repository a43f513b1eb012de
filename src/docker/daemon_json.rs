//! The in-place edit of dockerd's daemon.json: entries are added to `insecure-registries` and
//! `registry-mirrors`; every other key, and every value regtrust does not touch, is kept as
//! written (its own text, in its own place), and the file's indentation is kept. A file that
//! needs nothing is left as it is (the caller writes nothing).
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

pub const INSECURE: &str = "insecure-registries";
pub const MIRRORS: &str = "registry-mirrors";

/// The top-level object of a daemon.json, key by key in the file's order, each value as its
/// own text.
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The result of an edit: the new text when something changed, and what was added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: Option<String>,
    pub added: Vec<(&'static str, String)>,
}

/// Adds `insecure` to `insecure-registries` and `mirrors` to `registry-mirrors` (each entry once,
/// after the file's own entries). `existing`: the file's text, None when there is no file.
/// Errors name what is wrong, without the file name (the caller adds it).
pub fn edit(
    existing: Option<&str>,
    insecure: &[String],
    mirrors: &[String],
) -> Result<Edited, String> {
    let blank = existing.is_none_or(|t| t.trim().is_empty());
    let mut entries = if blank {
        Vec::new()
    } else {
        let text = existing.unwrap_or_default();
        serde_json::from_str::<Entries>(text)
            .map_err(|e| {
                format!(
                    "not valid JSON ({e}); dockerd refuses it too: fix it, then run regtrust apply"
                )
            })?
            .0
    };
    let indent = indent_of(existing);
    let mut added = Vec::new();
    for (key, wanted) in [(INSECURE, insecure), (MIRRORS, mirrors)] {
        if wanted.is_empty() {
            continue;
        }
        // Go's encoding/json (dockerd) takes the last of duplicate keys: so does this edit.
        let at = entries.iter().rposition(|(k, _)| k == key);
        let mut list: Vec<String> = match at {
            Some(i) => serde_json::from_str(entries[i].1.get())
                .map_err(|_| format!("`{key}` is not a list of strings"))?,
            None => Vec::new(),
        };
        let before = list.len();
        for w in wanted {
            if !list.contains(w) {
                list.push(w.clone());
                added.push((key, w.clone()));
            }
        }
        if list.len() == before {
            continue;
        }
        let rendered =
            RawValue::from_string(render_list(&list, &indent)).expect("a rendered list is JSON");
        match at {
            Some(i) => entries[i].1 = rendered,
            None => entries.push((key.to_string(), rendered)),
        }
    }
    if added.is_empty() {
        return Ok(Edited { text: None, added });
    }
    let mut out = String::from("{\n");
    for (n, (k, v)) in entries.iter().enumerate() {
        let sep = if n + 1 < entries.len() { "," } else { "" };
        let key = serde_json::to_string(k).expect("a string serialises");
        out.push_str(&format!("{indent}{key}: {}{sep}\n", v.get()));
    }
    out.push_str("}\n");
    Ok(Edited {
        text: Some(out),
        added,
    })
}

/// A list of strings, one per line, at the first level of indentation.
fn render_list(list: &[String], indent: &str) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| {
            format!(
                "{indent}{indent}{}",
                serde_json::to_string(s).expect("serialises")
            )
        })
        .collect();
    format!("[\n{}\n{indent}]", items.join(",\n"))
}

/// The file's indentation unit: the leading whitespace of its first indented key line (two
/// spaces for a new file, or a file written on one line).
fn indent_of(text: Option<&str>) -> String {
    text.unwrap_or_default()
        .lines()
        .find_map(|l| {
            let trimmed = l.trim_start_matches([' ', '\t']);
            let ws = &l[..l.len() - trimmed.len()];
            (!ws.is_empty() && trimmed.starts_with('"')).then(|| ws.to_string())
        })
        .unwrap_or_else(|| "  ".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn other_keys_and_entries_are_kept_in_their_order() {
        let text = "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\"legacy.example:5000\"],\n    \"debug\": true\n}\n";
        let e = edit(Some(text), &s(&["my.private.registry:5000"]), &[]).unwrap();
        let new = e.text.unwrap();
        assert_eq!(
            new,
            "{\n    \"log-driver\": \"json-file\",\n    \"log-opts\": {\n        \"max-size\": \"10m\",\n        \"max-file\": \"3\"\n    },\n    \"insecure-registries\": [\n        \"legacy.example:5000\",\n        \"my.private.registry:5000\"\n    ],\n    \"debug\": true\n}\n"
        );
        assert_eq!(
            e.added,
            vec![(INSECURE, "my.private.registry:5000".to_string())]
        );
        // Idempotent: a second edit changes nothing.
        let again = edit(Some(&new), &s(&["my.private.registry:5000"]), &[]).unwrap();
        assert_eq!(again.text, None);
        assert!(again.added.is_empty());
    }

    #[test]
    fn a_new_file_and_a_new_key() {
        let e = edit(None, &s(&["a:5000"]), &s(&["https://m.example"])).unwrap();
        assert_eq!(
            e.text.unwrap(),
            "{\n  \"insecure-registries\": [\n    \"a:5000\"\n  ],\n  \"registry-mirrors\": [\n    \"https://m.example\"\n  ]\n}\n"
        );
        let tabs = "{\n\t\"debug\": true\n}\n";
        let e = edit(Some(tabs), &s(&["a:5000"]), &[]).unwrap();
        assert_eq!(
            e.text.unwrap(),
            "{\n\t\"debug\": true,\n\t\"insecure-registries\": [\n\t\t\"a:5000\"\n\t]\n}\n"
        );
        // Nothing wanted: nothing written, even for a file that does not exist.
        assert_eq!(edit(None, &[], &[]).unwrap().text, None);
    }

    #[test]
    fn what_is_refused() {
        let bad = edit(Some("{\"debug\": true,,}"), &s(&["a:5000"]), &[]).unwrap_err();
        assert!(
            bad.starts_with("not valid JSON (") && bad.contains("line 1"),
            "{bad}"
        );
        let not_object = edit(Some("[1]"), &s(&["a:5000"]), &[]).unwrap_err();
        assert!(not_object.contains("not valid JSON"), "{not_object}");
        let not_list = edit(Some("{\"insecure-registries\": \"a\"}"), &s(&["b"]), &[]).unwrap_err();
        assert_eq!(not_list, "`insecure-registries` is not a list of strings");
        // Even when nothing would be added, a broken file is reported.
        assert!(edit(Some("{"), &s(&["a"]), &[]).is_err());
    }
}
