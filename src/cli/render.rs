//! `regtrust render`: one output of the plan, to stdout, a file, or (hosts) a directory.
use std::path::Path;

use super::args::{Encoding, Escape, RenderArgs, Target};
use super::{exit, load, read_secrets};
use crate::containerd::{Version, resolve};
use crate::emit::deferred::{self, Deferred};
use crate::emit::{cloud_init, config_fragment, ignition, installer, terraform};
use crate::error::{Error, Result};
use crate::fs::Transaction;
use crate::plan::{FileKind, Plan};
use crate::spec::secrets::has_auth;
use crate::spec::{DEFAULT_CONFIG_PATH, Runtime};

thread_local! {
    /// Set while [`occurs_outside_the_spec`] renders its comparison: its notes are not printed.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `eprintln!` for the notes of the plan and text steps, silent in a comparison render.
macro_rules! note {
    ($($t:tt)*) => {
        if !QUIET.with(|q| q.get()) {
            eprintln!($($t)*);
        }
    };
}

pub fn run(a: &RenderArgs) -> Result<u8> {
    if a.target == Target::Kubernetes {
        return super::render_kubernetes::run(a);
    }
    if a.image.is_some() || a.namespace.is_some() || a.restart_containerd {
        return Err(Error::Usage(
            "--image, --namespace and --restart-containerd apply to --target kubernetes only"
                .into(),
        ));
    }
    if a.hosts_only && !matches!(a.target, Target::CloudInit | Target::Ignition) {
        return Err(Error::Usage(
            "--hosts-only applies to --target cloud-init and ignition (the installer always \
             sets config_path; use --target hosts for the files alone)"
                .into(),
        ));
    }
    if a.show_secrets && a.target != Target::Json {
        return Err(Error::Usage(
            "--show-secrets applies to --target json only".into(),
        ));
    }
    let (mut loaded, cli_version) = load(&a.spec)?;
    // The installer, and cloud-init with --escape terraform, carry no password: each
    // credential is planned with a stand-in that the emitter replaces (the password is never
    // read). The other outputs carry them, read now.
    let defer = match a.target {
        Target::Script => true,
        Target::CloudInit => a.escape == Escape::Terraform,
        _ => false,
    };
    let deferred = if !has_auth(&loaded.spec) {
        Vec::new()
    } else if defer {
        deferred::defer(&mut loaded.spec)
    } else {
        if a.target == Target::Ignition && a.escape != Escape::None {
            return Err(Error::Usage(
                "the spec has credentials (`auth`): an Ignition config carries them in data \
                 URLs, where --escape terraform cannot leave them out; render it without \
                 --escape (the file is created 0600), or use --target cloud-init --escape \
                 terraform; nothing was written"
                    .into(),
            ));
        }
        read_secrets(&mut loaded.spec, &a.spec)?;
        Vec::new()
    };
    let spec = &loaded.spec;
    // k3s's embedded containerd is its own runtime: the spec's `runtimes` do not apply.
    if a.target == Target::K3s {
        return render_k3s(a, spec);
    }
    let runtimes = runtimes_for(spec, &a.runtime, a.target, a.hosts_only)?;
    let version = decided_version(cli_version, spec);
    let config_path = spec.config_path.as_deref().unwrap_or(DEFAULT_CONFIG_PATH);
    let mut plan = Plan::build(spec, &[], config_path, version);
    let mut deferred = deferred;
    deferred::mark_config(&mut deferred, &plan);
    if let Some(c) = plan.credentials.first() {
        // Only the boot outputs carry config.toml's credentials (a file their script appends);
        // the others would drop them silently.
        let why = match a.target {
            Target::CloudInit | Target::Script | Target::Ignition if a.hosts_only => {
                Some("--hosts-only leaves config.toml alone")
            }
            Target::CloudInit if a.escape == Escape::Terraform => Some(
                "--escape terraform carries header credentials only (a template variable holds \
                 the whole header value)",
            ),
            Target::CloudInit | Target::Script | Target::Ignition | Target::Json => None,
            _ => Some("this output has no config.toml to carry them"),
        };
        if let Some(why) = why {
            return Err(Error::Usage(format!(
                "the credentials for {} ({}) go into containerd's config.toml (`method: config`, \
                 given, or the default before containerd 2.1; this output is for {}), and {why}. \
                 Set `method: header` on that `auth` (HTTP Basic registries; token registries \
                 such as Docker Hub, Harbor or GitLab need containerd 2.1 or newer for it), use \
                 --target cloud-init, ignition, script or json, or run `regtrust apply` on the \
                 node or image root; nothing was written",
                c.host,
                c.url,
                version.map_or("an unknown containerd version".to_string(), |v| {
                    format!("containerd {v}")
                })
            )));
        }
    }
    add_runtime_parts(&mut plan, spec, &runtimes, a.target);
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
    let text = text_output(a, &plan, version, &deferred).map_err(Error::Usage)?;
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
            if let Some((name, _)) = vars
                .iter()
                .find(|(name, _)| name.starts_with(deferred::TEMPLATE_VAR_PREFIX))
            {
                return Err(Error::Usage(format!(
                    "--template-var {name}: names starting with `{}` are regtrust's, for \
                     credentials",
                    deferred::TEMPLATE_VAR_PREFIX
                )));
            }
            // A value must reach only what the spec put there: one that regtrust's own text has
            // too (a path, a key, a command in a script, a comment) would be rewritten with it.
            for (name, value) in &vars {
                if !value.is_empty() && occurs_outside_the_spec(a, cli_version, value)? {
                    return Err(Error::Usage(format!(
                        "--template-var {name}={value}: `{value}` also occurs in text regtrust \
                         writes itself (a path, a key, a command or a comment), which the \
                         variable would rewrite too; use a value only the spec gives (a \
                         registry's host:port), or render one output per environment; nothing \
                         was written"
                    )));
                }
            }
            let text =
                terraform::templatize(&terraform::escape(&text), &vars).map_err(Error::Usage)?;
            if a.target == Target::CloudInit {
                deferred::replace(&text, &deferred, |d| format!("${{{}}}", d.template_var()))
                    .map_err(Error::Usage)?
            } else {
                text
            }
        }
    };
    warn_credentials(a.target, has_auth(spec), &deferred);
    match &a.out {
        Some(path) => {
            crate::fs::write_file(path, text.as_bytes(), output_mode(a.target, &plan))
                .map_err(|e| Error::Node(format!("{e}; nothing was written")))?;
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

/// The containerd version an output is rendered for: `--containerd`, else the spec's.
pub(super) fn decided_version(
    cli: Option<Version>,
    spec: &crate::spec::ValidSpec,
) -> Option<Version> {
    resolve::decide(resolve::Inputs {
        flag: cli,
        spec: spec.containerd,
        ..Default::default()
    })
    .ok()
    .flatten()
    .map(|(v, _)| v)
}

/// Whether `value` occurs, as a whole value, in the output rendered from the spec with every
/// whole occurrence of `value` in the spec's text replaced by a name of its own: then it comes
/// from regtrust's own text, not the spec. When that spec does not load or render (the value
/// was part of its structure, or of a file path) nothing can be told: false, as before the
/// check.
fn occurs_outside_the_spec(a: &RenderArgs, cli: Option<Version>, value: &str) -> Result<bool> {
    const OTHER: &str = "regtrust-template-value.invalid";
    let text = std::fs::read_to_string(&a.spec.spec)
        .map_err(|e| Error::Usage(format!("{}: {e}", a.spec.spec.display())))?;
    let renamed = terraform::replace_whole_values(&text, value, OTHER);
    let Ok(mut loaded) =
        crate::spec::load::load_str_for(&a.spec.spec.display().to_string(), &renamed, cli)
    else {
        return Ok(false);
    };
    QUIET.with(|q| q.set(true));
    let out = (|| -> Result<String> {
        let mut deferred = deferred::defer(&mut loaded.spec);
        let spec = &loaded.spec;
        let runtimes = runtimes_for(spec, &a.runtime, a.target, a.hosts_only)?;
        let version = decided_version(cli, spec);
        let config_path = spec.config_path.as_deref().unwrap_or(DEFAULT_CONFIG_PATH);
        let mut plan = Plan::build(spec, &[], config_path, version);
        deferred::mark_config(&mut deferred, &plan);
        add_runtime_parts(&mut plan, spec, &runtimes, a.target);
        text_output(a, &plan, version, &deferred).map_err(Error::Usage)
    })();
    QUIET.with(|q| q.set(false));
    Ok(out.is_ok_and(|o| !terraform::whole_values(&o, value).is_empty()))
}

fn text_output(
    a: &RenderArgs,
    plan: &Plan,
    version: Option<Version>,
    deferred: &[Deferred],
) -> std::result::Result<String, String> {
    if a.target == Target::Json {
        return Ok(terraform::plan_json(plan, a.show_secrets));
    }
    // cloud-init's script and the installer read the node's containerd when they run, unless
    // pinned (contracts.md); the other outputs depend on the version when rendered.
    let needs = || {
        version.ok_or(
            "the config.toml layout depends on the containerd version: pass --containerd \
             (1.6 … 2.3) or set containerd.version in the spec (cloud-init and the installer \
             can do without: they read it on the node)",
        )
    };
    Ok(match a.target {
        Target::CloudInit => {
            let opts = cloud_init::Options {
                hosts_only: a.hosts_only,
                gzip: a.encoding == Encoding::GzB64,
                mime: a.mime,
                // Template variables must reach every host the scripts name (cloud-init then
                // writes the same files from the text).
                scripts_as_text: a.escape == Escape::Terraform && !a.template_vars.is_empty(),
            };
            let text = cloud_init::render(plan, version, opts);
            // Above EC2's limit the warning gives the alternatives' sizes (rendered only then, and
            // not for the comparison render of --template-var, whose notes are not printed).
            let over = text.len() > cloud_init::EC2_USER_DATA_LIMIT && !QUIET.with(|q| q.get());
            // What the user-data weighs with containerd's part alone, when the node decides.
            let containerd_only = (over && plan.runtimes_on_node).then(|| {
                let mut p = plan.clone();
                p.runtimes_on_node = false;
                p.docker = None;
                p.files.retain(|f| f.runtime == Runtime::Containerd);
                cloud_init::render(&p, version, opts).len()
            });
            // And with every file gz+b64, when it is not already.
            let files_gzipped = (over && a.encoding == Encoding::Plain).then(|| {
                cloud_init::render(plan, version, cloud_init::Options { gzip: true, ..opts }).len()
            });
            report_size(&text, files_gzipped, containerd_only);
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
            let text = ignition::render(plan, needs()?, opts);
            note!("ignition config: {} bytes", text.len());
            text
        }
        Target::Script => installer::render(plan, version, deferred)?,
        _ => config_fragment::render(needs()?, &plan.config_path),
    })
}

/// The runtimes a render target configures besides containerd.
pub(super) struct Runtimes {
    pub docker: bool,
    pub podman: bool,
    /// The node decides (cloud-init and the installer, nothing pinned): each part applies where
    /// the node has the runtime.
    pub on_node: bool,
}

/// `--runtime`, else the spec's `runtimes`; with neither, cloud-init and the installer decide on
/// the node (contracts.md: they carry every runtime's part, each applied where the node has it)
/// and the other targets configure containerd. A runtime the target cannot configure is refused.
pub(super) fn runtimes_for(
    spec: &crate::spec::ValidSpec,
    cli: &[Runtime],
    target: Target,
    hosts_only: bool,
) -> Result<Runtimes> {
    let pinned = !cli.is_empty() || spec.runtimes.is_some();
    // --hosts-only user-data has no runcmd to run the other runtimes' script.
    let on_node = !pinned && !hosts_only && matches!(target, Target::CloudInit | Target::Script);
    let runtimes = if on_node {
        Runtime::ALL.to_vec()
    } else if cli.is_empty() {
        spec.runtimes.clone().unwrap_or_default()
    } else {
        cli.to_vec()
    };
    let podman = runtimes.contains(&Runtime::Podman);
    let docker = runtimes.contains(&Runtime::Docker);
    // Which targets carry which runtime's part: podman's files are plain files (cloud-init,
    // the installer, Ignition); docker's daemon.json is merged by Python 3 on the node (cloud-init,
    // the installer: Flatcar and Fedora CoreOS have no Python for an Ignition unit).
    let carries = |r: Runtime| match r {
        Runtime::Podman => matches!(
            target,
            Target::CloudInit | Target::Script | Target::Ignition | Target::Json
        ),
        Runtime::Docker => matches!(target, Target::CloudInit | Target::Script | Target::Json),
        _ => true,
    };
    if let Some(r) = runtimes.iter().find(|r| !carries(**r)) {
        return Err(Error::Usage(format!(
            "the runtimes include {r}: this render target does not configure it (cloud-init and \
             script write podman's and docker's part, json lists both, ignition writes \
             podman's); use `regtrust apply \
             --runtime {r}` on the node or image root, or leave {r} out of the runtimes to \
             render containerd's part"
        )));
    }
    if let Some(r) = [Runtime::Podman, Runtime::Docker]
        .into_iter()
        .find(|r| runtimes.contains(r) && !runtimes.contains(&Runtime::Containerd))
    {
        return Err(Error::Usage(format!(
            "the runtimes are {r} without containerd: cloud-init and script always write \
             containerd's part; list containerd too, or use `regtrust apply --runtime {r}` on \
             the node or image root"
        )));
    }
    Ok(Runtimes {
        docker,
        podman,
        on_node,
    })
}

/// Adds the runtimes' parts besides containerd's to the plan of a boot-time output.
pub(super) fn add_runtime_parts(
    plan: &mut Plan,
    spec: &crate::spec::ValidSpec,
    runtimes: &Runtimes,
    target: Target,
) {
    plan.runtimes_on_node = runtimes.on_node;
    if runtimes.podman {
        add_containers_files(plan, spec, target);
    }
    if runtimes.docker {
        add_docker_part(plan, spec, target);
    }
}

/// What a render target's output is called in messages.
fn target_noun(target: Target) -> &'static str {
    match target {
        Target::Script => "installer",
        Target::Ignition => "Ignition config",
        Target::Json => "JSON plan",
        _ => "user-data",
    }
}

/// containers-image's files (the registries.conf drop-in, certs.d) added to the plan's files, for
/// the boot-time outputs: written as they are, like hosts.toml. auth.json is not: it must be
/// merged with the node's own entries, which only `apply` does (said on stderr).
fn add_containers_files(plan: &mut Plan, spec: &crate::spec::ValidSpec, target: Target) {
    let mut cp = crate::containers_image::ContainersPlan::build(spec);
    for n in &cp.notes {
        note!("note: {n}");
    }
    if !cp.auths.is_empty() {
        let hosts: Vec<&str> = cp.auths.iter().map(|a| a.key.as_str()).collect();
        note!(
            "warning: the credentials for {} are not written for Podman, CRI-O, Buildah and \
             Skopeo by this {}: {} must be merged with the node's own entries; run `regtrust \
             apply --runtime podman` on the node",
            hosts.join(", "),
            target_noun(target),
            crate::containers_image::AUTH_JSON
        );
        cp.auths.clear();
    }
    let drop_in = cp.drop_in();
    plan.files.extend(cp.files);
    plan.files.push(drop_in);
}

/// Docker Engine's part for the boot-time outputs: the certs.d files added to the plan's files
/// (written as they are), and the daemon.json entries, which the output merges on the node
/// (`emit::docker_merge`). root's config.json is not written: it must be merged with the
/// node's own logins, which only `apply` does (said on stderr).
fn add_docker_part(plan: &mut Plan, spec: &crate::spec::ValidSpec, target: Target) {
    let mut dp = crate::plan::DockerPlan::build(spec);
    for n in &dp.notes {
        note!("note: {n}");
    }
    if !dp.auths.is_empty() {
        let hosts: Vec<&str> = dp.auths.iter().map(|(k, _)| k.as_str()).collect();
        note!(
            "warning: the credentials for {} are not written for the docker CLI by this {}: {} \
             must be merged with the node's own logins; run `regtrust apply --runtime docker` on \
             the node",
            hosts.join(", "),
            target_noun(target),
            crate::docker::CONFIG_JSON
        );
        dp.auths.clear();
    }
    if target == Target::Script {
        note!(
            "note: the installer merges {} with python3, and stops before writing anything where \
             python3 is missing{}",
            crate::docker::DAEMON_JSON,
            if plan.runtimes_on_node {
                " on a node with Docker Engine"
            } else {
                ""
            }
        );
    }
    plan.files.extend(dp.files.iter().cloned());
    plan.docker = Some(dp);
}

/// `--target k3s`: registries.yaml, with every dropped setting named on stderr. With
/// credentials the file carries the passwords (k3s has no other way): `--out` is created 0600.
fn render_k3s(a: &RenderArgs, spec: &crate::spec::ValidSpec) -> Result<u8> {
    if a.escape != Escape::None || a.hosts_only || a.mime || a.encoding != Encoding::Plain {
        return Err(Error::Usage(
            "--escape, --hosts-only, --mime and --encoding do not apply to --target k3s".into(),
        ));
    }
    let (text, warnings) = crate::k3s::export(spec);
    for w in &warnings {
        eprintln!("{w}");
    }
    let secret = has_auth(spec);
    if secret {
        eprintln!(
            "warning: this registries.yaml carries registry passwords (configs.*.auth): keep it \
             root-owned 0600 on the node, and out of logs and version control"
        );
    }
    match &a.out {
        Some(path) => {
            crate::fs::write_file(path, text.as_bytes(), if secret { 0o600 } else { 0o644 })
                .map_err(|e| Error::Node(format!("{e}; nothing was written")))?;
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

/// What an output with credentials does with them, on stderr (never a password).
fn warn_credentials(target: Target, has_auth: bool, deferred: &[Deferred]) {
    if !has_auth {
        return;
    }
    match target {
        Target::CloudInit | Target::Ignition if deferred.is_empty() => {
            let what = if target == Target::CloudInit {
                "this user-data"
            } else {
                "this Ignition config"
            };
            eprintln!(
                "warning: {what} carries registry credentials: instance metadata serves it to \
                 any process on the instance that can reach it, and it stays in the instance's \
                 settings; the node's files holding them (hosts.toml, or config.toml and its \
                 credentials file) are root-owned 0600. Keep \
                 the output out of logs and version control{}",
                if target == Target::CloudInit {
                    " (or render it with --escape terraform and pass the credentials as \
                     sensitive variables)"
                } else {
                    ""
                }
            );
        }
        Target::CloudInit => {
            eprintln!(
                "note: the credentials are template variables, each the whole Authorization \
                 value: pass them to templatefile() from sensitive variables. Once filled in, \
                 the user-data carries them (instance metadata serves it to any process on the \
                 instance that can reach it):"
            );
            for d in deferred {
                eprintln!(
                    "  {} = \"Basic ${{base64encode(\"{}:${{var.<password>}}\")}}\"   # `{}` on {}",
                    d.template_var(),
                    d.username,
                    d.username,
                    d.url
                );
            }
        }
        Target::Script => {
            for d in deferred {
                eprintln!(
                    "note: the installer reads {} for {} from the environment variable {} at run \
                     time (it is not in the script) and fails, writing nothing, without it",
                    d.what(),
                    d.url,
                    d.env
                );
            }
            eprintln!(
                "warning: the files the installer writes hold the credentials (hosts.toml, or \
                 config.toml and its credentials file; root-owned 0600): an image built with it \
                 contains them"
            );
        }
        _ => {}
    }
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
    if carries_files && (plan.files.iter().any(private) || !plan.credentials.is_empty()) {
        0o600
    } else {
        0o644
    }
}

fn report_size(text: &str, files_gzipped: Option<usize>, containerd_only: Option<usize>) {
    if QUIET.with(|q| q.get()) {
        return;
    }
    let bytes = text.len();
    note!("user-data: {bytes} bytes");
    if bytes <= cloud_init::EC2_USER_DATA_LIMIT {
        return;
    }
    let gzipped = cloud_init::gzip(text).len();
    let fits = |n: usize| {
        if n <= cloud_init::EC2_USER_DATA_LIMIT {
            ""
        } else {
            ", still above it"
        }
    };
    let hint = files_gzipped.map_or(String::new(), |n| {
        format!("; try --encoding gz+b64: {n} bytes{}", fits(n))
    });
    note!(
        "warning: above EC2's 16384-byte user-data limit{hint} (or gzip the whole document: \
         {gzipped} bytes{})",
        fits(gzipped)
    );
    if let Some(n) = containerd_only {
        note!(
            "note: this user-data carries Docker Engine's and Podman's part too, applied where \
             the node has them; with the runtimes pinned (`runtimes: [containerd]` in the \
             spec, or --runtime containerd) it is {n} bytes{}",
            fits(n)
        );
    }
}
