//! Every validation error: its code, its message, and the file:line:column it points at.
use std::process::Command;

fn check(name: &str, spec: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, spec).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["check", "--spec"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&format!("{}", path.display()), name);
    (out.status.code().unwrap(), stderr)
}

/// Asserts the spec is rejected with exit 2 and a diagnostic `expected`, written as
/// `file:line:col: error[code]:` — rendered as a title `error[code]: …` followed by
/// ` --> file:line:col` and the offending line — whose text (title, snippet, help) contains
/// `words`.
fn rejects(spec: &str, expected: &str, words: &str) {
    let (code, stderr) = check("spec.yaml", spec);
    assert_eq!(code, 2, "{stderr}");
    let (location, title) = expected
        .split_once(": ")
        .map(|(loc, rest)| (loc.to_string(), rest.to_string()))
        .unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    let start = (0..lines.len().saturating_sub(1))
        .find(|&i| lines[i].starts_with(&title) && lines[i + 1].trim() == format!("--> {location}"))
        .unwrap_or_else(|| panic!("no `{title}` at `{location}` in:\n{stderr}"));
    // The diagnostic runs to the next blank line.
    let block: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    let block = block.join("\n");
    assert!(block.contains(words), "`{words}` not in:\n{block}");
    // The offending line is shown with a marker under it.
    assert!(block.contains(" | ") && block.contains('^'), "{block}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
}

#[test]
fn host_given_as_url() {
    rejects(
        "registries:\n  - host: http://my.private.registry:5000\n",
        "spec.yaml:2:11: error[bad-host]:",
        "write `host: my.private.registry:5000`, and `http: true`",
    );
}

#[test]
fn host_with_path_traversal() {
    rejects(
        "registries:\n  - host: ../x\n",
        "spec.yaml:2:11: error[bad-host]:",
        "path separator",
    );
}

#[test]
fn ipv6_without_brackets() {
    rejects(
        "registries:\n  - host: \"fd00::1\"\n",
        "spec.yaml:2:11: error[bad-host]:",
        "brackets",
    );
}

#[test]
fn unknown_key_names_the_allowed_ones() {
    rejects(
        "registries:\n  - host: a.example\n    insecure: true\n",
        "spec.yaml:3:5: error[unknown-key]:",
        "unknown key `insecure` in a registry",
    );
    // The recipe's key gets the hint that matters: plain HTTP is `http: true`.
    rejects(
        "registries:\n  - host: a.example\n    insecure: true\n",
        "spec.yaml:3:5: error[unknown-key]:",
        "write `http: true`",
    );
}

#[test]
fn every_unknown_key_is_reported_at_once_with_did_you_mean() {
    let spec = "registries:\n  - host: a.example\n    htp: true\n    endpoints:\n      - url: http://m.example:5000\n        capabilites: [pull]\ncontainerd:\n  versoin: \"1.7\"\n";
    rejects(
        spec,
        "spec.yaml:3:5: error[unknown-key]:",
        "did you mean `http`?",
    );
    rejects(
        spec,
        "spec.yaml:6:9: error[unknown-key]:",
        "did you mean `capabilities`?",
    );
    rejects(
        spec,
        "spec.yaml:8:3: error[unknown-key]:",
        "did you mean `version`?",
    );
    let (_, stderr) = check("spec.yaml", spec);
    assert!(stderr.contains("3 errors in the spec"), "{stderr}");
    assert!(!stderr.contains("README"), "{stderr}");
}

#[test]
fn unknown_top_level_key() {
    rejects(
        "registry:\n  - host: a.example\n",
        "spec.yaml:1:1: error[unknown-key]:",
        "`registry`",
    );
}

#[test]
fn runtimes_is_not_reported_beside_an_unknown_top_level_key() {
    let (_, stderr) = check(
        "spec.yaml",
        "runtimes: [containerd]\nconfig_path: /x\nregistries:\n  - host: a.example\n",
    );
    assert!(stderr.contains("unknown key `config_path`"), "{stderr}");
    assert!(!stderr.contains("unknown key `runtimes`"), "{stderr}");
    assert!(stderr.contains("1 error in the spec"), "{stderr}");
}

#[test]
fn duplicate_hosts_point_at_the_second_and_name_the_first() {
    rejects(
        "registries:\n  - host: a.example\n  - host: b.example\n  - host: a.example\n",
        "spec.yaml:4:11: error[duplicate-host]:",
        "(first at line 2)",
    );
}

#[test]
fn duplicate_endpoints() {
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://m.example\n      - url: http://m.example/\n",
        "spec.yaml:5:14: error[duplicate-endpoint]:",
        "`http://m.example` is listed twice",
    );
}

#[test]
fn capability_outside_the_known_set() {
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://m.example\n        capabilities: [pull, fetch]\n",
        "spec.yaml:5:30: error[bad-capability]:",
        "expected pull, resolve, push",
    );
}

#[test]
fn referrers_needs_2_2() {
    let spec = "containerd:\n  version: \"2.1\"\nregistries:\n  - host: docker.io\n    endpoints:\n      - url: http://m.example\n        capabilities: [pull, referrers]\n";
    rejects(
        spec,
        "spec.yaml:7:30: error[capability-unsupported]:",
        "2.2 or later",
    );
    let ok = spec.replace("\"2.1\"", "\"2.2\"");
    assert_eq!(check("spec.yaml", &ok).0, 0);
}

#[test]
fn http_together_with_tls_settings() {
    rejects(
        "registries:\n  - host: a.example:5000\n    http: true\n    skip_verify: true\n",
        "spec.yaml:3:11: error[http-with-tls]:",
        "`http: true` together with `skip_verify`",
    );
}

#[test]
fn skip_verify_on_an_http_endpoint_explains_it_does_nothing() {
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://m.example\n        skip_verify: true\n",
        "spec.yaml:5:22: error[skip-verify-on-http]:",
        "does nothing: it only disables certificate checks on HTTPS",
    );
}

#[test]
fn config_path_list_is_rejected() {
    rejects(
        "containerd:\n  config_path: /etc/containerd/certs.d:/etc/docker/certs.d\nregistries: []\n",
        "spec.yaml:2:16: error[bad-config-path]:",
        "must be one directory",
    );
}

#[test]
fn unsupported_containerd_version() {
    rejects(
        "containerd:\n  version: \"1.5\"\nregistries: []\n",
        "spec.yaml:2:12: error[bad-containerd-version]:",
        "expected one of 1.6, 1.7, 2.0, 2.1, 2.2, 2.3",
    );
}

#[test]
fn relative_ca_and_bad_pem() {
    let spec =
        "registries:\n  - host: a.example\n    ca: certs/ca.crt\n    ca_pem: not a certificate\n";
    rejects(
        spec,
        "spec.yaml:3:9: error[relative-ca-path]:",
        "not an absolute path",
    );
    rejects(
        spec,
        "spec.yaml:4:13: error[bad-ca-pem]:",
        "BEGIN CERTIFICATE",
    );
}

#[test]
fn fallback_false_needs_endpoints() {
    rejects(
        "registries:\n  - host: a.example\n    fallback: false\n",
        "spec.yaml:3:15: error[no-fallback-without-endpoints]:",
        "nothing to pull from",
    );
}

#[test]
fn dial_timeout_is_gated_and_checked() {
    let spec =
        "containerd:\n  version: \"1.7\"\nregistries:\n  - host: a.example\n    dial_timeout: 5s\n";
    rejects(
        spec,
        "spec.yaml:5:19: error[dial-timeout-unsupported]:",
        "2.0.7 or later",
    );
    rejects(
        "registries:\n  - host: a.example\n    dial_timeout: soon\n",
        "spec.yaml:3:19: error[bad-dial-timeout]:",
        "expected e.g. 500ms",
    );
}

#[test]
fn default_host_on_old_1_6() {
    rejects(
        "containerd:\n  version: \"1.6.10\"\nregistries:\n  - host: \"*\"\n    endpoints:\n      - url: http://m.example\n",
        "spec.yaml:4:11: error[default-host-unsupported]:",
        "1.6.17 or later",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let (code, stderr) = check(
        "spec.yaml",
        "registries:\n  - host: http://a\n  - host: b.example\n    fallback: false\n  - host: b.example\n",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("3 errors in the spec"), "{stderr}");
}

#[test]
fn json_specs_get_positions_too() {
    let (code, stderr) = check(
        "spec.json",
        "{\n  \"registries\": [\n    {\"host\": \"a.example\", \"http\": true,}\n  ]\n}\n",
    );
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error[spec-syntax]: invalid JSON")
            && stderr.contains("\n --> spec.json:3:40\n"),
        "{stderr}"
    );
    let (code, stderr) = check(
        "spec.json",
        "{\"registries\": [{\"host\": \"a.example\", \"http\": true, \"ca\": \"/x\"}]}",
    );
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error[http-with-tls]:") && stderr.contains("\n --> spec.json:1:47\n"),
        "{stderr}"
    );
}

#[test]
fn non_utf8_spec() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, b"registries:\n  - host: \xff\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_regtrust"))
        .args(["check", "--spec"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error[spec-not-utf8]:"), "{err}");
    assert!(err.contains("spec.yaml:2:11\n"), "{err}");
}

#[test]
fn a_valid_spec_passes() {
    let (code, stderr) = check(
        "spec.yaml",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/registries.yaml"
        ))
        .unwrap(),
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn bad_endpoint_urls() {
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: cache.corp.example:5000\n",
        "spec.yaml:4:14: error[bad-url]:",
        "has no scheme",
    );
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://user:pw@cache.corp.example\n",
        "spec.yaml:4:14: error[bad-url]:",
        "credentials in the URL",
    );
}

#[test]
fn http_together_with_server() {
    rejects(
        "registries:\n  - host: a.example\n    http: true\n    server: http://b.example\n",
        "spec.yaml:4:13: error[http-with-server]:",
        "write the upstream URL once",
    );
}

#[test]
fn default_host_restrictions() {
    rejects(
        "registries:\n  - host: \"*\"\n    http: true\n",
        "spec.yaml:3:11: error[default-host-http]:",
        "cannot take `http: true`",
    );
    rejects(
        "registries:\n  - host: \"*\"\n    server: https://m.example\n    endpoints:\n      - url: http://c.example\n",
        "spec.yaml:3:13: error[default-host-server]:",
        "stands for every registry",
    );
    rejects(
        "registries:\n  - host: \"*\"\n    skip_verify: true\n",
        "spec.yaml:2:11: error[default-host-needs-endpoints]:",
        "needs at least one endpoint",
    );
}

#[test]
fn duplicate_capability() {
    rejects(
        "registries:\n  - host: a.example\n    capabilities: [pull, pull]\n",
        "spec.yaml:3:26: error[duplicate-capability]:",
        "`pull` is listed twice",
    );
}

#[test]
fn tls_settings_on_an_http_endpoint() {
    rejects(
        "registries:\n  - host: docker.io\n    endpoints:\n      - url: http://c.example\n        ca: /etc/pki/ca.pem\n",
        "spec.yaml:5:13: error[tls-on-http]:",
        "make containerd try HTTPS first",
    );
}

#[test]
fn client_certificates() {
    rejects(
        "registries:\n  - host: a.example\n    client:\n      key: /k\n",
        "spec.yaml:4:7: error[bad-client]:",
        "exactly one of `cert`",
    );
    rejects(
        "registries:\n  - host: a.example\n    client:\n      cert: c.pem\n",
        "spec.yaml:4:13: error[relative-client-path]:",
        "`c.pem` is not absolute",
    );
    rejects(
        "registries:\n  - host: a.example\n    client:\n      cert_pem: nope\n",
        "spec.yaml:4:17: error[bad-client-pem]:",
        "no `-----BEGIN` block",
    );
}

#[test]
fn header_names_and_values() {
    rejects(
        "registries:\n  - host: a.example\n    headers:\n      \"X Bad\": v\n",
        "spec.yaml:4:16: error[bad-header-name]:",
        "`X Bad` is not a valid HTTP token",
    );
    rejects(
        "registries:\n  - host: a.example\n    headers:\n      X-Ok: \"a\\nb\"\n",
        "spec.yaml:4:13: error[bad-header-value]:",
        "line break",
    );
}

#[test]
fn a_host_with_a_path_says_where_the_path_goes() {
    rejects(
        "registries:\n  - host: reg:5000/library\n",
        "spec.yaml:2:11: error[bad-host]:",
        "a host cannot carry a path",
    );
    let (_, stderr) = check("spec.yaml", "registries:\n  - host: reg:5000/library\n");
    assert!(stderr.contains("write `host: reg:5000`"), "{stderr}");
    assert!(!stderr.contains("is not a number"), "{stderr}");
}

#[test]
fn a_boolean_written_as_a_string_is_an_error_with_the_fix() {
    for key in ["http", "fallback", "skip_verify", "override_path"] {
        let spec = format!(
            "registries:\n  - host: b.example\n    endpoints:\n      - url: https://m.example\n    {key}: \"true\"\n"
        );
        rejects(
            &spec,
            "spec.yaml:5:5: error[spec-syntax]:",
            "without quotes",
        );
    }
    // Unquoted, the same spec is valid.
    let (code, stderr) = check(
        "spec.yaml",
        "registries:\n  - host: b.example\n    http: true\n",
    );
    assert_eq!(code, 0, "{stderr}");
}

/// Garbage between the BEGIN and END lines is refused with the line it is on; the shipped
/// example's CA passes.
#[test]
fn a_pem_with_garbage_inside_is_refused() {
    let spec = "registries:\n  - host: a.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      MIIBfake certificate\n      -----END CERTIFICATE-----\n";
    rejects(
        spec,
        "spec.yaml:4:7: error[bad-ca-pem]:",
        "line 2 of the PEM: `MIIBfake certificate` is not base64",
    );
    let spec = "registries:\n  - host: a.example\n    ca_pem: |\n      -----BEGIN CERTIFICATE-----\n      AAAA\n      -----END CERTIFICATE-----\n";
    rejects(
        spec,
        "spec.yaml:4:7: error[bad-ca-pem]:",
        "does not hold a DER structure",
    );
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registries.yaml"),
    )
    .unwrap();
    let (code, stderr) = check("registries.yaml", &example);
    assert_eq!(code, 0, "{stderr}");
}

// Parser wording: what was expected, in the spec's terms, at the right line, one per problem.

#[test]
fn header_values_that_are_not_strings_each_at_their_own_line() {
    let spec = "registries:\n  - host: reg.lab:5000\n    headers:\n      X-Tenant-Id: 42\n      X-Other: [1, 2]\n";
    rejects(
        spec,
        "spec.yaml:4:20: error[bad-header-value]:",
        "header `X-Tenant-Id` is the number 42: expected a string or a list of strings",
    );
    rejects(
        spec,
        "spec.yaml:5:16: error[bad-header-value]:",
        "header `X-Other` is a list holding the number 1",
    );
    let (_, stderr) = check("spec.yaml", spec);
    assert!(!stderr.contains("untagged"), "{stderr}");
    assert!(stderr.contains("2 errors in the spec"), "{stderr}");
}

#[test]
fn ca_that_is_a_mapping_says_what_ca_takes() {
    rejects(
        "registries:\n  - host: reg.lab:5000\n    ca: {path: /etc/ca.pem}\n",
        "spec.yaml:3:9: error[bad-ca-value]:",
        "`ca` is a mapping: expected an absolute node path, or a list of them",
    );
}

#[test]
fn duplicate_key_names_the_key_not_the_parser_option() {
    let spec = "registries:\n  - host: reg.lab:5000\n    host: reg.lab:5001\n";
    rejects(
        spec,
        "spec.yaml:3:5: error[spec-syntax]:",
        "the key `host` appears twice in the same mapping",
    );
    let (_, stderr) = check("spec.yaml", spec);
    assert!(!stderr.contains("DuplicateKeyPolicy"), "{stderr}");
}

#[test]
fn two_yaml_documents_are_named_as_such() {
    let spec = "registries:\n  - host: reg.lab:5000\n---\nregistries: []\n";
    rejects(
        spec,
        "spec.yaml:3:1: error[spec-syntax]:",
        "the spec holds more than one YAML document",
    );
    let (_, stderr) = check("spec.yaml", spec);
    assert!(!stderr.contains("budget"), "{stderr}");
}

#[test]
fn two_bad_pems_in_one_client_are_two_errors_at_their_keys() {
    let spec = "registries:\n  - host: reg.lab:5000\n    client:\n      cert_pem: |\n        -----BEGIN CERTIFICATE-----\n        garbage\n        -----END CERTIFICATE-----\n      key_pem: |\n        -----BEGIN PRIVATE KEY-----\n        garbage\n        -----END PRIVATE KEY-----\n";
    rejects(spec, "spec.yaml:5:9: error[bad-client-pem]:", "`cert_pem`");
    rejects(spec, "spec.yaml:9:9: error[bad-client-pem]:", "`key_pem`");
}

#[test]
fn a_list_where_a_mapping_belongs_says_so() {
    rejects(
        "registries:\n  - host: reg.lab:5000\n    client:\n      - cert: /a\n",
        "spec.yaml:4:7: error[spec-syntax]:",
        "expected a mapping (`key: value` lines) here",
    );
    rejects(
        "registries:\n  host: reg.lab:5000\n",
        "spec.yaml:2:3: error[spec-syntax]:",
        "expected a list (`- item` lines) here",
    );
}
