//! Docker Engine's and containers-image's part of the sh outputs (`templates/runtimes-*.sh.j2`):
//! the installer includes it after containerd's files, and cloud-init runs it as its own script
//! when the node decides the runtimes. Each part is guarded by a `with_<runtime>` variable: `1`
//! when the runtimes were pinned (the spec's `runtimes`, `--runtime`), else set on the node from
//! the paths `regtrust apply` looks for ([`crate::docker::INSTALLED_EVIDENCE`],
//! [`crate::containers_image::INSTALLED_EVIDENCE`]).
use serde::Serialize;

use crate::plan::{FileKind, Plan};
use crate::spec::Runtime;
use crate::templates::shell_quote;

/// Where cloud-init writes the script on the node.
pub const SCRIPT_PATH: &str = "/usr/local/sbin/regtrust-runtimes-config";

/// A file the script writes with `put_file`.
#[derive(Serialize)]
struct FileSh {
    path: String,
    mode: String,
    /// The content as one shell word.
    content: String,
    /// `docker` or `podman`: the `with_` variable guarding it.
    runtime: &'static str,
}

/// One runtime the script configures, and what says the node has it.
#[derive(Serialize)]
struct Part {
    name: &'static str,
    title: &'static str,
    /// The node paths, as shell words.
    evidence: String,
    /// The same paths, for the message when none exists.
    evidence_said: String,
}

/// The template context of the part (merged into the installer's, or the script's own).
#[derive(Serialize)]
pub struct Context {
    detect: bool,
    runtimes: Vec<Part>,
    runtime_files: Vec<FileSh>,
    /// Docker Engine's daemon.json merge (`emit::docker_merge::installer_part`).
    docker: Option<String>,
    /// The containers-image drop-in's node path, when that part is carried.
    crio_drop_in: Option<String>,
    /// containers-image's planned files, one node path a line (what is not removed).
    ci_planned: String,
    ci_certs_d: &'static str,
}

impl Context {
    /// Whether any runtime besides containerd is carried.
    pub fn is_empty(&self) -> bool {
        self.runtimes.is_empty()
    }
}

/// The runtimes besides containerd the plan carries: docker with its daemon.json part, podman
/// with its drop-in.
fn carried(plan: &Plan) -> Vec<Runtime> {
    let mut r = Vec::new();
    if plan.docker.is_some() {
        r.push(Runtime::Docker);
    }
    if plan
        .files
        .iter()
        .any(|f| f.kind == FileKind::ContainersConf)
    {
        r.push(Runtime::Podman);
    }
    r
}

pub fn context(plan: &Plan) -> Context {
    let runtimes = carried(plan)
        .into_iter()
        .map(|r| {
            let (title, evidence): (&str, &[&str]) = match r {
                Runtime::Docker => ("Docker Engine", &crate::docker::INSTALLED_EVIDENCE),
                _ => (
                    "Podman/CRI-O/Buildah/Skopeo",
                    &crate::containers_image::INSTALLED_EVIDENCE,
                ),
            };
            Part {
                name: r.name(),
                title,
                evidence: evidence
                    .iter()
                    .map(|p| shell_quote(p))
                    .collect::<Vec<_>>()
                    .join(" "),
                evidence_said: evidence.join(", "),
            }
        })
        .collect();
    let runtime_files = plan
        .files
        .iter()
        .filter(|f| f.runtime != Runtime::Containerd)
        .map(|f| FileSh {
            path: f.path.clone(),
            mode: format!("{:04o}", f.mode),
            content: shell_quote(&f.content),
            runtime: f.runtime.name(),
        })
        .collect();
    let ci_planned = plan
        .files
        .iter()
        .filter(|f| f.runtime == Runtime::Podman)
        .map(|f| f.path.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    Context {
        detect: plan.runtimes_on_node,
        runtimes,
        runtime_files,
        docker: plan
            .docker
            .as_ref()
            .map(crate::emit::docker_merge::installer_part),
        crio_drop_in: plan
            .files
            .iter()
            .find(|f| f.kind == FileKind::ContainersConf)
            .map(|f| f.path.clone()),
        ci_planned,
        ci_certs_d: crate::containers_image::CERTS_D,
    }
}

/// cloud-init's script for the part (run from `runcmd` after containerd's), or `None` when the
/// plan carries no runtime besides containerd.
pub fn script(plan: &Plan) -> Option<String> {
    let ctx = context(plan);
    if ctx.is_empty() {
        return None;
    }
    let names: Vec<&str> = ctx.runtimes.iter().map(|p| p.title).collect();
    let mut script = crate::templates::render(
        "runtimes.sh",
        minijinja::context! {
            names => names.join(" and "),
            what => "script",
            summary => format!("{} files", ctx.runtime_files.len()),
            ..minijinja::Value::from_serialize(&ctx)
        },
    );
    script.push('\n');
    Some(script)
}
