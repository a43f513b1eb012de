//! `regtrust render`: one output of the plan, to stdout, a file, or (hosts) a directory.
use std::path::Path;

use super::args::{Encoding, Escape, RenderArgs, Target};
use super::{exit, load, load_with_secrets};
use crate::containerd::{Version, resolve};
use crate::emit::{cloud_init, config_fragment, ignition, installer, terraform};
use crate::error::{Error, Result};
use crate::fs::Transaction;
use crate::plan::{FileKind, Plan};
use crate::spec::DEFAULT_CONFIG_PATH;

pub fn run(a: &RenderArgs) -> Result<u8> {
    let (loaded, cli_version) = match a.target {
        Target::Hosts | Target::Json => load_with_secrets(&a.spec)?,
        _ => load(&a.spec)?,
    };
    let spec = &loaded.spec;
    refuse_credentials(a, spec)?;
    if let Some(r) = spec
        .runtimes
        .iter()
        .flatten()
        .find(|r| **r != crate::spec::Runtime::Containerd)
    {
        return Err(Error::Usage(format!(
            "the spec's runtimes include {r}: render targets configure containerd only (not \
             built yet for {r}); use `regtrust apply --runtime {r}` on the node or image root, \
             or leave {r} out of `runtimes` to render containerd's part"
        )));
    }
    let version = resolve::decide(resolve::Inputs {
        flag: cli_version,
        spec: spec.containerd,
        ..Default::default()
    })
    .ok()
    .flatten()
    .map(|(v, _)| v);
    let config_path = spec.config_path.as_deref().unwrap_or(DEFAULT_CONFIG_PATH);
    let plan = Plan::build(spec, &[], config_path, version);
    if a.target == Target::Hosts {
        if a.escape != Escape::None {
            return Err(Error::Usage(
                "--escape applies to text outputs, not to --target hosts".into(),
            ));
        }
        let Some(out) = &a.out else {
            return Err(Error::Usage(
                "--target hosts writes a directory tree: pass --out DIR".into(),
            ));
        };
        let n =
            write_tree(&plan, out).map_err(|e| Error::Node(format!("{e}; nothing was written")))?;
        eprintln!(
            "wrote {n} files under {} (config_path on the node: {})",
            out.display(),
            plan.config_path
        );
        return Ok(exit::OK);
    }
    let text = text_output(a, &plan, version).map_err(Error::Usage)?;
    let text = match a.escape {
        Escape::None => text,
        Escape::Terraform => {
            let vars = a
                .template_vars
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .ok_or_else(|| format!("--template-var `{kv}`: expected NAME=VALUE"))
                })
                .collect::<std::result::Result<Vec<_>, String>>()
                .map_err(Error::Usage)?;
            // The text was rendered for one containerd version (table names, the script, its
            // comments): that version cannot become a variable the text would then misstate.
            if let Some(v) = version
                && let Some((name, value)) = vars.iter().find(|(_, value)| {
                    Version::parse(value).is_ok_and(|x| (x.major, x.minor) == (v.major, v.minor))
                })
            {
                return Err(Error::Usage(format!(
                    "--template-var {name}={value}: this output was rendered for containerd {v} \
                     (its config table, script and comments depend on it), so the version cannot \
                     be a template variable; render one output per version with --containerd"
                )));
            }
            terraform::templatize(&terraform::escape(&text), &vars).map_err(Error::Usage)?
        }
    };
    match &a.out {
        Some(path) => {
            crate::fs::write_file(path, text.as_bytes(), output_mode(a.target, &plan))
                .map_err(|e| Error::Node(format!("{e}; nothing was written")))?;
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

fn text_output(
    a: &RenderArgs,
    plan: &Plan,
    version: Option<Version>,
) -> std::result::Result<String, String> {
    if a.target == Target::Json {
        return Ok(terraform::plan_json(plan, a.show_secrets));
    }
    let v = version.ok_or(
        "the config.toml layout depends on the containerd version: pass --containerd \
         (1.6 … 2.3) or set containerd.version in the spec",
    )?;
    Ok(match a.target {
        Target::CloudInit => {
            let opts = cloud_init::Options {
                hosts_only: a.hosts_only,
                gzip: a.encoding == Encoding::GzB64,
                mime: a.mime,
            };
            let text = cloud_init::render(plan, v, opts);
            report_size(text.len(), a.encoding);
            text
        }
        Target::Ignition => {
            if a.mime || a.encoding != Encoding::Plain {
                return Err(
                    "--mime and --encoding apply to --target cloud-init; an Ignition config \
                     compresses each file whose data URL gets smaller"
                        .into(),
                );
            }
            let opts = ignition::Options {
                hosts_only: a.hosts_only,
            };
            let text = ignition::render(plan, v, opts);
            eprintln!("ignition config: {} bytes", text.len());
            text
        }
        Target::Script => installer::render(plan, v),
        _ => config_fragment::render(v, &plan.config_path),
    })
}

/// Credentials go only into outputs that are proven to keep them private: hosts (files 0600)
/// and json (redacted unless --show-secrets). The boot-time outputs (cloud-init, script,
/// Ignition) would put them into user data, which instance metadata serves to anyone on the
/// instance; they refuse, for now, rather than do that unproven.
fn refuse_credentials(a: &RenderArgs, spec: &crate::spec::ValidSpec) -> Result<()> {
    if a.show_secrets && a.target != Target::Json {
        return Err(Error::Usage(
            "--show-secrets applies to --target json only".into(),
        ));
    }
    let name = match a.target {
        Target::CloudInit => "cloud-init",
        Target::Ignition => "ignition",
        Target::Script => "script",
        _ => return Ok(()),
    };
    if crate::spec::secrets::has_auth(spec) {
        return Err(Error::Usage(format!(
            "the spec has credentials (`auth`), which --target {name} does not support yet \
             (they would travel in user data, readable from instance metadata): use `regtrust \
             apply` on the node or image, or --target hosts (files 0600) with your own secret \
             delivery; nothing was written"
        )));
    }
    Ok(())
}

/// Writes the plan's files with paths relative to config_path, under `out`.
fn write_tree(plan: &Plan, out: &Path) -> std::io::Result<usize> {
    let mut tx = Transaction::default();
    for f in &plan.files {
        let rel = f
            .path
            .strip_prefix(&plan.config_path)
            .unwrap_or(&f.path)
            .trim_start_matches('/');
        tx.stage(&out.join(rel), f.content.as_bytes(), f.mode)?;
    }
    tx.commit()?;
    Ok(plan.files.len())
}

/// 0600 for an output that carries a private key (created so, never chmod-ed after writing);
/// 0644 otherwise.
fn output_mode(target: Target, plan: &Plan) -> u32 {
    let carries_files = matches!(
        target,
        Target::CloudInit | Target::Ignition | Target::Script | Target::Json
    );
    let private = |f: &crate::plan::PlannedFile| f.kind == FileKind::PrivateKey || f.secret;
    if carries_files && plan.files.iter().any(private) {
        0o600
    } else {
        0o644
    }
}

fn report_size(bytes: usize, encoding: Encoding) {
    eprintln!("user-data: {bytes} bytes");
    if bytes > cloud_init::EC2_USER_DATA_LIMIT {
        let hint = if encoding == Encoding::Plain {
            "; try --encoding gz+b64"
        } else {
            ""
        };
        eprintln!(
            "warning: above EC2's 16384-byte user-data limit{hint} (or gzip the whole document)"
        );
    }
}
