//! `render --target kubernetes`: a ConfigMap holding the spec and a DaemonSet that runs
//! `regtrust apply --watch` on every node's root mounted under `/host` (multi-document YAML).
//!
//! What the DaemonSet mounts from the host is what apply writes there (config.toml's directory,
//! config_path, the lock directory, Docker's directory when docker is among the runtimes) and
//! the directory of containerd's socket, read-only (to know when the running containerd started:
//! `containerd::running`). Credentials come from a Secret the user creates, projected where the
//! spec's `password_file` names them (a relative path: beside the spec), or as environment
//! variables for `password_env`; the ConfigMap never holds one (the caller refuses an inline
//! password). Nothing here reads the node or the spec: the caller passes what to serialise.
use std::collections::BTreeMap;

use serde::Serialize;
use serde_saphyr::LitString;

/// Where the pod sees the node's `/`.
pub const HOST_ROOT: &str = "/host";
/// Where the spec (and relative password files) are projected in the pod.
pub const SPEC_DIR: &str = "/etc/regtrust/spec";
/// The spec's file name in the ConfigMap and in [`SPEC_DIR`].
pub const SPEC_FILE: &str = "registries.yaml";
/// The binary's path in the image (`deploy/Containerfile`).
pub const BINARY: &str = "/regtrust";
/// The Secret the credentials come from.
pub const SECRET: &str = "regtrust-credentials";
/// `apply --watch` interval, seconds.
pub const WATCH_SECONDS: u64 = 10;
const NAME: &str = "regtrust";

/// One node directory the pod mounts under [`HOST_ROOT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDir {
    pub node_path: String,
    pub read_only: bool,
    /// kubelet creates it when missing (`DirectoryOrCreate`); else it must exist (`Directory`).
    pub create: bool,
}

/// One credential of the spec, and the Secret key it is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `password_file`: a path relative to the spec's directory, or absolute.
    File { key: String, path: String },
    /// `password_env`.
    Env { key: String, name: String },
}

pub struct Options<'a> {
    pub spec_text: &'a str,
    pub image: &'a str,
    pub namespace: &'a str,
    /// `--containerd` for apply, when given at render time.
    pub containerd: Option<String>,
    /// `--runtime` for apply (the spec's `runtimes`, when it names them).
    pub runtimes: Vec<String>,
    pub restart_containerd: bool,
    pub host_dirs: Vec<HostDir>,
    pub credentials: Vec<Credential>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<S: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(flatten)]
    body: S,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    namespace: String,
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
struct ConfigMapBody {
    data: BTreeMap<&'static str, Text>,
}

/// The spec text: a block literal when it reads back the same, else a quoted string.
#[derive(Serialize)]
#[serde(untagged)]
enum Text {
    Block(LitString),
    Quoted(String),
}

#[derive(Serialize)]
struct DaemonSetBody {
    spec: DaemonSetSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DaemonSetSpec {
    selector: Selector,
    update_strategy: UpdateStrategy,
    template: PodTemplate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateStrategy {
    r#type: &'static str,
    rolling_update: RollingUpdate,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RollingUpdate {
    max_unavailable: &'static str,
}

#[derive(Serialize)]
struct PodTemplate {
    metadata: TemplateMetadata,
    spec: PodSpec,
}

#[derive(Serialize)]
struct TemplateMetadata {
    labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(rename = "hostPID", skip_serializing_if = "std::ops::Not::not")]
    host_pid: bool,
    automount_service_account_token: bool,
    termination_grace_period_seconds: u32,
    tolerations: Vec<Toleration>,
    containers: Vec<Container>,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
struct Toleration {
    operator: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: &'static str,
    image: String,
    command: Vec<String>,
    args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<EnvVar>,
    resources: Resources,
    readiness_probe: Probe,
    security_context: SecurityContext,
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvVar {
    name: String,
    value_from: EnvSource,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvSource {
    secret_key_ref: KeyRef,
}

#[derive(Serialize)]
struct KeyRef {
    name: &'static str,
    key: String,
}

#[derive(Serialize)]
struct Resources {
    requests: BTreeMap<&'static str, &'static str>,
    limits: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    exec: ExecAction,
    initial_delay_seconds: u32,
    period_seconds: u32,
    timeout_seconds: u32,
    failure_threshold: u32,
}

#[derive(Serialize)]
struct ExecAction {
    command: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    run_as_user: u32,
    run_as_group: u32,
    read_only_root_filesystem: bool,
    allow_privilege_escalation: bool,
    capabilities: Capabilities,
}

#[derive(Serialize)]
struct Capabilities {
    drop: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    add: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_path: Option<HostPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    projected: Option<Projected>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretVolume>,
}

#[derive(Serialize)]
struct HostPath {
    path: String,
    r#type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Projected {
    sources: Vec<ProjectedSource>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProjectedSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    config_map: Option<Items>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<Items>,
}

#[derive(Serialize)]
struct Items {
    name: String,
    items: Vec<KeyToPath>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretVolume {
    secret_name: &'static str,
    items: Vec<KeyToPath>,
}

#[derive(Serialize)]
struct KeyToPath {
    key: String,
    path: String,
}

fn labels() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([("app.kubernetes.io/name", NAME)])
}

fn metadata(name: &str, namespace: &str) -> Metadata {
    Metadata {
        name: name.to_string(),
        namespace: namespace.to_string(),
        labels: labels(),
    }
}

/// The volume name of a node directory: `host-` and the path's words (`host-etc-containerd`).
pub fn host_volume_name(node_path: &str) -> String {
    let words: Vec<String> = node_path
        .split('/')
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        })
        .collect();
    let name = format!("host-{}", words.join("-"));
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// `apply`'s arguments, as the container runs it (`extra`: `--watch N` or `--check`).
fn apply_args(o: &Options, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["apply", "--root", HOST_ROOT, "--spec"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.push(format!("{SPEC_DIR}/{SPEC_FILE}"));
    if let Some(c) = &o.containerd {
        v.extend(["--containerd".to_string(), c.clone()]);
    }
    if !o.runtimes.is_empty() {
        v.extend(["--runtime".to_string(), o.runtimes.join(",")]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The spec text as a YAML value that reads back byte for byte.
fn spec_text(text: &str) -> Text {
    let block = serde_saphyr::to_string(&LitString(text.to_string())).ok();
    let back: Option<String> = block
        .as_deref()
        .and_then(|b| serde_saphyr::from_str(b).ok());
    if back.as_deref() == Some(text) {
        Text::Block(LitString(text.to_string()))
    } else {
        Text::Quoted(text.to_string())
    }
}

/// The manifests: the ConfigMap, then the DaemonSet.
pub fn render(o: &Options) -> String {
    let config_map = Object {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: metadata(&format!("{NAME}-spec"), o.namespace),
        body: ConfigMapBody {
            data: BTreeMap::from([(SPEC_FILE, spec_text(o.spec_text))]),
        },
    };
    let daemon_set = Object {
        api_version: "apps/v1",
        kind: "DaemonSet",
        metadata: metadata(NAME, o.namespace),
        body: DaemonSetBody {
            spec: daemon_set_spec(o),
        },
    };
    let mut out = String::from(
        "# regtrust: the spec as a ConfigMap, and a DaemonSet that applies it on every node\n",
    );
    if !o.credentials.is_empty() {
        out.push_str(&format!(
            "# The credentials come from the Secret `{SECRET}`, which this file does not \
             contain:\n# create it first (docs/integrations.md#kubernetes).\n"
        ));
    }
    for doc in [
        serde_saphyr::to_string(&config_map),
        serde_saphyr::to_string(&daemon_set),
    ] {
        out.push_str("---\n");
        out.push_str(doc.expect("serialisable").trim_end_matches('\n'));
        out.push('\n');
    }
    out
}

fn daemon_set_spec(o: &Options) -> DaemonSetSpec {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for d in &o.host_dirs {
        let name = host_volume_name(&d.node_path);
        volumes.push(Volume {
            name: name.clone(),
            host_path: Some(HostPath {
                path: d.node_path.clone(),
                r#type: if d.create {
                    "DirectoryOrCreate"
                } else {
                    "Directory"
                },
            }),
            projected: None,
            secret: None,
        });
        mounts.push(VolumeMount {
            name,
            mount_path: format!("{HOST_ROOT}{}", d.node_path),
            read_only: d.read_only,
        });
    }
    // The spec, and the password files named relative to it, in one projected volume (kubelet
    // updates its files when the ConfigMap or the Secret changes).
    let relative: Vec<KeyToPath> = o
        .credentials
        .iter()
        .filter_map(|c| match c {
            Credential::File { key, path } if !path.starts_with('/') => Some(KeyToPath {
                key: key.clone(),
                path: path.trim_start_matches("./").to_string(),
            }),
            _ => None,
        })
        .collect();
    let mut sources = vec![ProjectedSource {
        config_map: Some(Items {
            name: format!("{NAME}-spec"),
            items: vec![KeyToPath {
                key: SPEC_FILE.to_string(),
                path: SPEC_FILE.to_string(),
            }],
        }),
        secret: None,
    }];
    if !relative.is_empty() {
        sources.push(ProjectedSource {
            config_map: None,
            secret: Some(Items {
                name: SECRET.to_string(),
                items: relative,
            }),
        });
    }
    volumes.push(Volume {
        name: "spec".into(),
        host_path: None,
        projected: Some(Projected { sources }),
        secret: None,
    });
    mounts.push(VolumeMount {
        name: "spec".into(),
        mount_path: SPEC_DIR.into(),
        read_only: true,
    });
    // Absolute password files: one Secret volume per directory.
    let mut by_dir: BTreeMap<String, Vec<KeyToPath>> = BTreeMap::new();
    for c in &o.credentials {
        if let Credential::File { key, path } = c
            && let Some((dir, file)) = path.rsplit_once('/')
            && path.starts_with('/')
        {
            by_dir.entry(dir.to_string()).or_default().push(KeyToPath {
                key: key.clone(),
                path: file.to_string(),
            });
        }
    }
    for (i, (dir, items)) in by_dir.into_iter().enumerate() {
        let name = format!("credentials-{}", i + 1);
        volumes.push(Volume {
            name: name.clone(),
            host_path: None,
            projected: None,
            secret: Some(SecretVolume {
                secret_name: SECRET,
                items,
            }),
        });
        mounts.push(VolumeMount {
            name,
            mount_path: dir,
            read_only: true,
        });
    }
    let env = o
        .credentials
        .iter()
        .filter_map(|c| match c {
            Credential::Env { key, name } => Some(EnvVar {
                name: name.clone(),
                value_from: EnvSource {
                    secret_key_ref: KeyRef {
                        name: SECRET,
                        key: key.clone(),
                    },
                },
            }),
            Credential::File { .. } => None,
        })
        .collect();
    let mut run_args = apply_args(o, &["--watch", &WATCH_SECONDS.to_string()]);
    if o.restart_containerd {
        run_args.push("--restart-containerd".into());
    }
    let mut probe = vec![BINARY.to_string()];
    probe.extend(apply_args(o, &["--check"]));
    let container = Container {
        name: NAME,
        image: o.image.to_string(),
        command: vec![BINARY.to_string()],
        args: run_args,
        env,
        resources: Resources {
            requests: BTreeMap::from([("cpu", "10m"), ("memory", "16Mi")]),
            limits: BTreeMap::from([("cpu", "200m"), ("memory", "64Mi")]),
        },
        readiness_probe: Probe {
            exec: ExecAction { command: probe },
            initial_delay_seconds: 2,
            period_seconds: 10,
            timeout_seconds: 5,
            failure_threshold: 1,
        },
        // Root in the pod is root on the node's files (they are root's); no capability is
        // needed for that, nor for signalling containerd, a process of the same user.
        security_context: SecurityContext {
            run_as_user: 0,
            run_as_group: 0,
            read_only_root_filesystem: true,
            allow_privilege_escalation: false,
            capabilities: Capabilities {
                drop: vec!["ALL"],
                add: Vec::new(),
            },
        },
        volume_mounts: mounts,
    };
    DaemonSetSpec {
        selector: Selector {
            match_labels: labels(),
        },
        update_strategy: UpdateStrategy {
            r#type: "RollingUpdate",
            rolling_update: RollingUpdate {
                max_unavailable: "10%",
            },
        },
        template: PodTemplate {
            metadata: TemplateMetadata { labels: labels() },
            spec: PodSpec {
                host_pid: o.restart_containerd,
                automount_service_account_token: false,
                termination_grace_period_seconds: 5,
                tolerations: vec![Toleration { operator: "Exists" }],
                containers: vec![container],
                volumes,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_names_are_dns_labels() {
        assert_eq!(host_volume_name("/etc/containerd"), "host-etc-containerd");
        assert_eq!(host_volume_name("/run/lock"), "host-run-lock");
        assert_eq!(host_volume_name("/var/lib/My_Dir"), "host-var-lib-my-dir");
    }

    #[test]
    fn awkward_spec_text_reads_back_byte_for_byte() {
        for text in [
            "registries:\n  - host: a:5000\n    http: true\n",
            "  leading: spaces\n",
            "no trailing newline",
            "trailing blank lines\n\n\n",
            "tab\there\n# comment: yes\n",
            "",
        ] {
            let yaml = serde_saphyr::to_string(&BTreeMap::from([("k", spec_text(text))])).unwrap();
            let back: BTreeMap<String, String> = serde_saphyr::from_str(&yaml).unwrap();
            assert_eq!(back["k"], text, "{yaml}");
        }
    }
}
