//! `--target script`: one self-contained POSIX sh installer (for Packer provisioners, image
//! builds, or any node without the regtrust binary). Every value enters the script through
//! [`crate::templates::shell_quote`]. A credential is never in the script: it reads each
//! password from an environment variable at run time (see [`super::deferred`]).
use serde::Serialize;

use super::deferred::{Deferred, is_shell_name};
use crate::containerd::layout::DEFAULT_CONFIG_FILE;
use crate::containerd::{ConfigLayout, Version};
use crate::emit::runtimes_sh;
use crate::plan::Plan;
use crate::spec::Runtime;
use crate::templates::shell_quote;

#[derive(Serialize)]
struct FileSh<'a> {
    path: &'a str,
    mode: String,
    /// The content as a shell word: quoted, each credential as `"$regtrust_auth_N"`.
    content: String,
}

#[derive(Serialize)]
struct Credential {
    /// `regtrust_auth_N`, the shell variable holding the whole `Authorization` value.
    var: String,
    /// The environment variable with the password.
    env: String,
    username: String,
    /// Why the run stops when the variable is unset or empty.
    missing: String,
    /// The variable holds the password for config.toml (TOML-escaped), not a header value.
    config: bool,
}

/// The installer. `deferred`: the plan's credentials (planned with stand-in passwords); an
/// error names a `password_env` that is no shell variable name.
/// `containerd`: the version it is for, or `None`: it reads the node's (or the root's) when it
/// runs.
pub fn render(
    plan: &Plan,
    containerd: impl Into<Option<Version>>,
    deferred: &[Deferred],
) -> Result<String, String> {
    let containerd: Option<Version> = containerd.into();
    let mut creds = Vec::new();
    for d in deferred {
        if !is_shell_name(&d.env) {
            return Err(format!(
                "password_env `{}` (for `{}` on {}) is not a shell variable name, which the \
                 installer reads the password from at run time: use letters, digits and `_`",
                d.env, d.username, d.url
            ));
        }
        creds.push(Credential {
            var: format!("regtrust_auth_{}", d.n),
            env: d.env.clone(),
            username: d.username.clone(),
            missing: format!(
                "{} for {} is read from the environment variable {}, which is not set or empty; \
                 nothing was written",
                d.what(),
                d.url,
                d.env
            ),
            config: d.in_config,
        });
    }
    let creds_file = plan.credentials_file();
    // containerd's files; Docker Engine's and containers-image's are the runtimes part's.
    let files: Vec<FileSh<'_>> = plan
        .files
        .iter()
        .filter(|f| f.runtime == Runtime::Containerd)
        .chain(creds_file.iter())
        .map(|f| {
            let mut content = shell_quote(&f.content);
            for d in deferred {
                // Inside single quotes (a hosts.toml always has spaces): close, expand, reopen.
                content =
                    content.replace(d.placeholder(), &format!("'\"$regtrust_auth_{}\"'", d.n));
            }
            FileSh {
                path: &f.path,
                mode: format!("{:04o}", f.mode),
                content,
            }
        })
        .collect();
    let planned: Vec<&str> = plan
        .files
        .iter()
        .filter(|f| f.runtime == Runtime::Containerd)
        .map(|f| f.path.as_str())
        .collect();
    let n = plan.hosts.len();
    let summary = format!(
        "{n} registr{} under {}",
        if n == 1 { "y" } else { "ies" },
        plan.config_path
    );
    let mut script = crate::templates::render(
        "installer.sh",
        minijinja::context! {
            version => containerd.map(|v| v.to_string()).unwrap_or_default(),
            summary,
            config_file => DEFAULT_CONFIG_FILE,
            config_path => plan.config_path.as_str(),
            new_file_version => containerd.map_or(0, |v| ConfigLayout::native_for(&v).number()),
            files,
            creds,
            planned => planned.join("\n"),
            with_credentials => creds_file.is_some(),
            credentials_file => crate::containerd::layout::CREDENTIALS_FILE,
            mark => crate::containerd::credentials::MARK,
            placeholder => crate::containerd::credentials::PLUGIN_PLACEHOLDER,
            what => "installer",
            // The node decides its runtimes: containerd's part too, when the version is not
            // pinned (a node without containerd is left alone).
            containerd_optional => plan.runtimes_on_node && containerd.is_none(),
            containerd_binaries => crate::containerd::installed::BINARIES
                .iter()
                .map(|p| shell_quote(p))
                .collect::<Vec<_>>()
                .join(" "),
            ..minijinja::Value::from_serialize(runtimes_sh::context(plan)),
        },
    );
    script.push('\n');
    Ok(script)
}
