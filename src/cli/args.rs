//! Every command-line flag, defined once.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::containerd::Version;

#[derive(Parser, Debug)]
#[command(
    name = "regtrust",
    version,
    about = "Make containerd trust your registries: \
    renders and applies hosts.toml + config_path from one registry spec"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the node is: shared by apply, doctor and migrate.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// The node's root directory (an image being built, a chroot)
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// config.toml, as a path on the node
    #[arg(long, value_name = "PATH", default_value = crate::containerd::layout::DEFAULT_CONFIG_FILE)]
    pub config: String,
}

/// `--containerd`, parsed into the version type (one definition for every command).
#[derive(Args, Debug, Clone, Copy)]
pub struct ContainerdArg {
    /// containerd version of the node: 1.6, 1.7, 2.0, 2.1, 2.2, 2.3 (a patch level may follow).
    /// Default: the spec's containerd.version; on a node, what is installed there (read from the
    /// package database or the binary's build information, never run), else what the containerd
    /// running on its socket reports, else config.toml's `version`
    #[arg(long = "containerd", value_name = "VERSION", value_parser = VersionParser, hide_possible_values = true)]
    pub version: Option<Version>,
}

/// Parses `--containerd` with [`Version::parse`], and offers the release lines regtrust knows to
/// shell completion (a patch level such as 1.6.20 is accepted too).
#[derive(Clone)]
struct VersionParser;

impl clap::builder::TypedValueParser for VersionParser {
    type Value = Version;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Version, clap::Error> {
        // The function parser's errors, as clap words them for every other flag.
        let parse: fn(&str) -> Result<Version, String> = Version::parse;
        parse.parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            crate::containerd::version::SUPPORTED_NAMES
                .iter()
                .map(|v| clap::builder::PossibleValue::new(*v)),
        ))
    }
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// The registry spec (YAML or JSON)
    #[arg(long, short = 's', value_name = "FILE")]
    pub spec: PathBuf,
    #[command(flatten)]
    pub containerd: ContainerdArg,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// text: every problem with its source line; json: an array of objects with code, severity,
    /// message, file, line, column, help
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a spec; print every problem with file:line:column
    #[command(
        after_help = "Examples:\n  regtrust check --spec examples/registries.yaml\n  \
        regtrust check --spec registries.yaml --format json   # every diagnostic as JSON"
    )]
    Check(CheckArgs),
    /// Print or write one output for a spec
    #[command(
        after_help = "Examples:\n  regtrust render --spec examples/registries.yaml --target hosts --out ./certs.d\n  \
        regtrust render --spec examples/registries.yaml --target containerd-config --containerd 1.7\n  \
        regtrust render --spec registries.yaml --target k3s --out /etc/rancher/k3s/registries.yaml"
    )]
    Render(RenderArgs),
    /// Write the certs.d tree and patch config.toml (and Docker's daemon.json, containers-image's registries.conf.d) on a node or image root
    #[command(
        after_help = "Examples:\n  regtrust apply --spec registries.yaml --dry-run\n  \
        regtrust apply --spec registries.yaml --root /mnt/image --containerd 1.7\n  \
        regtrust apply --spec registries.yaml --runtime docker   # Docker Engine only\n  \
        regtrust apply --spec registries.yaml --runtime containerd,podman\n  \
        regtrust apply --spec registries.yaml --check   # exit 1 when the node drifted"
    )]
    Apply(ApplyArgs),
    /// Terraform `external` data source: a JSON query on stdin, a flat JSON object on stdout
    #[command(
        after_help = "Example (Terraform):\n  data \"external\" \"regtrust\" {\n    \
        program = [\"regtrust\", \"terraform-external\"]\n    \
        query   = { spec = file(\"registries.yaml\"), containerd = \"1.7\" }\n  }\n  \
        # data.external.regtrust.result.user_data, .user_data_base64gzip, .hosts_json, .script"
    )]
    TerraformExternal,
    /// Diagnose a node's registry trust: config.toml, its imports, every hosts.toml; Docker
    /// Engine's daemon.json and certs.d when it is installed
    #[command(after_help = "Examples:\n  regtrust doctor\n  \
        regtrust doctor --image my.private.registry:5000/app:1 --probe\n  \
        regtrust doctor --spec registries.yaml          # Docker: daemon.json against the spec\n  \
        regtrust doctor --root /mnt/image --containerd 1.7 --format json\n\n\
        Exit status: 0 no problems, 1 problems found, 2 invalid arguments, 3 the node could not be read.")]
    Doctor(DoctorArgs),
    /// Turn legacy registry.mirrors / registry.configs of config.toml into a regtrust spec
    #[command(
        after_help = "Example:\n  regtrust migrate --emit-spec registries.yaml && regtrust apply --spec registries.yaml"
    )]
    Migrate(MigrateArgs),
    /// Turn another tool's registry configuration into a regtrust spec
    #[command(
        after_help = "Example:\n  regtrust import k3s /etc/rancher/k3s/registries.yaml --emit-spec registries.yaml"
    )]
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Print the JSON Schema of the registry spec (for editors and CI checks)
    #[command(
        after_help = "Example:\n  regtrust schema > regtrust-spec.schema.json\n  \
        # then, first line of a spec: # yaml-language-server: $schema=regtrust-spec.schema.json"
    )]
    Schema,
    /// Print shell completions
    #[command(
        after_help = "Example:\n  regtrust completions bash > /etc/bash_completion.d/regtrust"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    #[command(after_help = "Example:\n  regtrust man > regtrust.1 && man ./regtrust.1")]
    Man,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The certs.d tree: <out>/<host>/hosts.toml plus CA and client files
    Hosts,
    /// The config.toml fragment for the containerd version
    ContainerdConfig,
    /// cloud-init `#cloud-config` user-data (write_files + runcmd)
    CloudInit,
    /// An Ignition config (spec 3.3.0) for Flatcar and Fedora CoreOS: files + a oneshot unit
    Ignition,
    /// A self-contained POSIX sh installer (no regtrust binary needed on the target)
    Script,
    /// The plan as JSON (files with path, mode, content; actions), for Terraform's jsondecode()
    Json,
    /// k3s / RKE2 registries.yaml (mirrors and configs; what it cannot express is dropped, with a
    /// warning)
    K3s,
    /// Kubernetes manifests: the spec as a ConfigMap, a DaemonSet running `apply --watch` on
    /// every node (needs --image)
    Kubernetes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Escape {
    /// The text as it is
    None,
    /// A Terraform templatefile() template: `${` → `$${`, `%{` → `%%{`
    Terraform,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// File contents as YAML text
    Plain,
    /// File contents gzipped and base64-encoded (cloud-init `encoding: gz+b64`)
    #[value(name = "gz+b64")]
    GzB64,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[arg(long, short = 't', value_enum)]
    pub target: Target,
    /// Output directory (required for --target hosts); a file for the other targets
    #[arg(long, short = 'o', value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// cloud-init, ignition: the image already sets config_path; write hosts files only, no restart
    #[arg(long)]
    pub hosts_only: bool,
    /// cloud-init: how file contents are encoded
    #[arg(long, value_enum, default_value = "plain")]
    pub encoding: Encoding,
    /// cloud-init: wrap the document in a MIME multipart message (text/cloud-config part)
    #[arg(long)]
    pub mime: bool,
    /// Escape the text output for a templating language
    #[arg(long, value_enum, default_value = "none")]
    pub escape: Escape,
    /// With --escape terraform: NAME=VALUE, every VALUE in the output becomes ${NAME}
    #[arg(long = "template-var", value_name = "NAME=VALUE", requires = "escape")]
    pub template_vars: Vec<String>,
    /// json: show credentials (`Authorization` headers) instead of `Basic <redacted>`
    #[arg(long)]
    pub show_secrets: bool,
    /// kubernetes: the container image with regtrust at /regtrust (deploy/build-image builds it)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// kubernetes: the namespace of the ConfigMap and the DaemonSet (it must exist; default
    /// kube-system)
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// kubernetes: the DaemonSet restarts containerd (SIGTERM; systemd's Restart=always starts
    /// it again) when config.toml changed; its pods get hostPID
    #[arg(long)]
    pub restart_containerd: bool,
    /// cloud-init, script (and ignition, for podman): the runtimes to configure: containerd,
    /// docker, podman (comma-separated or repeated; containerd must be among them; overrides the
    /// spec's `runtimes`)
    #[arg(long, value_name = "RUNTIME", value_delimiter = ',', value_parser = parse_runtime)]
    pub runtime: Vec<crate::spec::Runtime>,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    /// Print a diff of what would change; write nothing
    #[arg(long, conflicts_with = "check")]
    pub dry_run: bool,
    /// Exit 1 when the node differs from the spec, 0 when in sync; write nothing
    #[arg(long)]
    pub check: bool,
    /// The runtimes to configure: containerd, docker, podman (Podman, CRI-O, Buildah, Skopeo;
    /// also named cri-o) (comma-separated or repeated; overrides the spec's `runtimes`; default:
    /// what is installed under the root)
    #[arg(long, value_name = "RUNTIME", value_delimiter = ',', value_parser = parse_runtime)]
    pub runtime: Vec<crate::spec::Runtime>,
    /// Keep the node in line: apply, then every SECONDS read the spec (and its password files)
    /// again and apply what differs; prints only when what it says changes; runs until stopped
    /// (the Kubernetes DaemonSet runs it)
    #[arg(long, value_name = "SECONDS", conflicts_with_all = ["check", "dry_run"])]
    pub watch: Option<u64>,
    /// When config.toml changed, or the containerd running on the root's socket started before
    /// it last changed: SIGTERM to that containerd, for its service manager to start it again
    /// (systemd: Restart=always); its process must be visible (a pod needs hostPID)
    #[arg(long, conflicts_with_all = ["check", "dry_run"])]
    pub restart_containerd: bool,
    /// Output: the text report, or one JSON object on stdout (changed, files_changed, restart,
    /// notes; with --dry-run also the diff), credentials redacted as in the text report
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn parse_runtime(s: &str) -> Result<crate::spec::Runtime, String> {
    crate::spec::Runtime::parse(s)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub containerd: ContainerdArg,
    /// Explain how this image reference resolves (repeatable)
    #[arg(long, value_name = "REF")]
    pub image: Vec<String>,
    /// Ask each endpoint what it really speaks (TLS or plain HTTP, certificate verified), and a
    /// running containerd whether its CRI plugin loaded; short timeouts
    #[arg(long)]
    pub probe: bool,
    /// containerd's socket for --probe (default: <root>/run/containerd/containerd.sock)
    #[arg(long, value_name = "SOCKET")]
    pub address: Option<String>,
    /// The spec to check Docker Engine's daemon.json against (its plain-HTTP and skip_verify
    /// registries must be in insecure-registries)
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub containerd: ContainerdArg,
    /// Where to write the spec ("-" for stdout)
    #[arg(long, value_name = "FILE")]
    pub emit_spec: PathBuf,
    /// Do not ask the registries what they speak (by default every `https://` endpoint with
    /// `insecure_skip_verify` is probed, 2 s each: plain HTTP becomes `http: true`)
    #[arg(long)]
    pub no_probe: bool,
    /// Where the credentials of `configs.*.auth` go, one 0600 file each, named by the spec
    /// (default: `<spec>.secrets/` beside the spec)
    #[arg(long, value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ImportFrom {
    /// k3s / RKE2 registries.yaml
    #[command(after_help = "Examples:\n  \
        regtrust import k3s /etc/rancher/k3s/registries.yaml --emit-spec registries.yaml\n  \
        regtrust import k3s /etc/rancher/rke2/registries.yaml --emit-spec - | less")]
    K3s {
        /// The registries.yaml file
        file: PathBuf,
        /// Where to write the spec ("-" for stdout)
        #[arg(long, value_name = "FILE")]
        emit_spec: PathBuf,
        /// Do not ask the registries what they speak (by default every `https://` endpoint with
        /// `insecure_skip_verify` is probed, 2 s each: plain HTTP becomes `http: true`)
        #[arg(long)]
        no_probe: bool,
        /// Where the credentials of `configs.*.auth` go, one 0600 file each, named by the spec
        /// (default: `<spec>.secrets/` beside the spec)
        #[arg(long, value_name = "DIR")]
        secrets_dir: Option<PathBuf>,
    },
}
