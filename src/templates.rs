//! Prose-like text (header comments) from the minijinja templates under `templates/`.
use std::sync::OnceLock;

use minijinja::{Environment, Value};

use crate::containerd::ConfigLayout;

const TEMPLATES: &[(&str, &str)] = &[
    ("hosts-header", include_str!("../templates/hosts-header.j2")),
    (
        "config-fragment",
        include_str!("../templates/config-fragment.j2"),
    ),
    (
        "cloud-config",
        include_str!("../templates/cloud-config.yaml.j2"),
    ),
    (
        "patch-config-body.sh",
        include_str!("../templates/patch-config-body.sh.j2"),
    ),
    ("installer.sh", include_str!("../templates/installer.sh.j2")),
    (
        "docker-merge.py",
        include_str!("../templates/docker-merge.py.j2"),
    ),
    (
        "docker-merge.sh",
        include_str!("../templates/docker-merge.sh.j2"),
    ),
    ("sh-common.sh", include_str!("../templates/sh-common.sh.j2")),
    (
        "detect-containerd.sh",
        include_str!("../templates/detect-containerd.sh.j2"),
    ),
    (
        "patch-config.sh",
        include_str!("../templates/patch-config.sh.j2"),
    ),
    ("put-file.sh", include_str!("../templates/put-file.sh.j2")),
    (
        "runtimes-detect.sh",
        include_str!("../templates/runtimes-detect.sh.j2"),
    ),
    (
        "runtimes-body.sh",
        include_str!("../templates/runtimes-body.sh.j2"),
    ),
    ("runtimes.sh", include_str!("../templates/runtimes.sh.j2")),
];

/// Quotes a value for POSIX sh: the one quoting function every value entering shell goes through.
pub fn shell_quote(s: &str) -> String {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/._-:=+@%,".contains(&b);
    if !s.is_empty() && s.bytes().all(plain) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_filter("shell", |s: String| shell_quote(&s));
        // The config.toml edit of the boot scripts, included verbatim (no template syntax).
        env.add_global("plugin_v2", ConfigLayout::V2.cri_plugin());
        env.add_global("plugin_v3", ConfigLayout::V3.cri_plugin());
        env.add_global(
            "config_edit_awk",
            Value::from(include_str!("../templates/config-edit.awk").trim_end()),
        );
        for (n, src) in TEMPLATES {
            env.add_template(n, src).expect("shipped template parses");
        }
        env
    })
}

/// Renders a template shipped in the binary; the templates are fixed, so failure is a bug.
pub fn render(name: &str, ctx: Value) -> String {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .expect("shipped template renders")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awk_program_can_sit_inside_single_quotes() {
        // The boot scripts pass it to awk as one single-quoted shell word.
        let awk = include_str!("../templates/config-edit.awk");
        let at = awk.lines().position(|l| l.contains('\''));
        assert_eq!(
            at,
            None,
            "config-edit.awk line {:?} has a single quote",
            at.map(|i| i + 1)
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(
            shell_quote("/etc/containerd/certs.d"),
            "/etc/containerd/certs.d"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $x"), "'it'\\''s $x'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn every_line_of_a_header_is_a_toml_comment() {
        for origin in ["spec", "migrated"] {
            let h = render(
                "hosts-header",
                minijinja::context! { origin, host => "a:5000", legacy => "mirrors" },
            );
            assert!(!h.is_empty());
            assert!(h.lines().all(|l| l.starts_with("# ")), "{h}");
        }
    }
}
