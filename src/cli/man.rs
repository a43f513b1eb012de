//! `regtrust man`: one page that covers every command and its options, the registry spec's keys
//! (read from the JSON Schema, so it cannot drift from what `check` accepts), the exit codes and
//! examples. (No per-command pages are referenced: none are installed.)
use std::fmt::Write as _;

use clap::CommandFactory;

use super::args::Cli;
use crate::error::exit;

/// roff-escapes text for a man page body.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    // roff reads its input as Latin-1: dashes and quotes by name, anything else as \[uXXXX].
    let s: String = s
        .chars()
        .map(|c| match c {
            '\u{2014}' => "\\(em".to_string(),
            '\u{2013}' => "\\(en".to_string(),
            '\u{2192}' => "\\(->".to_string(),
            c if c.is_ascii() => c.to_string(),
            c => format!("\\[u{:04X}]", c as u32),
        })
        .collect();
    // A line starting with . or ' would be a roff request.
    s.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn options(out: &mut String, cmd: &clap::Command) {
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let mut head = String::new();
        if let Some(s) = a.get_short() {
            let _ = write!(head, "\\fB\\-{s}\\fR");
        }
        if let Some(l) = a.get_long() {
            if !head.is_empty() {
                head.push_str(", ");
            }
            let _ = write!(head, "\\fB\\-\\-{}\\fR", esc(l));
        }
        let takes_value = a.get_num_args().is_some_and(|n| n.takes_values());
        if let Some(names) = a.get_value_names().filter(|_| takes_value) {
            for n in names {
                if head.is_empty() {
                    let _ = write!(head, "\\fI{}\\fR", esc(n));
                } else {
                    let _ = write!(head, " \\fI{}\\fR", esc(n));
                }
            }
        }
        let mut help = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let values: Vec<String> = a
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() && takes_value && !a.is_hide_possible_values_set() {
            if !help.is_empty() {
                help.push_str(". ");
            }
            help.push_str(&format!("One of: {}", values.join(", ")));
        }
        let _ = writeln!(out, ".TP\n{head}\n{}", esc(&help));
    }
}

fn command(out: &mut String, path: &str, cmd: &clap::Command) {
    if cmd.get_name() == "help" {
        return;
    }
    let name = format!("{path} {}", cmd.get_name());
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands() {
            command(out, &name, sub);
        }
        return;
    }
    let _ = writeln!(out, ".SS \"{}\"", esc(&name));
    if let Some(about) = cmd.get_about() {
        let _ = writeln!(out, "{}", esc(&about.to_string()));
    }
    options(out, cmd);
    if let Some(after) = cmd.get_after_help() {
        let _ = writeln!(out, ".PP\n.nf\n{}\n.fi", esc(&after.to_string()));
    }
}

/// One line per key of the spec: `path` — type — description, from the JSON Schema.
fn spec_keys(out: &mut String) {
    let schema: serde_json::Value =
        serde_json::from_str(&crate::spec::model::json_schema()).expect("the schema is JSON");
    let defs = &schema["$defs"];
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        let mut v = v.clone();
        // Option<T> is `anyOf [T, null]`; lists hold `items`.
        for _ in 0..4 {
            if let Some(r) = v.get("$ref").and_then(|r| r.as_str()) {
                v = defs[r.trim_start_matches("#/$defs/")].clone();
            } else if let Some(any) = v.get("anyOf").and_then(|a| a.as_array()) {
                match any.iter().find(|x| x.get("type") != Some(&"null".into())) {
                    Some(x) => v = x.clone(),
                    None => break,
                }
            } else if let Some(items) = v.get("items") {
                if items.get("properties").is_some() || items.get("$ref").is_some() {
                    v = items.clone();
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        v
    };
    fn walk(
        out: &mut String,
        prefix: &str,
        node: &serde_json::Value,
        resolve: &dyn Fn(&serde_json::Value) -> serde_json::Value,
        depth: usize,
    ) {
        let Some(props) = node.get("properties").and_then(|p| p.as_object()) else {
            return;
        };
        for (key, prop) in props {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let desc = prop
                .get("description")
                .and_then(|d| d.as_str())
                .unwrap_or("")
                .replace('\n', " ");
            let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", esc(&path), esc(&desc));
            let inner = resolve(prop);
            if depth < 3 {
                walk(out, &path, &inner, resolve, depth + 1);
            }
        }
    }
    walk(out, "", &schema, &resolve, 0);
}

/// The whole page, roff.
pub fn page() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let version = env!("CARGO_PKG_VERSION");
    let mut out = String::new();
    let _ = writeln!(
        out,
        ".TH regtrust 1 \"\" \"regtrust {version}\" \"User Commands\""
    );
    let _ = writeln!(
        out,
        ".SH NAME\nregtrust \\- {}",
        esc(&cmd.get_about().map(|a| a.to_string()).unwrap_or_default())
    );
    let _ = writeln!(
        out,
        ".SH SYNOPSIS\n\\fBregtrust\\fR \\fICOMMAND\\fR [\\fIOPTIONS\\fR]"
    );
    let _ = writeln!(
        out,
        ".SH DESCRIPTION\nregtrust reads one registry spec (YAML or JSON) and renders or applies \
         everything a node needs to trust those registries: certs.d/<host>/hosts.toml files and \
         the config_path setting of containerd's config.toml, as cloud\\-init user\\-data, an \
         installer script, an Ignition config, Terraform input, or in place on a node or image \
         root (\\fBapply\\fR). \\fBdoctor\\fR diagnoses a node; \\fBmigrate\\fR and \
         \\fBimport k3s\\fR turn older settings into a spec."
    );
    let _ = writeln!(out, ".SH COMMANDS");
    for sub in cmd.get_subcommands() {
        command(&mut out, "regtrust", sub);
    }
    let _ = writeln!(
        out,
        ".SH THE REGISTRY SPEC\nEvery key (unknown keys are errors; \\fBregtrust schema\\fR prints the \
         JSON Schema). \\fIregistries\\fR is a list: its keys apply to each item, and \
         \\fIregistries.endpoints\\fR likewise."
    );
    spec_keys(&mut out);
    let _ = writeln!(
        out,
        ".SH EXIT STATUS\n.TP\n{}\nsuccess: done, in sync, no problems\n.TP\n{}\ndrift \
         (\\fBapply \\-\\-check\\fR) or problems found (\\fBdoctor\\fR)\n.TP\n{}\nthe spec or the \
         arguments are invalid (every problem is printed with file, line and column; nothing is \
         written)\n.TP\n{}\nthe node or image could not be read or written (I/O, an unparsable \
         config.toml, an unknown containerd version); nothing is written",
        exit::OK,
        exit::DRIFT,
        exit::INVALID,
        exit::FAILED
    );
    let _ = writeln!(
        out,
        ".SH EXAMPLES\n.nf\nregtrust check \\-\\-spec registries.yaml\nregtrust apply \\-\\-spec \
         registries.yaml \\-\\-dry\\-run\nregtrust apply \\-\\-spec registries.yaml \\-\\-root \
         /mnt/image \\-\\-containerd 1.7\nregtrust render \\-\\-spec registries.yaml \\-\\-target \
         cloud\\-init > user\\-data.yaml\nregtrust doctor \\-\\-probe \\-\\-image \
         my.private.registry:5000/app:1\nregtrust migrate \\-\\-emit\\-spec registries.yaml\n.fi"
    );
    let _ = writeln!(
        out,
        ".SH SEE ALSO\n\\fBcontainerd\\fR(8), \\fBcontainerd\\-config.toml\\fR(5)"
    );
    out
}
