//! Reads a spec file (YAML, or JSON — JSON is read by the same YAML 1.2 parser so that every
//! error carries a line and column) and validates it.
use crate::diag::Code;
use std::path::Path;

use super::model::RawSpec;
use super::valid::ValidSpec;
use super::validate::validate;
use crate::diag::{Diagnostic, Diagnostics, Pos};

/// Limit on the size of a spec file: far above any real spec, low enough to bound memory.
pub const MAX_SPEC_BYTES: usize = 64 * 1024 * 1024;

/// A validated spec plus the warnings validation produced.
#[derive(Debug)]
pub struct Loaded {
    pub spec: ValidSpec,
    pub warnings: Vec<Diagnostic>,
}

pub fn load_file(path: &Path) -> Result<Loaded, Diagnostics> {
    load_file_for(path, None)
}

/// [`load_file`] with the containerd version given outside the spec (see [`load_str_for`]).
pub fn load_file_for(
    path: &Path,
    version: Option<crate::containerd::Version>,
) -> Result<Loaded, Diagnostics> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics(vec![Diagnostic::error(
            Code::SpecUnreadable,
            &name,
            None,
            format!("cannot read the spec: {e}"),
        )])
    })?;
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(one(
            &name,
            None,
            Code::SpecTooLarge,
            format!(
                "the spec is {} bytes; the limit is {MAX_SPEC_BYTES}",
                bytes.len()
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col_of_byte(e.as_bytes(), e.utf8_error().valid_up_to());
        one(
            &name,
            Some(Pos { line, column }),
            Code::SpecNotUtf8,
            "the spec is not UTF-8 text".to_string(),
        )
    })?;
    load_str_for(&name, &text, version)
}

pub fn load_str(name: &str, text: &str) -> Result<Loaded, Diagnostics> {
    load_str_for(name, text, None)
}

/// Like [`load_str`], with the containerd version given outside the spec (`--containerd`),
/// which takes precedence over the spec's for the version-dependent rules.
pub fn load_str_for(
    name: &str,
    text: &str,
    version: Option<crate::containerd::Version>,
) -> Result<Loaded, Diagnostics> {
    // Every diagnostic carries the spec line it points at.
    match parse_and_validate(name, text, version) {
        Ok(mut l) => {
            l.warnings = Diagnostics(l.warnings).with_source(name, text).0;
            Ok(l)
        }
        Err(d) => Err(d.with_source(name, text)),
    }
}

fn parse_and_validate(
    name: &str,
    text: &str,
    version: Option<crate::containerd::Version>,
) -> Result<Loaded, Diagnostics> {
    let looks_json = name.ends_with(".json") || text.trim_start().starts_with('{');
    if looks_json {
        // JSON syntax errors are reported as JSON errors (not as YAML ones).
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err(one(
                name,
                Some(Pos {
                    line: e.line() as u64,
                    column: e.column() as u64,
                }),
                Code::SpecSyntax,
                format!("invalid JSON: {}", strip_json_position(&e.to_string())),
            ));
        }
    }
    let raw: RawSpec = serde_saphyr::from_str_with_options(text, parse_options()).map_err(|e| {
        let pos = e.location().map(|l| Pos {
            line: l.line(),
            column: l.column(),
        });
        let msg = describe_parse_error(&e);
        if msg.contains("unknown field") {
            // Every unknown key at once, each with a hint, not only the first one.
            let all = super::keys::unknown_keys(name, text);
            if !all.is_empty() {
                return Diagnostics(all);
            }
            return one(name, pos, Code::UnknownKey, msg);
        }
        one(name, pos, Code::SpecSyntax, msg)
    })?;
    let (spec, mut diags) = validate(name, raw, version);
    // Booleans written as strings, which the typed parse took as booleans.
    diags.extend(super::keys::quoted_booleans(name, text));
    diags.sort_by_key(|d| d.pos.map(|p| (p.line, p.column)));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(Diagnostics(diags));
    }
    Ok(Loaded {
        spec: spec.expect("no errors means a spec"),
        warnings: diags,
    })
}

/// Parser limits: room for specs of 100,000+ registries, while alias expansion, nesting depth
/// and the number of nodes stay bounded (a "billion laughs" spec is refused, not expanded).
pub(crate) fn parse_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 8_000_000;
    budget.max_nodes = 4_000_000;
    budget.max_documents = 1;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

fn describe_parse_error(e: &serde_saphyr::Error) -> String {
    let msg = e.without_snippet().to_string();
    // The crate's message may carry its own "at line X column Y"; ours is in front already.
    let msg = msg.lines().next().unwrap_or("").trim().to_string();
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    if msg.contains("Documents {") {
        return "the spec holds more than one YAML document (a `---` line starts a second one): \
                a spec is one document; merge them, or put each in its own spec file"
            .to_string();
    }
    if let Some(rest) = msg.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return format!(
            "the key `{key}` appears twice in the same mapping: each key may appear once; \
             remove one, or make it a separate list item (`- host: …`)"
        );
    }
    match msg.as_str() {
        "expected mapping start" => {
            return "expected a mapping (`key: value` lines) here, not a list or a single value"
                .to_string();
        }
        "expected sequence start" => {
            return "expected a list (`- item` lines) here, not a mapping or a single value"
                .to_string();
        }
        _ => {}
    }
    if msg.contains("budget breached") || msg.contains("RecordedAnchor") {
        // The limit that stopped the spec, in words (the parser's own name in parentheses).
        let kind = msg
            .split("budget breached: ")
            .nth(1)
            .unwrap_or(&msg)
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        let which = match kind {
            "Aliases" => "more than 10,000 aliases",
            "Anchors" => "more than 10,000 anchors",
            "Depth" | "InclusionDepth" => "nesting deeper than 64 levels",
            "Nodes" => "more than 4,000,000 YAML nodes",
            "Events" => "more than 8,000,000 parser events",
            "ScalarBytes" => "more scalar text than the parser allows (aliases expand into it)",
            "AliasAnchorRatio" => "far more aliases than anchors (an alias bomb)",
            _ if msg.contains("RecordedAnchor") => {
                "anchors that expand to more than the parser records (an alias bomb)"
            }
            _ => "a size the parser does not allow",
        };
        return format!(
            "the spec exceeds regtrust's parser limits: {which} ({msg}); the limits keep memory \
             bounded"
        );
    }
    if msg.contains("unknown field") {
        format!(
            "{msg}; unknown keys are errors (every key: `regtrust schema`, or docs/reference.md in the source)"
        )
    } else {
        msg
    }
}

fn strip_json_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn one(name: &str, pos: Option<Pos>, code: Code, message: String) -> Diagnostics {
    Diagnostics(vec![Diagnostic::error(code, name, pos, message)])
}

fn line_col_of_byte(bytes: &[u8], at: usize) -> (u64, u64) {
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() as u64 + 1;
    (line, col)
}
