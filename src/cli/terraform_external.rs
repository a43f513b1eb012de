//! `regtrust terraform-external`: Terraform's `external` data source protocol. One JSON object of
//! strings on stdin (the spec inline or a path), one flat JSON object of strings on stdout;
//! errors on stderr with a non-zero exit. No side effects.
use std::collections::BTreeMap;
use std::io::{Read, Write as _};

use super::args::Target;
use super::exit;
use crate::containerd::Version;
use crate::emit::{cloud_init, config_fragment, installer, terraform};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::spec::DEFAULT_CONFIG_PATH;

pub fn run() -> Result<u8> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Error::Node(format!("terraform-external: cannot read stdin: {e}")))?;
    let out = respond(&input).map_err(|msg| Error::Usage(format!("terraform-external: {msg}")))?;
    let text = serde_json::to_string(&out).expect("strings serialise");
    let _ = writeln!(std::io::stdout(), "{text}");
    Ok(exit::OK)
}

/// The whole protocol, from the query text to the result object.
pub fn respond(input: &str) -> std::result::Result<BTreeMap<&'static str, String>, String> {
    let query: BTreeMap<String, String> = serde_json::from_str(input).map_err(|e| {
        format!("the query must be one JSON object of strings (Terraform's `query`): {e}")
    })?;
    const KNOWN: &[&str] = &["spec", "spec_path", "containerd", "hosts_only", "encoding"];
    if let Some(k) = query.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown query key `{k}`: expected one of {}",
            KNOWN.join(", ")
        ));
    }
    let (name, text) = match (query.get("spec"), query.get("spec_path")) {
        (Some(s), None) => ("query.spec".to_string(), s.clone()),
        (None, Some(p)) => {
            let t = std::fs::read_to_string(p).map_err(|e| format!("spec_path `{p}`: {e}"))?;
            (p.clone(), t)
        }
        _ => return Err("the query needs exactly one of `spec` (inline) or `spec_path`".into()),
    };
    let cli_version = query
        .get("containerd")
        .filter(|v| !v.is_empty())
        .map(|v| Version::parse(v))
        .transpose()
        .map_err(|e| format!("containerd: {e}"))?;
    let flag = |k: &str| match query.get(k).map(String::as_str) {
        None | Some("" | "false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!(
            "`{k}` must be \"true\" or \"false\", not `{other}`"
        )),
    };
    let hosts_only = flag("hosts_only")?;
    let gzip = match query.get("encoding").map(String::as_str) {
        None | Some("" | "plain") => false,
        Some("gz+b64") => true,
        Some(other) => return Err(format!("`encoding` must be plain or gz+b64, not `{other}`")),
    };
    let loaded = crate::spec::load::load_str_for(&name, &text, cli_version)
        .map_err(|d| d.to_string().trim_end().to_string())?;
    let spec = &loaded.spec;
    // A data source's result is stored in the Terraform state in clear text and is not
    // sensitive: credentials stay out of it. `render --target cloud-init --escape terraform`
    // gives a template whose credentials are variables, filled from sensitive variables.
    if crate::spec::secrets::has_auth(spec) {
        return Err(
            "the spec has credentials (`auth`), which the Terraform data source does not \
             carry: its result is stored in the Terraform state in clear text. Render a \
             template instead (`regtrust render --target cloud-init --escape terraform`: each \
             credential becomes ${regtrust_auth_N}) and fill it with templatefile() from \
             sensitive variables"
                .to_string(),
        );
    }
    let version = super::render::decided_version(cli_version, spec).ok_or(
        "the containerd version is needed: add `containerd` to the query or containerd.version to the spec",
    )?;
    let config_path = spec.config_path.as_deref().unwrap_or(DEFAULT_CONFIG_PATH);
    let plan = Plan::build(spec, &[], config_path, Some(version));
    // Each output carries the runtimes `render` gives its target: user_data and script decide on
    // the node unless the spec pins them; hosts_json has the spec's pinned runtimes.
    let plan_for = |target: Target| -> std::result::Result<Plan, String> {
        let runtimes = super::render::runtimes_for(
            spec,
            &[],
            target,
            hosts_only && target == Target::CloudInit,
        )
        .map_err(|e| e.to_string())?;
        let mut p = plan.clone();
        super::render::add_runtime_parts(&mut p, spec, &runtimes, target);
        Ok(p)
    };
    let user_data = cloud_init::render(
        &plan_for(Target::CloudInit)?,
        version,
        cloud_init::Options {
            hosts_only,
            gzip,
            mime: false,
            scripts_as_text: false,
        },
    );
    let mut out = BTreeMap::new();
    out.insert("user_data_base64gzip", cloud_init::gzip_base64(&user_data));
    out.insert("user_data", user_data);
    out.insert(
        "hosts_json",
        terraform::plan_json(&plan_for(Target::Json)?, false),
    );
    out.insert(
        "script",
        installer::render(&plan_for(Target::Script)?, version, &[])?,
    );
    out.insert(
        "config_fragment",
        config_fragment::render(version, &plan.config_path),
    );
    out.insert("config_path", plan.config_path.clone());
    out.insert("containerd", version.to_string());
    Ok(out)
}
