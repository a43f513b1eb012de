//! A `#cloud-config` document as cloud-init's `write_files` and `runcmd` modules treat it: its
//! files with their contents decoded (`gz+b64`), and a run of both under an image root.
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

/// The document with every `write_files` content decoded and its `encoding` key dropped: what
/// cloud-init writes, whichever way the content was carried.
pub fn decoded(doc: &str) -> Value {
    let mut v: Value = serde_saphyr::from_str(doc).expect("a YAML document");
    if let Some(files) = v["write_files"].as_array_mut() {
        for f in files {
            if f["encoding"] == "gz+b64" {
                let gz = base64::engine::general_purpose::STANDARD
                    .decode(f["content"].as_str().unwrap())
                    .unwrap();
                let mut text = String::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_string(&mut text)
                    .unwrap();
                f["content"] = Value::String(text);
                f.as_object_mut().unwrap().remove("encoding");
            }
        }
    }
    v
}

/// path → (permissions, content) of every `write_files` entry, contents decoded.
pub fn write_files(doc: &str) -> BTreeMap<String, (String, String)> {
    decoded(doc)["write_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("path"), (s("permissions"), s("content")))
        })
        .collect()
}

/// Writes every `write_files` entry under `root` with its mode, then runs each `runcmd` command
/// (a script written there: sh or python3, by its `#!` line) with `REGTRUST_ROOT=root`, stopping
/// at the first that fails; the outputs joined.
pub fn run_under(doc: &str, root: &Path) -> (bool, String) {
    for (path, (mode, content)) in write_files(doc) {
        let dest = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, content).unwrap();
        let mode = u32::from_str_radix(&mode, 8).unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut log = String::new();
    for cmd in decoded(doc)["runcmd"].as_array().into_iter().flatten() {
        let script = cmd[0].as_str().unwrap();
        let o: Output = Command::new(root.join(script.trim_start_matches('/')))
            .env("REGTRUST_ROOT", root)
            .output()
            .unwrap();
        log += &super::text(&o);
        if !o.status.success() {
            return (false, log);
        }
    }
    (true, log)
}
