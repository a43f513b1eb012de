//! Every unknown key of a spec at once, each at its own line, with "did you mean" for a near
//! miss and a targeted hint for the keys of the popular (broken) recipe. The typed parse stops at
//! the first unknown key; this walk reads the document as a tree of keys first.
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::{Code, Diagnostic, Pos};

/// A YAML/JSON node: a mapping (keys with positions), a sequence, or a scalar.
enum Node {
    Map(Vec<(Spanned<String>, Node)>),
    Seq(Vec<Node>),
    /// A string (quoted or plain text that is no other type), with its text.
    Str(String),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<Spanned<String>>()? {
                    out.push((k, m.next_value::<Node>()?));
                }
                Ok(Node::Map(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = s.next_element::<Node>()? {
                    out.push(n);
                }
                Ok(Node::Seq(out))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
        }
        d.deserialize_any(V)
    }
}

/// The text as a tree, with the typed parse's limits and a node budget scaled to the text: a real
/// spec has fewer nodes than bytes, an alias bomb far more (None: left to the typed parse).
fn parse_tree(text: &str) -> Option<Node> {
    let mut options = super::load::parse_options();
    if let Some(b) = options.budget.as_mut() {
        b.max_nodes = b.max_nodes.min(text.len() + 64);
        b.max_events = b.max_events.min(2 * text.len() + 128);
    }
    serde_saphyr::from_str_with_options::<Node>(text, options).ok()
}

const TOP: &[&str] = &["runtimes", "containerd", "registries"];
const CONTAINERD: &[&str] = &["version", "config_path"];
const SETTINGS: &[&str] = &[
    "capabilities",
    "ca",
    "ca_pem",
    "client",
    "skip_verify",
    "headers",
    "override_path",
    "dial_timeout",
    "auth",
];
const REGISTRY_ONLY: &[&str] = &["host", "http", "server", "fallback", "endpoints"];
const ENDPOINT_ONLY: &[&str] = &["url"];
const CLIENT: &[&str] = &["cert", "key", "cert_pem", "key_pem"];
const AUTH: &[&str] = &[
    "username",
    "password_file",
    "password_env",
    "password",
    "identity_token_file",
    "identity_token_env",
    "identity_token",
    "method",
];

/// Every unknown key of the spec text, in document order; empty when the text does not parse
/// as a tree (the typed parse then reports that).
pub fn unknown_keys(name: &str, text: &str) -> Vec<Diagnostic> {
    let Some(root) = parse_tree(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let registry: Vec<&str> = REGISTRY_ONLY.iter().chain(SETTINGS).copied().collect();
    let endpoint: Vec<&str> = ENDPOINT_ONLY.iter().chain(SETTINGS).copied().collect();
    let Node::Map(top) = &root else {
        return out;
    };
    for (k, v) in top {
        match k.value.as_str() {
            "runtimes" => {}
            "containerd" => check_map(name, v, CONTAINERD, "containerd", &mut out),
            "registries" => {
                for r in seq(v) {
                    check_map(name, r, &registry, "a registry", &mut out);
                    for (rk, rv) in map(r) {
                        match rk.value.as_str() {
                            "endpoints" => {
                                for e in seq(rv) {
                                    check_map(name, e, &endpoint, "an endpoint", &mut out);
                                    client_keys(name, e, &mut out);
                                }
                            }
                            "client" => check_map(name, rv, CLIENT, "client", &mut out),
                            "auth" => check_map(name, rv, AUTH, "auth", &mut out),
                            _ => {}
                        }
                    }
                }
            }
            _ => unknown(name, k, TOP, "the spec", &mut out),
        }
    }
    out
}

const BOOLEANS: &[&str] = &["http", "fallback", "skip_verify", "override_path"];

/// Boolean settings written as strings (`http: "true"`): an error with the fix, since a string
/// is not a yes/no. Cheap to call: the walk runs only when the text quotes a boolean.
pub fn quoted_booleans(name: &str, text: &str) -> Vec<Diagnostic> {
    let quoted = ["\"true\"", "\"false\"", "'true'", "'false'"];
    if !quoted.iter().any(|q| text.contains(q)) {
        return Vec::new();
    }
    let Some(root) = parse_tree(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut look = |n: &Node| {
        for (k, v) in map(n) {
            if let (true, Node::Str(s)) = (BOOLEANS.contains(&k.value.as_str()), v) {
                let at = k.referenced;
                let pos = (at.line() > 0).then(|| Pos {
                    line: at.line(),
                    column: at.column(),
                });
                out.push(
                    Diagnostic::error(
                        Code::SpecSyntax,
                        name,
                        pos,
                        format!("`{}` is the string \"{s}\", not a boolean", k.value),
                    )
                    .with_help(format!("write `{}: {s}` without quotes", k.value)),
                );
            }
        }
    };
    for (k, v) in map(&root) {
        if k.value == "registries" {
            for r in seq(v) {
                look(r);
                for (rk, rv) in map(r) {
                    if rk.value == "endpoints" {
                        seq(rv).iter().for_each(&mut look);
                    }
                }
            }
        }
    }
    out
}

fn client_keys(name: &str, endpoint: &Node, out: &mut Vec<Diagnostic>) {
    for (k, v) in map(endpoint) {
        if k.value == "client" {
            check_map(name, v, CLIENT, "client", out);
        }
        if k.value == "auth" {
            check_map(name, v, AUTH, "auth", out);
        }
    }
}

fn map(n: &Node) -> &[(Spanned<String>, Node)] {
    match n {
        Node::Map(m) => m,
        _ => &[],
    }
}

fn seq(n: &Node) -> &[Node] {
    match n {
        Node::Seq(s) => s,
        _ => &[],
    }
}

fn check_map(name: &str, n: &Node, known: &[&str], what: &str, out: &mut Vec<Diagnostic>) {
    for (k, _) in map(n) {
        if !known.contains(&k.value.as_str()) {
            unknown(name, k, known, what, out);
        }
    }
}

fn unknown(name: &str, k: &Spanned<String>, known: &[&str], what: &str, out: &mut Vec<Diagnostic>) {
    let at = k.referenced;
    let pos = (at.line() > 0).then(|| Pos {
        line: at.line(),
        column: at.column(),
    });
    let key = k.value.as_str();
    let mut d = Diagnostic::error(
        Code::UnknownKey,
        name,
        pos,
        format!("unknown key `{key}` in {what}"),
    );
    let help = match recipe_hint(key) {
        Some(h) => h.to_string(),
        None => match closest(key, known) {
            Some(k) => format!("did you mean `{k}`? ({what} has: {})", known.join(", ")),
            None => format!(
                "{what} has: {} (every key: `regtrust schema`)",
                known.join(", ")
            ),
        },
    };
    d = d.with_help(help);
    out.push(d);
}

/// Keys of the popular recipe and of containerd's own config, with what to write instead.
fn recipe_hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "insecure_skip_verify" | "insecure" | "insecure-registry" | "insecure_registry" => {
            "for a registry that speaks plain HTTP write `http: true`; `skip_verify` only \
             disables certificate checks on HTTPS (containerd never falls back to HTTP for it)"
        }
        "mirrors" | "mirror" | "endpoint" => {
            "mirrors go in `endpoints:` (a list of `- url: …`), tried in order before the registry"
        }
        "tls" => {
            "TLS settings are keys of the registry or endpoint itself: `ca`, `ca_pem`, \
                  `client`, `skip_verify`"
        }
        "identitytoken" | "registrytoken" | "token" | "auth_token" => {
            "credentials go in `auth:` — `{username, password_file | password_env | password}` \
             or `{identity_token_file | identity_token_env | identity_token}`; registry \
             (Bearer) tokens are fetched by containerd, not written"
        }
        "plain_http" | "plain-http" | "plainhttp" | "scheme" => {
            "for a registry that speaks plain HTTP write `http: true`"
        }
        _ => return None,
    })
}

/// The known key nearest to `key` (edit distance at most 2, or a case/separator variant).
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    if let Some(k) = known.iter().find(|k| norm(k) == norm(key)) {
        return Some(k);
    }
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unknown_key_at_once_with_hints() {
        let text = "registries:\n  - host: a.example\n    htp: true\n    insecure_skip_verify: true\n    endpoints:\n      - url: http://m:5000\n        capabilites: [pull]\n    client:\n      certt: /x\ncontainerd:\n  versoin: \"1.7\"\n";
        let d = unknown_keys("spec.yaml", text);
        let got: Vec<(u64, String, String)> = d
            .iter()
            .map(|d| {
                (
                    d.line().unwrap(),
                    d.message.clone(),
                    d.help.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(got.len(), 5, "{got:#?}");
        assert_eq!(got[0].0, 3);
        assert!(got[0].2.starts_with("did you mean `http`?"), "{got:#?}");
        assert_eq!(got[1].0, 4);
        assert!(got[1].2.contains("write `http: true`"), "{got:#?}");
        assert!(
            got[2].2.starts_with("did you mean `capabilities`?"),
            "{got:#?}"
        );
        assert!(got[3].2.starts_with("did you mean `cert`?"), "{got:#?}");
        assert_eq!(got[4].0, 11);
        assert!(got[4].2.starts_with("did you mean `version`?"), "{got:#?}");
        assert!(unknown_keys("s", "registries: []\n").is_empty());
        // Header names are the user's own: never unknown keys.
        let headers = "registries:\n  - host: a.example\n    headers:\n      X-Anything: y\n";
        assert!(unknown_keys("s", headers).is_empty());
    }

    #[test]
    fn an_alias_bomb_is_not_expanded_by_the_key_walk() {
        // 10^9 nodes from a few lines: the walk gives up at its node budget (and the typed
        // parse reports the first unknown key), instead of expanding it.
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        let mut prev = "a".to_string();
        for i in 1..9 {
            let n = format!("b{i}");
            let refs = vec![format!("*{prev}"); 10].join(",");
            text.push_str(&format!("{n}: &{n} [{refs}]\n"));
            prev = n;
        }
        assert!(unknown_keys("s", &text).is_empty());
    }
}
