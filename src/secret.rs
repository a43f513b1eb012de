//! Secrets: a value that never prints itself, the HTTP Basic credential regtrust writes into
//! hosts.toml, and the redaction every printed text goes through (diffs, the plan as JSON,
//! diagnostic excerpts). Redaction works on the text, not on a list of known values, so a
//! credential from an earlier run (the old side of a diff) is hidden too.
use std::fmt;

use base64::Engine as _;

/// What a redacted credential reads as.
pub const REDACTED: &str = "<redacted>";

/// A password or a token. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, for the one place that writes it (the hosts.toml header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({REDACTED})")
    }
}

/// `Basic base64(user:password)`, the `Authorization` value of HTTP Basic auth (RFC 7617).
pub fn basic_authorization(username: &str, password: &Secret) -> String {
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{username}:{}", password.expose()));
    format!("Basic {token}")
}

/// The credential schemes whose token follows the scheme name.
const SCHEMES: &[&str] = &["basic", "bearer"];

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=._~-".contains(&b)
}

/// The keys whose quoted value is a secret in config.toml (`registry.configs."h".auth`) and in
/// JSON: `password = "…"`, `identitytoken = "…"`, `auth = "…"` (base64 of user:password).
const SECRET_KEYS: &[&str] = &["password", "identitytoken", "auth"];

/// `text` with the token of every `Basic …` / `Bearer …` credential on a line that names an
/// `Authorization` header, and the quoted value of every `password`, `identitytoken` and `auth`
/// key (TOML `key = "…"`, JSON `"key": "…"`), replaced by `<redacted>`.
pub fn redact(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("authorization") && !SECRET_KEYS.iter().any(|k| lower.contains(k)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let line = redact_keys(line);
        if line.to_ascii_lowercase().contains("authorization") {
            out.push_str(&redact_line(&line));
        } else {
            out.push_str(&line);
        }
    }
    out
}

/// The quoted value after `password`, `identitytoken` or `auth` (a whole key, then `=` or `:`)
/// replaced by `<redacted>`.
fn redact_keys(line: &str) -> String {
    let bytes = line.as_bytes();
    let lower = line.to_ascii_lowercase();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    for key in SECRET_KEYS {
        let mut from = 0;
        while let Some(i) = lower[from..].find(key).map(|i| i + from) {
            from = i + key.len();
            if i > 0 && word(bytes[i - 1]) || bytes.get(from).is_some_and(|b| word(*b)) {
                continue;
            }
            let mut j = from;
            let skip = |j: &mut usize, set: &[u8]| {
                while bytes.get(*j).is_some_and(|b| set.contains(b)) {
                    *j += 1;
                }
            };
            skip(&mut j, b"\"' \t");
            if !matches!(bytes.get(j), Some(b'=' | b':')) {
                continue;
            }
            j += 1;
            skip(&mut j, b" \t");
            let Some(&q) = bytes.get(j).filter(|b| **b == b'"' || **b == b'\'') else {
                continue;
            };
            let start = j + 1;
            let mut k = start;
            while k < bytes.len() && bytes[k] != q && bytes[k] != b'\n' {
                k += if q == b'"' && bytes[k] == b'\\' { 2 } else { 1 };
            }
            let end = k.min(bytes.len());
            if line[start..end] == *REDACTED {
                continue;
            }
            let mut out = String::with_capacity(line.len());
            out.push_str(&line[..start]);
            out.push_str(REDACTED);
            out.push_str(&line[end..]);
            return redact_keys(&out);
        }
    }
    line.to_string()
}

fn redact_line(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let scheme = SCHEMES.iter().find(|s| {
            lower[i..].starts_with(*s)
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                && bytes.get(i + s.len()) == Some(&b' ')
        });
        if let Some(s) = scheme {
            let mut j = i + s.len();
            while bytes.get(j) == Some(&b' ') {
                j += 1;
            }
            let start = j;
            while bytes.get(j).is_some_and(|b| is_token_byte(*b)) {
                j += 1;
            }
            out.push_str(&line[i..start]);
            if j > start {
                out.push_str(REDACTED);
            }
            i = j;
            continue;
        }
        let ch = line[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Whether a line of a spec or a config may hold a credential: an inline `password`, an
/// `Authorization` header. Diagnostics then show no excerpt of it (the position stays).
pub fn line_may_hold_secret(line: &str) -> bool {
    let l = line.to_ascii_lowercase();
    // `username: user:password`, a likely mistake.
    if let Some((_, value)) = l.split_once("username") {
        let value = value.trim_start_matches(['"', '\'', ' ']);
        if value
            .strip_prefix(':')
            .is_some_and(|v| v.split([',', '}']).next().unwrap_or("").contains(':'))
        {
            return true;
        }
    }
    ["password:", "password\"", "password'", "password :"]
        .iter()
        .any(|k| l.contains(k))
        || l.contains("authorization")
        || SCHEMES.iter().any(|s| l.contains(&format!("{s} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_base64_of_user_colon_password() {
        let s = Secret::new("p@ss word".into());
        assert_eq!(
            basic_authorization("alice", &s),
            "Basic YWxpY2U6cEBzcyB3b3Jk"
        );
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn redaction_hides_every_token_and_keeps_the_rest() {
        let text = "server = \"http://r:5000\"\n[host.\"http://r:5000\".header]\n  \
                    Authorization = [\"Basic YWxpY2U6cEBzcyB3b3Jk\"]\n\
                    -  authorization = \"bearer abc.def-ghi\"\nbasic settings\n";
        let r = redact(text);
        assert!(!r.contains("YWxpY2U6cEBzcyB3b3Jk"), "{r}");
        assert!(!r.contains("abc.def-ghi"), "{r}");
        assert!(r.contains("Authorization = [\"Basic <redacted>\"]"), "{r}");
        assert!(r.contains("\"bearer <redacted>\""), "{r}");
        assert!(r.contains("basic settings"), "{r}");
        assert_eq!(redact("no credentials\n"), "no credentials\n");
        assert_eq!(redact(&r), r, "idempotent");
    }

    #[test]
    fn config_toml_and_json_credentials_are_redacted() {
        let text = "[plugins.\"x\".registry.configs.\"h\".auth]\n  username = \"alice\"\n  \
                    password = \"p\\\"w\\\\d\"\n+ identitytoken = 'tok-123'\n\
                    auth = \"YWxpY2U6cHc=\"\n{\"password\": \"j-s\", \"password_file\": \"/f\"}\n";
        let r = redact(text);
        for s in ["p\\\"w", "tok-123", "YWxpY2U6cHc=", "j-s"] {
            assert!(!r.contains(s), "{s} in {r}");
        }
        assert!(r.contains("username = \"alice\""), "{r}");
        assert!(r.contains("password = \"<redacted>\"\n"), "{r}");
        assert!(r.contains("\"password_file\": \"/f\""), "{r}");
        assert_eq!(redact(&r), r, "idempotent");
    }

    #[test]
    fn lines_with_credentials_are_recognised() {
        for l in [
            "    password: hunter2",
            "{\"password\": \"x\"}",
            "  Authorization: Basic abc",
            "      username: alice:hunter2",
            "    auth: {username: \"alice:hunter2\", password_env: X}",
        ] {
            assert!(line_may_hold_secret(l), "{l}");
        }
        for l in [
            "    password_file: /etc/x",
            "    password_env: X",
            "  username: u",
        ] {
            assert!(!line_may_hold_secret(l), "{l}");
        }
    }
}
