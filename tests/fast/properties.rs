//! Property tests over generated specs: every hosts.toml parses as TOML and says what the spec
//! said, the plan is the same when built twice, and apply is idempotent.
use std::collections::BTreeMap;

use proptest::prelude::*;
use regtrust::apply::{self, NodeOptions};
use regtrust::containerd::Version;
use regtrust::plan::{FileKind, Plan};
use regtrust::spec::{Capability, Endpoint, FileSource, Registry, Tls, ValidSpec};

fn host() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9-]{0,10}[a-z0-9]",
        prop::sample::select(vec!["example", "corp.example", "io"]),
        prop::option::of(1u16..65535),
    )
        .prop_map(|(a, b, port)| match port {
            Some(p) => format!("{a}.{b}:{p}"),
            None => format!("{a}.{b}"),
        })
}

/// Header values with TOML-hostile characters: quotes, backslashes, newlines are not allowed
/// by validation, but `#`, `=`, `[`, `${`, unicode and control-free escapes are.
fn header_value() -> impl Strategy<Value = String> {
    "[ -~äü€\"\\\\#\\[\\]${}=]{0,24}"
}

fn endpoint(http: bool) -> impl Strategy<Value = Endpoint> {
    (
        host(),
        prop::option::of(prop::sample::subsequence(
            vec![Capability::Pull, Capability::Resolve, Capability::Push],
            0..=3,
        )),
        prop::collection::btree_map(
            "[A-Z][A-Za-z-]{0,8}",
            prop::collection::vec(header_value(), 1..3),
            0..3,
        ),
        any::<bool>(),
        prop::option::of(any::<bool>()),
        any::<bool>(),
    )
        .prop_map(move |(h, caps, headers, override_path, skip, inline_ca)| {
            let mut e = Endpoint::new(format!("{}://{h}", if http { "http" } else { "https" }));
            e.capabilities = caps;
            e.headers = headers;
            e.override_path = override_path;
            if !http {
                e.tls = Tls {
                    skip_verify: skip,
                    ca: if inline_ca {
                        vec![FileSource::Inline(
                            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----".into(),
                        )]
                    } else {
                        vec![FileSource::Path("/etc/pki/ca.pem".into())]
                    },
                    client: None,
                };
            }
            e
        })
}

fn registry() -> impl Strategy<Value = Registry> {
    (
        host(),
        any::<bool>(),
        prop::collection::vec(any::<bool>().prop_flat_map(endpoint), 0..4),
        any::<bool>(),
    )
        .prop_flat_map(|(h, http, endpoints, fallback)| {
            (endpoint(http), Just((h, endpoints, fallback)))
        })
        .prop_map(|(mut upstream, (h, endpoints, fallback))| {
            let scheme = if upstream.is_http() { "http" } else { "https" };
            upstream.url = format!("{scheme}://{h}");
            let mut seen = BTreeMap::new();
            let endpoints: Vec<Endpoint> = endpoints
                .into_iter()
                .filter(|e| seen.insert(e.url.clone(), ()).is_none())
                .collect();
            Registry {
                dir_name: h.clone(),
                host: h,
                upstream,
                fallback: fallback || endpoints.is_empty(),
                endpoints,
            }
        })
}

fn spec() -> impl Strategy<Value = ValidSpec> {
    prop::collection::vec(registry(), 0..6).prop_map(|regs| {
        let mut seen = BTreeMap::new();
        ValidSpec {
            containerd: None,
            config_path: None,
            registries: regs
                .into_iter()
                .filter(|r| seen.insert(r.dir_name.clone(), ()).is_none())
                .collect(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_hosts_toml_parses_and_says_what_the_spec_said(spec in spec()) {
        let plan = Plan::build(&spec, &[], "/etc/containerd/certs.d", None);
        for (reg, file) in spec.registries.iter().zip(plan.files.iter().filter(|f| f.kind == FileKind::HostsToml)) {
            let doc: toml_edit::DocumentMut = file.content.parse()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{}", file.content)))?;
            prop_assert_eq!(file.path.clone(), format!("/etc/containerd/certs.d/{}/hosts.toml", reg.dir_name));
            let tables = doc["host"].as_table().expect("at least one [host] table");
            prop_assert!(!tables.is_empty());
            let urls: Vec<&str> = tables.iter().map(|(k, _)| k).collect();
            let expected: Vec<&str> = if reg.endpoints.is_empty() {
                vec![reg.upstream.url.as_str()]
            } else {
                reg.endpoints.iter().map(|e| e.url.as_str()).collect()
            };
            prop_assert_eq!(urls, expected);
            for ep in &reg.endpoints {
                for (name, values) in &ep.headers {
                    let got: Vec<&str> = tables[ep.url.as_str()]["header"][name.as_str()]
                        .as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
                    prop_assert_eq!(got, values.iter().map(String::as_str).collect::<Vec<_>>());
                }
            }
            // The root is tried last: the upstream, or with `fallback: false` the last endpoint
            // (containerd reads `capabilities = []` as every capability, so an upstream root
            // cannot be switched off).
            let root_caps = doc.get("capabilities").and_then(|c| c.as_array()).map(|a| a.len());
            if reg.fallback {
                prop_assert_eq!(doc["server"].as_str(), Some(reg.upstream.url.as_str()));
                prop_assert_eq!(root_caps, reg.upstream.capabilities.as_ref().map(Vec::len));
            } else {
                let last = reg.endpoints.last().unwrap();
                prop_assert_eq!(doc.get("server").and_then(|s| s.as_str()), Some(last.url.as_str()));
                prop_assert_eq!(root_caps, last.capabilities.as_ref().map(Vec::len));
                let quoted = format!("\"{}\"", reg.upstream.url);
                let listed = reg.endpoints.iter().any(|e| e.url == reg.upstream.url);
                prop_assert!(listed || !doc.to_string().contains(&quoted));
            }
        }
        let again = Plan::build(&spec, &[], "/etc/containerd/certs.d", None);
        prop_assert_eq!(plan, again);
    }

    #[test]
    fn apply_twice_changes_nothing_the_second_time(spec in spec()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/containerd")).unwrap();
        std::fs::write(dir.path().join("etc/containerd/config.toml"), "version = 2\n# keep me\n").unwrap();
        let opts = NodeOptions {
            root: dir.path().to_path_buf(),
            config_file: regtrust::containerd::layout::DEFAULT_CONFIG_FILE.to_string(),
            containerd: Some(Version::parse("1.7").unwrap()),
        };
        let first = apply::prepare(&spec, &opts).unwrap();
        apply::execute(&first).unwrap();
        let second = apply::prepare(&spec, &opts).unwrap();
        prop_assert!(second.changes.is_empty(), "{:?}", second.changes);
        prop_assert_eq!(first.plan.files, second.plan.files);
        prop_assert!(second.plan.actions.is_empty(), "no restart on the second run");
    }
}
