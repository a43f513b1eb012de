//! Terraform without terraform: the external data source protocol answers the JSON Terraform
//! sends with what the CLI renders, and the shipped example's template is what regtrust renders
//! today. (The real suite evaluates the templates with the real `terraform`.)
use std::fs;
use std::process::{Command, Output};

use base64::Engine as _;

use crate::support::{manifest_dir, regtrust, run_with_input};

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_terraform_example_template_is_current() {
    let example = manifest_dir().join("examples/terraform");
    let spec = manifest_dir().join("examples/registries.yaml");
    let fresh = ok(regtrust(&[
        "render",
        "--spec",
        spec.to_str().unwrap(),
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
}

fn external(query: &str) -> Output {
    run_with_input(
        Command::new(env!("CARGO_BIN_EXE_regtrust")).arg("terraform-external"),
        query,
    )
}

#[test]
fn external_data_source_protocol() {
    let spec_text = fs::read_to_string(manifest_dir().join("examples/registries.yaml")).unwrap();
    // What Terraform sends for query = { spec = file("registries.yaml"), containerd = "1.7" }.
    let query = serde_json::json!({ "spec": spec_text, "containerd": "1.7" }).to_string();
    let o = external(&query);
    let out: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&ok(o).into_bytes()).unwrap();
    assert!(
        out.values().all(|v| v.is_string()),
        "a flat object of strings"
    );
    let spec = manifest_dir().join("examples/registries.yaml");
    let s = spec.to_str().unwrap();
    let direct = ok(regtrust(&[
        "render",
        "--spec",
        s,
        "--target",
        "cloud-init",
        "--containerd",
        "1.7",
    ]));
    assert_eq!(out["user_data"], direct.as_str());
    assert_eq!(
        out["hosts_json"],
        ok(regtrust(&["render", "--spec", s, "--target", "json"])).as_str()
    );
    assert_eq!(
        out["script"],
        ok(regtrust(&["render", "--spec", s, "--target", "script"])).as_str()
    );
    let gz = base64::engine::general_purpose::STANDARD
        .decode(out["user_data_base64gzip"].as_str().unwrap())
        .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
    assert_eq!(text, direct);

    // spec_path works too, and errors go to stderr with a non-zero exit and no stdout.
    let by_path = external(&serde_json::json!({ "spec_path": s }).to_string());
    assert!(by_path.status.success());
    for (bad, words) in [
        (serde_json::json!({ "spec": "registries: [{host: \"http://x\"}]", "containerd": "1.7" }).to_string(), "query.spec:1:"),
        (serde_json::json!({ "spec": spec_text, "colour": "blue" }).to_string(), "unknown query key `colour`"),
        ("{\"spec\": 1}".to_string(), "one JSON object of strings"),
        (serde_json::json!({}).to_string(), "exactly one of `spec`"),
    ] {
        let o = external(&bad);
        assert_ne!(o.status.code(), Some(0), "{bad}");
        assert!(o.stdout.is_empty(), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(words), "{bad}: {err}");
    }
}
