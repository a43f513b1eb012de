//! cloud-init `#cloud-config` user-data: `write_files` for every planned file, and (unless the
//! image already has config_path) the sh config patch run from `runcmd`. Data is serialised by a
//! YAML serializer (quoted permissions, literal block contents); layout comes from a template.
use std::io::Write as _;

use base64::Engine as _;
use serde::Serialize;
use serde_saphyr::{DoubleQuoted, LitString, SingleQuoted};

use crate::containerd::Version;
use crate::emit::{patch_script, runtimes_sh};
use crate::plan::{FileKind, Plan};
use crate::spec::Runtime;

/// Where the config patch script is written on the node.
pub const PATCH_SCRIPT_PATH: &str = "/usr/local/sbin/regtrust-containerd-config";

/// EC2's user-data limit.
pub const EC2_USER_DATA_LIMIT: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The image already sets config_path: write hosts files only, no runcmd, no restart.
    pub hosts_only: bool,
    /// Encode every file as `gz+b64`.
    pub gzip: bool,
    /// Wrap the document in a MIME multipart message (`text/cloud-config` part).
    pub mime: bool,
    /// Write the scripts that name registries (Docker Engine's merge, the runtimes script) as
    /// text, not `gz+b64`: `--escape terraform` turns the hosts in them into template variables.
    pub scripts_as_text: bool,
}

#[derive(Serialize)]
struct Document {
    merge_how: Vec<Merge>,
    write_files: Vec<WriteFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runcmd: Vec<Vec<DoubleQuoted<String>>>,
}

#[derive(Serialize)]
struct Merge {
    name: &'static str,
    settings: Vec<&'static str>,
}

#[derive(Serialize)]
struct WriteFile {
    path: DoubleQuoted<String>,
    owner: DoubleQuoted<&'static str>,
    permissions: SingleQuoted<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'static str>,
    content: Content,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content {
    Literal(LitString),
    Quoted(DoubleQuoted<String>),
}

/// Literal block style when the text survives it unchanged, double quotes otherwise.
fn content(text: &str) -> Content {
    let block_safe = text.ends_with('\n')
        && !text.starts_with([' ', '\t', '\n'])
        && !text.contains('\r')
        && text.lines().all(|l| !l.ends_with([' ', '\t']))
        && text
            .chars()
            .all(|c| c == '\n' || c == '\t' || !c.is_control());
    if block_safe {
        Content::Literal(LitString(text.to_string()))
    } else {
        Content::Quoted(DoubleQuoted(text.to_string()))
    }
}

/// gzip (best) then base64: the `gz+b64` encoding cloud-init and Terraform read.
pub fn gzip_base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(gzip(text))
}

/// gzip (best): cloud-init reads a gzip-compressed user-data document as well.
pub fn gzip(text: &str) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(text.as_bytes()).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

fn write_file(path: &str, mode: u32, text: &str, gzip: bool) -> WriteFile {
    WriteFile {
        path: DoubleQuoted(path.to_string()),
        owner: DoubleQuoted("root:root"),
        permissions: SingleQuoted(format!("{mode:04o}")),
        encoding: gzip.then_some("gz+b64"),
        content: if gzip {
            Content::Quoted(DoubleQuoted(gzip_base64(text)))
        } else {
            content(text)
        },
    }
}

/// The `#cloud-config` document (or its MIME multipart wrapping). `containerd`: the version it
/// is for, or `None`: its script reads the node's when it runs.
pub fn render(plan: &Plan, containerd: impl Into<Option<Version>>, opts: Options) -> String {
    let containerd: Option<Version> = containerd.into();
    // When the node decides the runtimes, Docker Engine's and containers-image's files are
    // written by the runtimes script, only where the node has the runtime.
    let mut files: Vec<WriteFile> = plan
        .files
        .iter()
        .filter(|f| !plan.runtimes_on_node || f.runtime == Runtime::Containerd)
        .map(|f| write_file(&f.path, f.mode, &f.content, opts.gzip))
        .collect();
    let mut runcmd = Vec::new();
    if !opts.hosts_only {
        let creds = plan.credentials_file();
        let script = match containerd {
            // The node decides its runtimes and the version: a node without containerd is left
            // alone.
            None if plan.runtimes_on_node => {
                patch_script::render_if_installed(&plan.config_path, creds.is_some())
            }
            _ => patch_script::render(containerd, &plan.config_path, creds.is_some()),
        };
        files.extend(creds.map(|f| write_file(&f.path, f.mode, &f.content, opts.gzip)));
        // Always gz+b64: the script (its TOML reader included) is ~13 KB as text, most of EC2's
        // 16 KB user-data limit; `regtrust render --target script` shows the same code as text.
        files.push(write_file(PATCH_SCRIPT_PATH, 0o755, &script, true));
        runcmd.push(vec![DoubleQuoted(PATCH_SCRIPT_PATH.to_string())]);
    }
    let mut runtimes_script = "";
    if plan.runtimes_on_node {
        if let Some(script) = runtimes_sh::script(plan) {
            runtimes_script = runtimes_sh::SCRIPT_PATH;
            files.push(write_file(
                runtimes_sh::SCRIPT_PATH,
                0o755,
                &script,
                !opts.scripts_as_text,
            ));
            runcmd.push(vec![DoubleQuoted(runtimes_sh::SCRIPT_PATH.to_string())]);
        }
    } else if let Some(docker) = &plan.docker {
        // daemon.json is merged on the node by Python 3, which cloud-init itself runs on.
        let script = crate::emit::docker_merge::render(docker);
        files.push(write_file(
            crate::emit::docker_merge::SCRIPT_PATH,
            0o755,
            &script,
            !opts.scripts_as_text,
        ));
        runcmd.push(vec![DoubleQuoted(
            crate::emit::docker_merge::SCRIPT_PATH.to_string(),
        )]);
    }
    let doc = Document {
        merge_how: vec![
            Merge {
                name: "list",
                settings: vec!["append"],
            },
            Merge {
                name: "dict",
                settings: vec!["no_replace", "recurse_list"],
            },
        ],
        write_files: files,
        runcmd,
    };
    let body = serde_saphyr::to_string(&doc).expect("serialising plain data cannot fail");
    let registries = plan.hosts.len();
    let keys = plan
        .files
        .iter()
        .filter(|f| f.kind == FileKind::PrivateKey)
        .count();
    let summary = format!(
        "{registries} registr{} under {}{}",
        if registries == 1 { "y" } else { "ies" },
        plan.config_path,
        if keys > 0 {
            format!(", {keys} private key(s) (mode 0600)")
        } else {
            String::new()
        }
    );
    let credentials = plan.files.iter().filter(|f| f.secret).count();
    let summary = if credentials > 0 {
        format!("{summary}, {credentials} hosts.toml with credentials (mode 0600)")
    } else {
        summary
    };
    let mut text = crate::templates::render(
        "cloud-config",
        minijinja::context! {
            version => containerd.map(|v| v.to_string()).unwrap_or_default(),
            summary,
            patch => !opts.hosts_only,
            config_path => plan.config_path.as_str(),
            runtimes_script,
            body => body.trim_end(),
        },
    );
    text.push('\n');
    if opts.mime { mime(&text) } else { text }
}

/// A MIME multipart message with one `text/cloud-config` part, as `cloud-init devel make-mime`
/// and Terraform's cloudinit provider produce.
pub fn mime(cloud_config: &str) -> String {
    let mut boundary = String::from("==regtrust-boundary==");
    while cloud_config.contains(&boundary) {
        boundary.insert(2, '=');
    }
    let (encoding, body) = if cloud_config.is_ascii() {
        ("7bit", cloud_config.to_string())
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cloud_config);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        ("base64", lines.join("\n") + "\n")
    };
    format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n\
         --{boundary}\nContent-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\n\
         Content-Transfer-Encoding: {encoding}\nContent-Disposition: attachment; filename=\"regtrust.yaml\"\n\n\
         {body}\n--{boundary}--\n"
    )
}
