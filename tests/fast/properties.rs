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
            runtimes: None,
            containerd: None,
            config_path: None,
            registries: regs
                .into_iter()
                .filter(|r| seen.insert(r.dir_name.clone(), ()).is_none())
                .collect(),
        }
    })
}

fn inline_cas(ep: &Endpoint) -> usize {
    ep.tls
        .ca
        .iter()
        .filter(|c| matches!(c, FileSource::Inline(_)))
        .count()
}

/// The settings of one `[host]` table (or the root of hosts.toml) are the endpoint's:
/// capabilities in order (absent when the spec gave none, unless `default_caps`: then every
/// capability), `skip_verify` as given or absent, `override_path = true` or absent, headers, and
/// `ca`: a node path as given, or an inline PEM planned as `<dir>/<prefix>ca.crt` (mode 0644).
fn says(
    t: &dyn toml_edit::TableLike,
    ep: &Endpoint,
    dir: &str,
    prefix: &str,
    files: &[regtrust::plan::PlannedFile],
    default_caps: bool,
) -> Result<(), TestCaseError> {
    let caps: Option<Vec<&str>> = t.get("capabilities").map(|c| {
        c.as_array()
            .expect("capabilities is an array")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect()
    });
    let want_caps = match &ep.capabilities {
        Some(c) => Some(c.iter().map(|c| c.as_str()).collect()),
        None if default_caps => Some(vec!["pull", "resolve", "push"]),
        None => None,
    };
    prop_assert_eq!(caps, want_caps, "{}: capabilities", ep.url);
    prop_assert_eq!(
        t.get("skip_verify")
            .map(|v| v.as_bool().expect("skip_verify is a bool")),
        ep.tls.skip_verify,
        "{}: skip_verify",
        ep.url
    );
    prop_assert_eq!(
        t.get("override_path")
            .map(|v| v.as_bool().expect("override_path is a bool")),
        ep.override_path.then_some(true),
        "{}: override_path",
        ep.url
    );
    let ca = t
        .get("ca")
        .map(|v| v.as_str().expect("one CA: a string").to_string());
    match ep.tls.ca.as_slice() {
        [] => prop_assert_eq!(ca, None, "{}: ca", ep.url),
        [FileSource::Path(p)] => prop_assert_eq!(ca, Some(p.clone()), "{}: ca", ep.url),
        [FileSource::Inline(pem)] => {
            let path = format!("{dir}/{prefix}ca.crt");
            prop_assert_eq!(ca.as_deref(), Some(path.as_str()), "{}: ca", ep.url);
            let f = files.iter().find(|f| f.path == path);
            prop_assert!(f.is_some(), "{path} is not planned");
            let f = f.unwrap();
            prop_assert_eq!(&f.content, &format!("{pem}\n"));
            prop_assert_eq!(f.mode, 0o644);
            prop_assert_eq!(f.kind, FileKind::Certificate);
        }
        other => prop_assert!(false, "the generator makes at most one CA: {other:?}"),
    }
    let headers: BTreeMap<String, Vec<String>> = t
        .get("header")
        .and_then(|h| h.as_table_like())
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let vals = v
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap().to_string());
                    (k.to_string(), vals.collect())
                })
                .collect()
        })
        .unwrap_or_default();
    prop_assert_eq!(&headers, &ep.headers, "{}: headers", ep.url);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn every_hosts_toml_parses_and_says_what_the_spec_said(spec in spec()) {
        let plan = Plan::build(&spec, &[], "/etc/containerd/certs.d", None);
        let hosts_files: Vec<_> = plan.files.iter().filter(|f| f.kind == FileKind::HostsToml).collect();
        // One hosts.toml per registry (a zip alone would stop at the shorter list), and besides
        // them only the inline CAs' files.
        prop_assert_eq!(hosts_files.len(), spec.registries.len());
        let mut expected_pems = 0;
        for (reg, file) in spec.registries.iter().zip(hosts_files) {
            let doc: toml_edit::DocumentMut = file.content.parse()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{}", file.content)))?;
            let dir = format!("/etc/containerd/certs.d/{}", reg.dir_name);
            prop_assert_eq!(file.path.clone(), format!("{dir}/hosts.toml"));
            prop_assert_eq!(file.mode, 0o644);
            let tables = doc["host"].as_table().expect("at least one [host] table");
            prop_assert!(!tables.is_empty());
            let urls: Vec<&str> = tables.iter().map(|(k, _)| k).collect();
            let expected: Vec<&str> = if reg.endpoints.is_empty() {
                vec![reg.upstream.url.as_str()]
            } else {
                reg.endpoints.iter().map(|e| e.url.as_str()).collect()
            };
            prop_assert_eq!(urls, expected);
            // Every [host] table says what its endpoint said, with its files under its prefix.
            if reg.endpoints.is_empty() {
                let t = tables[reg.upstream.url.as_str()].as_table().unwrap();
                // containerd 1.6 needs a [host] table: the upstream's, every capability by default.
                says(t, &reg.upstream, &dir, "", &plan.files, true)?;
                expected_pems += inline_cas(&reg.upstream);
            } else {
                for (i, ep) in reg.endpoints.iter().enumerate() {
                    let t = tables[ep.url.as_str()].as_table().unwrap();
                    says(t, ep, &dir, &format!("endpoint{}-", i + 1), &plan.files, false)?;
                    expected_pems += inline_cas(ep);
                }
            }
            // The root is tried last: the upstream, or with `fallback: false` the last endpoint
            // (containerd reads `capabilities = []` as every capability, so an upstream root
            // cannot be switched off).
            let root = doc.as_table();
            if reg.fallback {
                prop_assert_eq!(doc["server"].as_str(), Some(reg.upstream.url.as_str()));
                says(root, &reg.upstream, &dir, "", &plan.files, false)?;
                if !reg.endpoints.is_empty() {
                    expected_pems += inline_cas(&reg.upstream);
                }
            } else {
                let (i, last) = reg.endpoints.iter().enumerate().next_back().unwrap();
                prop_assert_eq!(doc.get("server").and_then(|s| s.as_str()), Some(last.url.as_str()));
                says(root, last, &dir, &format!("endpoint{}-", i + 1), &plan.files, false)?;
                let quoted = format!("\"{}\"", reg.upstream.url);
                let listed = reg.endpoints.iter().any(|e| e.url == reg.upstream.url);
                prop_assert!(listed || !doc.to_string().contains(&quoted));
            }
        }
        prop_assert_eq!(plan.files.len(), spec.registries.len() + expected_pems, "{:#?}", plan.files);
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
            // Docker's part too: daemon.json and certs.d settle after one run as well.
            runtimes: Some(vec![regtrust::spec::Runtime::Containerd, regtrust::spec::Runtime::Docker]),
        };
        let first = apply::prepare(&spec, &opts).unwrap();
        apply::execute(&first).unwrap();
        let second = apply::prepare(&spec, &opts).unwrap();
        prop_assert!(second.changes.is_empty(), "{:?}", second.changes);
        let (first, second) = (first.containerd.unwrap(), second.containerd.unwrap());
        prop_assert_eq!(first.plan.files, second.plan.files);
        prop_assert!(second.plan.actions.is_empty(), "no restart on the second run");
    }

    /// Docker: after a run with spec `a`, then one with `b`, daemon.json's lists hold the owner's
    /// entries and `b`'s, certs.d holds `b`'s files; after a run with no registries, only the
    /// owner's entries are left, no certs.d file, no record.
    #[test]
    fn docker_keeps_the_owners_entries_and_only_the_specs(a in spec(), b in spec()) {
        use regtrust::plan::DockerPlan;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc/docker")).unwrap();
        let seed = "{\"insecure-registries\": [\"own.example:5000\"], \"registry-mirrors\": [\"https://own.mirror.example\"]}";
        std::fs::write(root.join("etc/docker/daemon.json"), seed).unwrap();
        let opts = NodeOptions {
            root: root.to_path_buf(),
            config_file: regtrust::containerd::layout::DEFAULT_CONFIG_FILE.to_string(),
            containerd: None,
            runtimes: Some(vec![regtrust::spec::Runtime::Docker]),
        };
        let run = |spec: &ValidSpec| apply::execute(&apply::prepare(spec, &opts).unwrap()).unwrap();
        let lists = || -> (Vec<String>, Vec<String>) {
            let v: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(root.join("etc/docker/daemon.json")).unwrap()).unwrap();
            let l = |k: &str| {
                let mut x: Vec<String> = v[k].as_array().unwrap().iter()
                    .map(|s| s.as_str().unwrap().to_string()).collect();
                x.sort();
                x
            };
            (l("insecure-registries"), l("registry-mirrors"))
        };
        let certs = || -> Vec<String> {
            let mut out = Vec::new();
            if let Ok(d) = std::fs::read_dir(root.join("etc/docker/certs.d")) {
                for host in d.flatten() {
                    for f in std::fs::read_dir(host.path()).unwrap().flatten() {
                        out.push(format!("/etc/docker/certs.d/{}/{}",
                            host.file_name().to_string_lossy(), f.file_name().to_string_lossy()));
                    }
                }
            }
            out.sort();
            out
        };
        run(&a);
        run(&b);
        let want = DockerPlan::build(&b);
        let with_own = |own: &str, l: &[String]| {
            let mut v: Vec<String> = l.to_vec();
            if !v.iter().any(|x| x == own) {
                v.push(own.to_string());
            }
            v.sort();
            v.dedup();
            v
        };
        let (insecure, mirrors) = lists();
        prop_assert_eq!(insecure, with_own("own.example:5000", &want.insecure_registries));
        prop_assert_eq!(mirrors, with_own("https://own.mirror.example", &want.registry_mirrors));
        let mut files: Vec<String> = want.files.iter().map(|f| f.path.clone()).collect();
        files.sort();
        prop_assert_eq!(certs(), files);
        let empty = regtrust::spec::load::load_str("empty.yaml", "registries: []\n").unwrap().spec;
        run(&empty);
        prop_assert_eq!(lists(), (vec!["own.example:5000".to_string()], vec!["https://own.mirror.example".to_string()]));
        prop_assert!(certs().is_empty(), "{:?}", certs());
        prop_assert!(!root.join("etc/docker/regtrust-managed.json").exists());
        prop_assert!(!root.join("etc/docker/regtrust-managed.pending.json").exists());
    }
}
