//! The drop-in `registries.conf.d/50-regtrust.conf` (containers-registries.conf(5), v2), and
//! what a registries.conf file says about its own format (for doctor).
//!
//! The drop-in's header lists every other file regtrust wrote for containers-image (certs.d
//! files, auth.json entries): the next `apply` removes those that left the spec, and nothing
//! else.
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

use super::ContainersPlan;
use crate::containerd::layout::MANAGED_MARK;

/// Header line naming a file regtrust wrote (a node path).
const FILE_LINE: &str = "# regtrust-file: ";
/// Header line naming an auth.json entry regtrust wrote.
const AUTH_LINE: &str = "# regtrust-auth: ";

/// The drop-in's text: header (with the list of managed files and auth.json entries), then one
/// `[[registry]]` per registry, its mirrors in the spec's order.
pub fn render(plan: &ContainersPlan) -> String {
    let mut head = format!(
        "{MANAGED_MARK} `regtrust apply` rewrites this file and the files listed\n\
         # below, and removes those that leave the spec: edit the spec, not these files.\n\
         # containers-registries.conf(5), v2 format; read by Podman, Buildah and Skopeo on every\n\
         # run, by CRI-O at start and on `systemctl reload crio`.\n"
    );
    for f in &plan.files {
        head.push_str(FILE_LINE);
        head.push_str(&f.path);
        head.push('\n');
    }
    for a in &plan.auths {
        head.push_str(AUTH_LINE);
        head.push_str(&a.key);
        head.push('\n');
    }
    let mut doc = DocumentMut::new();
    let mut regs = ArrayOfTables::new();
    for r in &plan.registries {
        let mut t = Table::new();
        if r.prefix != r.location {
            t["prefix"] = value(&r.prefix);
        }
        t["location"] = value(&r.location);
        if r.insecure {
            t["insecure"] = value(true);
        }
        if !r.mirrors.is_empty() {
            let mut ms = ArrayOfTables::new();
            for m in &r.mirrors {
                let mut mt = Table::new();
                mt["location"] = value(&m.location);
                if m.insecure {
                    mt["insecure"] = value(true);
                }
                ms.push(mt);
            }
            t["mirror"] = Item::ArrayOfTables(ms);
        }
        regs.push(t);
    }
    if !regs.is_empty() {
        doc["registry"] = Item::ArrayOfTables(regs);
    }
    let body = doc.to_string();
    if body.is_empty() {
        head
    } else {
        format!("{head}\n{body}")
    }
}

/// What an earlier drop-in of regtrust's says it wrote: (files, auth.json keys). Empty for a
/// file regtrust did not write.
pub fn managed(text: &str) -> (Vec<String>, Vec<String>) {
    if !text.starts_with(MANAGED_MARK) {
        return (Vec::new(), Vec::new());
    }
    let mut files = Vec::new();
    let mut auths = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(p) = line.strip_prefix(FILE_LINE) {
            files.push(p.to_string());
        } else if let Some(k) = line.strip_prefix(AUTH_LINE) {
            auths.push(k.to_string());
        }
    }
    (files, auths)
}

/// The format a registries.conf file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `[registries.search]`, `[registries.insecure]`, `[registries.block]` tables.
    V1,
    /// `[[registry]]`, `unqualified-search-registries`, … (or nothing that says V1).
    V2,
}

/// Reads a registries.conf file's format (`Err`: it does not parse as TOML). A file with no
/// settings is `None`: containers-image accepts it next to either format.
pub fn format_of(text: &str) -> Result<Option<Format>, String> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        e.to_string().lines().next().unwrap_or("").to_string()
    })?;
    if doc.get("registries").is_some() {
        return Ok(Some(Format::V1));
    }
    Ok((!doc.is_empty()).then_some(Format::V2))
}

/// The `location` (or `prefix`) of every `[[registry]]` with `insecure = true` in a v2 file, and
/// every host of `[registries.insecure] registries` in a v1 file.
pub fn insecure_locations(text: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(list) = doc
        .get("registries")
        .and_then(|r| r.get("insecure"))
        .and_then(|i| i.get("registries"))
        .and_then(Item::as_array)
    {
        out.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    if let Some(regs) = doc.get("registry").and_then(Item::as_array_of_tables) {
        for t in regs.iter() {
            let name = t
                .get("prefix")
                .or_else(|| t.get("location"))
                .and_then(Item::as_str);
            if let Some(n) = name
                && t.get("insecure").and_then(Item::as_bool) == Some(true)
            {
                out.push(n.to_string());
            }
            if let Some(ms) = t.get("mirror").and_then(Item::as_array_of_tables) {
                for m in ms.iter() {
                    if let Some(l) = m.get("location").and_then(Item::as_str)
                        && m.get("insecure").and_then(Item::as_bool) == Some(true)
                    {
                        out.push(l.to_string());
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers_image::plan::{Mirror, RegistryEntry};

    #[test]
    fn the_drop_in_lists_registries_mirrors_in_order_and_its_files() {
        let plan = ContainersPlan {
            registries: vec![
                RegistryEntry {
                    prefix: "docker.io".into(),
                    location: "docker.io".into(),
                    insecure: false,
                    mirrors: vec![
                        Mirror {
                            location: "cache.test:5000".into(),
                            insecure: true,
                        },
                        Mirror {
                            location: "b.test".into(),
                            insecure: false,
                        },
                    ],
                },
                RegistryEntry {
                    prefix: "r.test".into(),
                    location: "real.test:8443".into(),
                    insecure: true,
                    mirrors: vec![],
                },
            ],
            files: vec![crate::plan::pem_file(
                "/etc/containers/certs.d/b.test/ca.crt",
                "PEM",
                0o644,
                crate::plan::FileKind::Certificate,
            )],
            auths: vec![],
            notes: vec![],
        };
        let text = render(&plan);
        let body = text.split_once("\n\n").unwrap().1;
        assert_eq!(
            body,
            "[[registry]]\nlocation = \"docker.io\"\n\n[[registry.mirror]]\nlocation = \
             \"cache.test:5000\"\ninsecure = true\n\n[[registry.mirror]]\nlocation = \
             \"b.test\"\n\n[[registry]]\nprefix = \"r.test\"\nlocation = \"real.test:8443\"\n\
             insecure = true\n"
        );
        assert_eq!(
            managed(&text),
            (
                vec!["/etc/containers/certs.d/b.test/ca.crt".to_string()],
                vec![]
            )
        );
        assert_eq!(format_of(&text), Ok(Some(Format::V2)));
        assert_eq!(
            insecure_locations(&text),
            vec!["cache.test:5000".to_string(), "r.test".to_string()]
        );
        assert_eq!(
            managed("# mine\n# regtrust-file: /etc/passwd\n"),
            (vec![], vec![])
        );
    }

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(
            format_of("[registries.insecure]\nregistries = ['a:5000']\n"),
            Ok(Some(Format::V1))
        );
        assert_eq!(
            insecure_locations("[registries.insecure]\nregistries = ['a:5000']\n"),
            vec!["a:5000".to_string()]
        );
        assert_eq!(
            format_of("unqualified-search-registries = ['docker.io']\n"),
            Ok(Some(Format::V2))
        );
        assert_eq!(format_of("# only comments\n"), Ok(None));
        assert!(format_of("[[registry]\n").is_err());
    }
}
