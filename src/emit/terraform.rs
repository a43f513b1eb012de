//! Terraform: text outputs as `templatefile()` templates, and the plan as JSON.
use serde::Serialize;

use crate::plan::{Action, FileView, Plan, PlannedFile};

/// Escapes literal template syntax: `${` → `$${`, `%{` → `%%{`.
pub fn escape(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// Turns an escaped text into a template with the given variables: every occurrence of a
/// variable's value becomes `${name}`, so `templatefile(path, {name = value})` gives the text back.
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
        let occurrences: Vec<usize> = out.match_indices(&needle).map(|(i, _)| i).collect();
        if occurrences.is_empty() {
            return Err(format!(
                "template variable `{name}`: `{value}` does not occur in the output (with \
                 --encoding gz+b64 contents are encoded: use --encoding plain)"
            ));
        }
        if occurrences
            .iter()
            .any(|&i| i > 0 && matches!(out.as_bytes()[i - 1], b'$' | b'%'))
        {
            return Err(format!(
                "template variable `{name}`: `{value}` follows a `$` or `%` in the output, where \
                 `${{{name}}}` would read as an escape; choose another value"
            ));
        }
        out = out.replace(&needle, &format!("${{{name}}}"));
    }
    Ok(out)
}

#[derive(Serialize)]
struct PlanJson<'a> {
    config_path: &'a str,
    containerd: Option<String>,
    files: Vec<FileView<'a>>,
    actions: Vec<&'static str>,
}

/// The plan as JSON, for `jsondecode(file(...))`: files with path, mode ("0644") and content.
pub fn plan_json(plan: &Plan) -> String {
    let doc = PlanJson {
        config_path: &plan.config_path,
        containerd: plan.containerd.map(|v| v.to_string()),
        files: plan.files.iter().map(PlannedFile::view).collect(),
        actions: plan
            .actions
            .iter()
            .map(|a| match a {
                Action::RestartContainerd => "restart-containerd",
            })
            .collect(),
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
}
