//! Terraform: text outputs as `templatefile()` templates, and the plan as JSON.
use serde::Serialize;

use crate::plan::{Action, FileView, Plan, PlannedFile};

/// Escapes literal template syntax: `${` → `$${`, `%{` → `%%{`.
pub fn escape(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// Turns an escaped text into a template with the given variables: every occurrence of a
/// variable's value *as a whole value* — not inside a longer host, version or word (the text
/// around it is not a letter, digit, `.`, `:`, `_` or `-`) — becomes `${name}`, so
/// `templatefile(path, {name = value})` gives the text back and no other value changes.
pub fn templatize(escaped: &str, vars: &[(String, String)]) -> Result<String, String> {
    let mut out = escaped.to_string();
    for (name, value) in vars {
        let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(format!(
                "template variable `{name}` is not a Terraform identifier"
            ));
        }
        if value.is_empty() {
            return Err(format!("template variable `{name}` has an empty value"));
        }
        let needle = escape(value);
        let whole = whole_values(&out, &needle);
        if whole.is_empty() {
            return Err(format!(
                "template variable `{name}`: `{value}` does not occur in the output as a whole \
                 value (a host, a path component, a string) (with --encoding gz+b64 contents \
                 are encoded: use --encoding plain)"
            ));
        }
        let bytes = out.as_bytes();
        if whole
            .iter()
            .any(|&i| i > 0 && matches!(bytes[i - 1], b'$' | b'%'))
        {
            return Err(format!(
                "template variable `{name}`: `{value}` follows a `$` or `%` in the output, where \
                 `${{{name}}}` would read as an escape; choose another value"
            ));
        }
        out = replace_whole_values(&out, &needle, &format!("${{{name}}}"));
    }
    Ok(out)
}

/// Where `value` occurs in `text` as a whole value (a host, a path component, a string): not
/// inside a longer run of letters, digits, `.`, `:`, `_` and `-`.
pub fn whole_values(text: &str, value: &str) -> Vec<usize> {
    let value_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'_' | b'-');
    let bytes = text.as_bytes();
    text.match_indices(value)
        .map(|(i, _)| i)
        .filter(|&i| {
            let end = i + value.len();
            (i == 0 || !value_char(bytes[i - 1])) && (end == bytes.len() || !value_char(bytes[end]))
        })
        .collect()
}

/// `text` with every whole occurrence of `value` ([`whole_values`]) replaced by `with`.
pub fn replace_whole_values(text: &str, value: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for i in whole_values(text, value) {
        out.push_str(&text[last..i]);
        out.push_str(with);
        last = i + value.len();
    }
    out.push_str(&text[last..]);
    out
}

#[derive(Serialize)]
struct PlanJson<'a> {
    config_path: &'a str,
    containerd: Option<String>,
    files: Vec<FileJson<'a>>,
    actions: Vec<&'static str>,
    /// config.toml's credentials (`method: config`): host, username, which secret, and the
    /// secret itself (redacted unless shown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    config_credentials: Vec<CredentialJson>,
    /// Docker Engine's daemon.json entries (with docker among the runtimes): they must be merged
    /// into the node's daemon.json, after its own entries; its certs.d files are in `files`.
    #[serde(skip_serializing_if = "Option::is_none")]
    docker: Option<DockerJson<'a>>,
}

/// A planned file, with the runtime that reads it.
#[derive(Serialize)]
struct FileJson<'a> {
    #[serde(flatten)]
    file: FileView<'a>,
    runtime: &'static str,
}

#[derive(Serialize)]
struct DockerJson<'a> {
    daemon_json: DaemonJsonEntries<'a>,
}

#[derive(Serialize)]
struct DaemonJsonEntries<'a> {
    #[serde(rename = "insecure-registries")]
    insecure_registries: &'a [String],
    #[serde(rename = "registry-mirrors")]
    registry_mirrors: &'a [String],
}

/// The plan as JSON, for `jsondecode(file(...))`: files with path, mode ("0644") and content.
/// Credentials read `Basic <redacted>` unless `show_secrets`.
#[derive(serde::Serialize)]
struct CredentialJson {
    host: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    username: String,
    key: &'static str,
    value: String,
}

pub fn plan_json(plan: &Plan, show_secrets: bool) -> String {
    let redacted: Vec<String> = plan
        .files
        .iter()
        .map(|f| {
            if f.secret && !show_secrets {
                crate::secret::redact(&f.content)
            } else {
                String::new()
            }
        })
        .collect();
    let doc = PlanJson {
        config_path: &plan.config_path,
        containerd: plan.containerd.map(|v| v.to_string()),
        files: plan
            .files
            .iter()
            .zip(&redacted)
            .map(|(f, r)| {
                let mut v = PlannedFile::view(f);
                if f.secret && !show_secrets {
                    v.content = r;
                }
                FileJson {
                    file: v,
                    runtime: f.runtime.name(),
                }
            })
            .collect(),
        actions: plan
            .actions
            .iter()
            .map(|a| match a {
                Action::RestartContainerd => "restart-containerd",
            })
            .collect(),
        config_credentials: plan
            .credentials
            .iter()
            .map(|c| CredentialJson {
                host: c.host.clone(),
                username: c.username.clone(),
                key: crate::containerd::credentials::key(c.kind),
                value: if show_secrets {
                    c.secret.expose().to_string()
                } else {
                    crate::secret::REDACTED.to_string()
                },
            })
            .collect(),
        docker: plan.docker.as_ref().map(|d| DockerJson {
            daemon_json: DaemonJsonEntries {
                insecure_registries: &d.insecure_registries,
                registry_mirrors: &d.registry_mirrors,
            },
        }),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("plain data serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_template_syntax() {
        assert_eq!(
            escape("a ${b} %{c} $${d} $x %y"),
            "a $${b} %%{c} $$${d} $x %y"
        );
    }

    #[test]
    fn templatizes_values() {
        let vars = vec![("host".to_string(), "r.example:5000".to_string())];
        assert_eq!(
            templatize("server = \"http://r.example:5000\"", &vars).unwrap(),
            "server = \"http://${host}\""
        );
        assert!(
            templatize("nothing here", &vars)
                .unwrap_err()
                .contains("does not occur")
        );
        assert!(
            templatize("$r.example:5000", &vars)
                .unwrap_err()
                .contains("follows a `$`")
        );
        let bad = vec![("1x".to_string(), "a".to_string())];
        assert!(templatize("a", &bad).unwrap_err().contains("identifier"));
    }

    #[test]
    fn only_whole_values_become_variables() {
        // reg.lab:5000 is a prefix of reg.lab:50001: that other host must stay as it is.
        let text = "a /etc/containerd/certs.d/reg.lab:5000/hosts.toml \"http://reg.lab:5000\"\n\
                    b /etc/containerd/certs.d/reg.lab:50001/hosts.toml \"http://reg.lab:50001\"\n";
        let vars = vec![("reg".to_string(), "reg.lab:5000".to_string())];
        let out = templatize(text, &vars).unwrap();
        assert_eq!(out.matches("${reg}").count(), 2, "{out}");
        assert!(!out.contains("${reg}1"), "{out}");
        assert_eq!(out.matches("reg.lab:50001").count(), 2, "{out}");
        assert_eq!(out.replace("${reg}", "reg.lab:5000"), text);
        // Only inside other text: refused, not half-replaced.
        let vars = vec![("v".to_string(), "1.7".to_string())];
        let err = templatize("containerd 1.7.24 here\n", &vars).unwrap_err();
        assert!(err.contains("as a whole value"), "{err}");
    }
}
