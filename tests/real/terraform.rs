//! Terraform, with the real `terraform` binary: templatefile() of the escaped output equals the
//! direct render byte for byte; the shipped example applies offline and yields the CLI's
//! user-data. (The fast suite has the external data source protocol, which needs no terraform.)
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;

use crate::support::*;

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Runs terraform in `dir` offline: no CLI config, no version check, no input.
pub(crate) fn terraform(dir: &Path, args: &[&str]) -> Output {
    let cfg = dir.join(".terraformrc-empty");
    fs::write(&cfg, "").unwrap();
    let bin = Path::new("/usr/local/bin/terraform");
    let bin = if bin.exists() {
        bin.to_path_buf()
    } else {
        "terraform".into()
    };
    let o = Command::new(&bin)
        .current_dir(dir)
        .args(args)
        .env("TF_CLI_CONFIG_FILE", &cfg)
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .unwrap_or_else(|e| panic!("terraform is missing ({e}): it is expected in /usr/local/bin"));
    assert!(
        o.status.success(),
        "terraform {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `templatefile(template, vars)` evaluated by terraform apply, as raw bytes.
fn templatefile(template: &str, vars: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("t.tftpl"), template).unwrap();
    let vars_hcl: String = vars
        .iter()
        .map(|(k, v)| format!("{k} = {}\n", serde_json::to_string(v).unwrap()))
        .collect();
    fs::write(
        dir.path().join("main.tf"),
        format!("output \"out\" {{\n  value = templatefile(\"${{path.module}}/t.tftpl\", {{\n{vars_hcl}}})\n}}\n"),
    )
    .unwrap();
    terraform(dir.path(), &["init", "-input=false", "-no-color"]);
    terraform(
        dir.path(),
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    String::from_utf8(terraform(dir.path(), &["output", "-raw", "out"]).stdout).unwrap()
}

/// Header values that look like Terraform template syntax must come through unchanged.
const TEMPLATE_LOOKALIKES: &str = r#"containerd:
  version: "2.1"
registries:
  - host: my.private.registry:5000
    http: true
    headers:
      X-Interp: "${var.not_a_var}"
      X-Directive: "%{ if true }yes%{ endif }"
      X-Escaped: "$${already} %%{escaped}"
"#;

#[test]
fn templatefile_of_the_escaped_output_equals_the_direct_render() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    fs::write(&spec, TEMPLATE_LOOKALIKES).unwrap();
    let s = spec.to_str().unwrap();
    for target in ["cloud-init", "script", "containerd-config", "json"] {
        let direct = ok(regtrust(&["render", "--spec", s, "--target", target]));
        assert!(
            target == "containerd-config" || direct.contains("${var.not_a_var}"),
            "{target}"
        );
        let plain = ok(regtrust(&[
            "render",
            "--spec",
            s,
            "--target",
            target,
            "--escape",
            "terraform",
        ]));
        assert_eq!(
            templatefile(&plain, &[]),
            direct,
            "{target}: without variables"
        );
        if target != "containerd-config" {
            let tpl = ok(regtrust(&[
                "render",
                "--spec",
                s,
                "--target",
                target,
                "--escape",
                "terraform",
                "--template-var",
                "registry_host=my.private.registry:5000",
            ]));
            assert!(tpl.contains("${registry_host}"), "{target}");
            // cloud-init's scripts that name hosts (the runtimes script) are text in a template,
            // gz+b64 in the direct render: the same files either way.
            let same = |a: &str, b: &str| {
                if target == "cloud-init" {
                    cloud_init::decoded(a) == cloud_init::decoded(b)
                } else {
                    a == b
                }
            };
            let filled = templatefile(&tpl, &[("registry_host", "my.private.registry:5000")]);
            assert!(same(&filled, &direct), "{target}:\n{filled}");
            // The same template serves another environment.
            let other = templatefile(&tpl, &[("registry_host", "reg.staging.example:5000")]);
            let direct_other = ok(regtrust(&[
                "render",
                "--spec",
                &write_other(dir.path()),
                "--target",
                target,
            ]));
            assert!(
                same(&other, &direct_other),
                "{target}: another registry_host:\n{other}"
            );
        }
    }
}

fn write_other(dir: &Path) -> String {
    let p = dir.join("other.yaml");
    fs::write(
        &p,
        TEMPLATE_LOOKALIKES.replace("my.private.registry:5000", "reg.staging.example:5000"),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn the_terraform_example_yields_the_cli_user_data() {
    let example = manifest_dir().join("examples/terraform");
    let spec = manifest_dir().join("examples/registries.yaml");
    let spec = spec.to_str().unwrap();
    // The committed template is what regtrust renders today.
    let fresh = ok(regtrust(&[
        "render",
        "--spec",
        spec,
        "--target",
        "cloud-init",
        "--runtime",
        "containerd",
        "--escape",
        "terraform",
        "--template-var",
        "registry_host=my.private.registry:5000",
    ]));
    assert_eq!(
        fs::read_to_string(example.join("user-data.yaml.tftpl")).unwrap(),
        fresh,
        "regenerate the example template"
    );
    let dir = tempfile::tempdir().unwrap();
    for f in ["main.tf", "user-data.yaml.tftpl"] {
        fs::copy(example.join(f), dir.path().join(f)).unwrap();
    }
    terraform(dir.path(), &["init", "-input=false", "-no-color"]);
    terraform(
        dir.path(),
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let user_data =
        String::from_utf8(terraform(dir.path(), &["output", "-raw", "user_data"]).stdout).unwrap();
    let direct = ok(regtrust(&[
        "render",
        "--spec",
        spec,
        "--target",
        "cloud-init",
        "--runtime",
        "containerd",
    ]));
    assert_eq!(user_data, direct);
    let gz = String::from_utf8(
        terraform(dir.path(), &["output", "-raw", "user_data_base64gzip"]).stdout,
    )
    .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(gz.trim())
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    assert_eq!(text, direct);
}
