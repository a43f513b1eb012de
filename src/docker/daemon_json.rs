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
pub(crate) struct Entries(pub(crate) Vec<(String, Box<RawValue>)>);

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

/// The result of an edit: the new text when something changed, and what was added and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: Option<String>,
    pub added: Vec<(&'static str, String)>,
    pub removed: Vec<(&'static str, String)>,
}

/// One list of daemon.json: entries to have (added once, after the file's own entries) and
/// entries to take out (those regtrust added earlier that left the spec). A list that ends up
/// empty stays, as `[]`: dockerd's reload changes only the keys the file has (measured on 28.5:
/// with the key gone, a SIGHUP keeps the old entries until dockerd restarts).
#[derive(Debug, Clone, Copy)]
pub struct ListEdit<'a> {
    pub key: &'static str,
    pub add: &'a [String],
    pub remove: &'a [String],
}

/// Adds `insecure` to `insecure-registries` and `mirrors` to `registry-mirrors` (each entry once,
/// after the file's own entries). `existing`: the file's text, None when there is no file.
/// Errors name what is wrong, without the file name (the caller adds it).
pub fn edit(
    existing: Option<&str>,
    insecure: &[String],
    mirrors: &[String],
) -> Result<Edited, String> {
    edit_lists(
        existing,
        &[
            ListEdit {
                key: INSECURE,
                add: insecure,
                remove: &[],
            },
            ListEdit {
                key: MIRRORS,
                add: mirrors,
                remove: &[],
            },
        ],
    )
}

/// The top-level entries of a JSON object text (None or blank: no entries), each value as its
/// own text. Errors say what is wrong, for any JSON file regtrust edits in place.
pub(crate) fn entries_of(
    existing: Option<&str>,
    what: &str,
) -> Result<Vec<(String, Box<RawValue>)>, String> {
    if existing.is_none_or(|t| t.trim().is_empty()) {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Entries>(existing.unwrap_or_default())
        .map(|e| e.0)
        .map_err(|e| {
            format!("not valid JSON ({e}); {what} refuses it too: fix it, then run regtrust apply")
        })
}

/// Applies each list edit; the file is rewritten (keeping every other value's own text) only
/// when an entry is added or removed.
pub fn edit_lists(existing: Option<&str>, lists: &[ListEdit]) -> Result<Edited, String> {
    let mut entries = entries_of(existing, "dockerd")?;
    let indent = indent_of(existing, "  ");
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for l in lists {
        let key = l.key;
        if l.add.is_empty() && l.remove.is_empty() {
            continue;
        }
        // Go's encoding/json (dockerd) takes the last of duplicate keys: so does this edit.
        let at = entries.iter().rposition(|(k, _)| k == key);
        let mut list: Vec<String> = match at {
            Some(i) => serde_json::from_str(entries[i].1.get())
                .map_err(|_| format!("`{key}` is not a list of strings"))?,
            None => Vec::new(),
        };
        let before = list.clone();
        list.retain(|e| {
            let drop = l.remove.contains(e) && !l.add.contains(e);
            if drop {
                removed.push((key, e.clone()));
            }
            !drop
        });
        for w in l.add {
            if !list.contains(w) {
                list.push(w.clone());
                added.push((key, w.clone()));
            }
        }
        if list == before {
            continue;
        }
        let rendered =
            RawValue::from_string(render_list(&list, &indent)).expect("a rendered list is JSON");
        match at {
            Some(i) => entries[i].1 = rendered,
            None => entries.push((key.to_string(), rendered)),
        }
    }
    if added.is_empty() && removed.is_empty() {
        return Ok(Edited {
            text: None,
            added,
            removed,
        });
    }
    Ok(Edited {
        text: Some(render_object(&entries, &indent)),
        added,
        removed,
    })
}

/// A top-level object, one key per line at one level of `indent`, each value as its own text.
pub(crate) fn render_object(entries: &[(String, Box<RawValue>)], indent: &str) -> String {
    if entries.is_empty() {
        return "{}\n".to_string();
    }
    let mut out = String::from("{\n");
    for (n, (k, v)) in entries.iter().enumerate() {
        let sep = if n + 1 < entries.len() { "," } else { "" };
        let key = serde_json::to_string(k).expect("a string serialises");
        out.push_str(&format!("{indent}{key}: {}{sep}\n", v.get()));
    }
    out.push_str("}\n");
    out
}

/// A list of strings, one per line, at the first level of indentation (`[]` when empty).
fn render_list(list: &[String], indent: &str) -> String {
    if list.is_empty() {
        return "[]".to_string();
    }
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

/// The file's indentation unit: the leading whitespace of its first indented key line
/// (`default` for a new file, or a file written on one line).
pub(crate) fn indent_of(text: Option<&str>, default: &str) -> String {
    text.unwrap_or_default()
        .lines()
        .find_map(|l| {
            let trimmed = l.trim_start_matches([' ', '\t']);
            let ws = &l[..l.len() - trimmed.len()];
            (!ws.is_empty() && trimmed.starts_with('"')).then(|| ws.to_string())
        })
        .unwrap_or_else(|| default.to_string())
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

    #[test]
    fn entries_regtrust_added_are_removed_and_the_users_kept() {
        let text = "{\n  \"debug\": true,\n  \"insecure-registries\": [\"mine:5000\", \"gone:5000\", \"kept:5000\"]\n}\n";
        let e = edit_lists(
            Some(text),
            &[ListEdit {
                key: INSECURE,
                add: &s(&["kept:5000"]),
                remove: &s(&["gone:5000", "kept:5000"]),
            }],
        )
        .unwrap();
        assert_eq!(
            e.text.as_deref(),
            Some(
                "{\n  \"debug\": true,\n  \"insecure-registries\": [\n    \"mine:5000\",\n    \"kept:5000\"\n  ]\n}\n"
            )
        );
        assert_eq!(e.removed, vec![(INSECURE, "gone:5000".to_string())]);
        assert!(e.added.is_empty());
        // A list left empty stays as `[]`, so that a reload empties dockerd's list too.
        let added = edit(Some("{\n  \"debug\": true\n}\n"), &s(&["a:5000"]), &[]).unwrap();
        let back = edit_lists(
            added.text.as_deref(),
            &[ListEdit {
                key: INSECURE,
                add: &[],
                remove: &s(&["a:5000"]),
            }],
        )
        .unwrap();
        assert_eq!(
            back.text.as_deref(),
            Some("{\n  \"debug\": true,\n  \"insecure-registries\": []\n}\n")
        );
        // Nothing of the record in the file: nothing to do.
        let none = edit_lists(
            Some(text),
            &[ListEdit {
                key: MIRRORS,
                add: &[],
                remove: &s(&["https://m.example"]),
            }],
        )
        .unwrap();
        assert_eq!(none.text, None);
    }
}
