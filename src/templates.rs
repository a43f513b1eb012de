//! Prose-like text (header comments) from the minijinja templates under `templates/`.
use std::sync::OnceLock;

use minijinja::{Environment, Value};

const TEMPLATES: &[(&str, &str)] = &[
    ("hosts-header", include_str!("../templates/hosts-header.j2")),
    (
        "config-fragment",
        include_str!("../templates/config-fragment.j2"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
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
