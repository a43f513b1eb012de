//! How config.toml carries registry credentials (`auth.method: config`): CRI's
//! `registry.configs."host".auth` tables, which regtrust appends at the end of the file, each
//! after a marker comment. The text of those blocks is defined here once: `apply`'s patch writes
//! it, the boot scripts' awk edit writes the same bytes (from a file the outputs carry, with the
//! plugin name left as [`PLUGIN_PLACEHOLDER`]), and both take the blocks a previous run wrote
//! off the end of the file before anything else (so a re-run is byte-stable, and credentials
//! that left the spec leave the file).
use crate::plan::ConfigCredential;
use crate::spec::SecretKind;

/// The comment line before every credentials table regtrust writes: the marker, then the host.
pub const MARK: &str = "# regtrust: credentials for ";

/// In the boot outputs' credentials file, the registry plugin's name (decided on the node from
/// the file's `version`).
pub const PLUGIN_PLACEHOLDER: &str = "@PLUGIN@";

/// One credential's text: a blank line, the marker, the table.
pub fn block(plugin: &str, c: &ConfigCredential) -> String {
    let mut b = format!(
        "\n{MARK}{host}\n[plugins.{p}.registry.configs.{h}.auth]\n",
        host = c.host,
        p = basic_string(plugin),
        h = basic_string(&c.host)
    );
    if !c.username.is_empty() {
        b.push_str(&format!("  username = {}\n", basic_string(&c.username)));
    }
    b.push_str(&format!(
        "  {} = {}\n",
        key(c.kind),
        basic_string(c.secret.expose())
    ));
    b
}

/// The key of the secret in the `auth` table.
pub fn key(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "password",
        SecretKind::IdentityToken => "identitytoken",
    }
}

/// A TOML basic string: `"`, `\` and control characters escaped.
pub fn basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` without the credentials blocks a previous run appended: from the blank line before the
/// first marker to the end, when that part is only such blocks. `Ok(None)`: no marker.
/// `Err`: a marker, but other text after it (someone edited the end of the file).
pub fn strip_ours(text: &str) -> Result<Option<&str>, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let bare = |l: &str| l.trim_end_matches('\n').trim_end_matches('\r').to_string();
    let Some(first) = lines.iter().position(|l| bare(l).starts_with(MARK)) else {
        return Ok(None);
    };
    let bad = || {
        format!(
            "text after regtrust's credentials tables (the `{}…` blocks at the end of the file): \
             keep them last, or remove them",
            MARK.trim_end()
        )
    };
    if first == 0 || !bare(lines[first - 1]).is_empty() {
        return Err(bad());
    }
    // (blank) marker header [username] secret, repeated.
    let mut i = first - 1;
    while i < lines.len() {
        let l = |k: usize| lines.get(k).map(|l| bare(l));
        let ok = l(i).as_deref() == Some("")
            && l(i + 1).is_some_and(|m| m.starts_with(MARK))
            && l(i + 2).is_some_and(|h| h.starts_with("[plugins.") && h.ends_with(".auth]"));
        if !ok {
            return Err(bad());
        }
        i += 3;
        if l(i).is_some_and(|u| u.starts_with("  username = \"")) {
            i += 1;
        }
        let secret = l(i).is_some_and(|s| {
            (s.starts_with("  password = \"") || s.starts_with("  identitytoken = \""))
                && s.ends_with('"')
        });
        if !secret {
            return Err(bad());
        }
        i += 1;
    }
    let keep: usize = lines[..first - 1].iter().map(|l| l.len()).sum();
    Ok(Some(&text[..keep]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn blocks_strip_back_to_the_text_before_them() {
        let c = |host: &str, user: &str, kind, s: &str| ConfigCredential {
            host: host.into(),
            url: format!("https://{host}"),
            username: user.into(),
            kind,
            secret: Secret::new(s.into()),
        };
        let base = "version = 2\n# a comment the user keeps\n";
        let text = format!(
            "{base}{}{}",
            block(
                "io.containerd.grpc.v1.cri",
                &c("a:5000", "u", SecretKind::Password, "p\"\\")
            ),
            block("x", &c("b", "", SecretKind::IdentityToken, "t"))
        );
        assert!(text.contains("  password = \"p\\\"\\\\\"\n"), "{text}");
        assert_eq!(strip_ours(&text), Ok(Some(base)));
        assert_eq!(strip_ours(base), Ok(None));
        assert!(strip_ours(&format!("{text}x = 1\n")).is_err());
        assert!(
            strip_ours(&format!(
                "{base}{}",
                &block("x", &c("b", "", SecretKind::Password, "t"))[1..]
            ))
            .is_err()
        );
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(
            strip_ours(&crlf),
            Ok(Some(base.replace('\n', "\r\n").as_str()))
        );
    }
}
