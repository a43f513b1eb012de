//! regtrust's record of what it added for Docker Engine (`/etc/docker/regtrust-managed.json`):
//! the daemon.json entries, the certs.d files and the config.json `auths` entries it wrote.
//! daemon.json and config.json hold no comments, so the record is what tells regtrust's entries
//! from the ones their owner wrote: on the next apply, a recorded entry that left the spec is
//! removed, and an entry that is not recorded is never touched. An entry that was in the file
//! before regtrust wanted it is not recorded (it stays the owner's).
//!
//! An apply killed midway must not lose track of anything: before it changes any file it writes
//! the union of what it owned and what it will own (`regtrust-managed.pending.json`); the record
//! is the last file it changes, and the pending file is removed after it. A run that finds a
//! pending file owns what the record and the pending file name together, and finishes the job.
use serde::{Deserialize, Serialize};

/// What the record says about itself, in the file.
pub const COMMENT: &str = "Written by regtrust: what it added for Docker Engine. On the next \
                       regtrust apply, an entry listed here that left the spec is removed; \
                       entries not listed here are never touched.";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Managed {
    /// What the record is, for whoever opens the file (set by [`Managed::render`]).
    #[serde(default)]
    pub comment: String,
    #[serde(rename = "insecure-registries", default)]
    pub insecure_registries: Vec<String>,
    #[serde(rename = "registry-mirrors", default)]
    pub registry_mirrors: Vec<String>,
    /// Node paths of the certs.d files regtrust wrote.
    #[serde(rename = "certs.d", default)]
    pub certs_d: Vec<String>,
    /// The keys of root's config.json `auths` regtrust wrote (credentials are not recorded).
    #[serde(default)]
    pub auths: Vec<String>,
}

impl Managed {
    /// The record in `text` (None: no record, nothing is regtrust's yet).
    pub fn parse(text: Option<&str>) -> Result<Managed, String> {
        match text {
            None => Ok(Managed::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| {
                format!(
                    "not regtrust's record ({e}): restore it from regtrust's last run, or remove \
                     it (then regtrust takes every entry as the owner's and removes none)"
                )
            }),
        }
    }

    /// Everything either record names.
    pub fn union(&self, other: &Managed) -> Managed {
        let join = |a: &[String], b: &[String]| -> Vec<String> {
            let mut v = a.to_vec();
            v.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            v
        };
        Managed {
            comment: String::new(),
            insecure_registries: join(&self.insecure_registries, &other.insecure_registries),
            registry_mirrors: join(&self.registry_mirrors, &other.registry_mirrors),
            certs_d: join(&self.certs_d, &other.certs_d),
            auths: join(&self.auths, &other.auths),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.insecure_registries.is_empty()
            && self.registry_mirrors.is_empty()
            && self.certs_d.is_empty()
            && self.auths.is_empty()
    }

    /// The record's text (sorted lists: the same record is the same text).
    pub fn render(&self) -> String {
        let mut m = self.clone();
        m.comment = COMMENT.to_string();
        for l in [
            &mut m.insecure_registries,
            &mut m.registry_mirrors,
            &mut m.certs_d,
            &mut m.auths,
        ] {
            l.sort();
            l.dedup();
        }
        let mut s = serde_json::to_string_pretty(&m).expect("a record serialises");
        s.push('\n');
        s
    }
}

/// What regtrust owns after this run, of one list: what it wants that it owned already or adds
/// now. An entry the file had before regtrust wanted it is not regtrust's.
pub fn owned_after(wanted: &[String], owned: &[String], added: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| owned.contains(w) || added.contains(w))
        .cloned()
        .collect()
}

/// The entries regtrust owned that it no longer wants: removed from the file.
pub fn to_remove(wanted: &[String], owned: &[String]) -> Vec<String> {
    owned
        .iter()
        .filter(|o| !wanted.contains(o))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_record_reads_back_and_says_what_it_is() {
        let m = Managed {
            insecure_registries: s(&["b:5000", "a:5000"]),
            certs_d: s(&["/etc/docker/certs.d/h/ca.crt"]),
            ..Managed::default()
        };
        let text = m.render();
        assert!(
            text.contains("\"comment\": \"Written by regtrust"),
            "{text}"
        );
        let back = Managed::parse(Some(&text)).unwrap();
        assert_eq!(back.insecure_registries, s(&["a:5000", "b:5000"]));
        assert_eq!(back.certs_d, m.certs_d);
        assert_eq!(back.render(), text);
        assert!(Managed::parse(None).unwrap().is_empty());
        let bad = Managed::parse(Some("{\"insecure\": 1}")).unwrap_err();
        assert!(bad.starts_with("not regtrust's record"), "{bad}");
    }

    #[test]
    fn ownership_is_what_regtrust_added() {
        // "users:5000" was in the file before the spec wanted it: never regtrust's.
        let wanted = s(&["users:5000", "ours:5000", "new:5000"]);
        let owned = s(&["ours:5000", "gone:5000"]);
        let added = s(&["new:5000"]);
        assert_eq!(
            owned_after(&wanted, &owned, &added),
            s(&["ours:5000", "new:5000"])
        );
        assert_eq!(to_remove(&wanted, &owned), s(&["gone:5000"]));
    }
}
