//! Reading an Ignition config back: every `storage.files` entry decoded from its data URL
//! (percent-encoded or base64, gzip when `compression` says so), and the systemd units.
use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine as _;
use serde_json::Value;

/// path → (mode, bytes) of every file the config writes.
pub fn files(config: &Value) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for f in config["storage"]["files"]
        .as_array()
        .expect("storage.files")
    {
        let path = f["path"].as_str().unwrap().to_string();
        let mode = u32::try_from(f["mode"].as_u64().expect("mode")).unwrap();
        assert_eq!(f["overwrite"], Value::Bool(true), "{path}: overwrite");
        let source = f["contents"]["source"].as_str().expect("contents.source");
        let (meta, data) = source.split_once(',').expect("a data URL");
        let raw = match meta {
            "data:;base64" => base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
            "data:" => percent_decode(data),
            other => panic!("{path}: unexpected data URL header {other}"),
        };
        let bytes = match f["contents"]["compression"].as_str() {
            Some("gzip") => {
                let mut v = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut v)
                    .unwrap();
                v
            }
            None => raw,
            Some(other) => panic!("{path}: compression {other}"),
        };
        assert!(
            out.insert(path.clone(), (mode, bytes)).is_none(),
            "{path} twice"
        );
    }
    out
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The unit (or the unit carrying drop-ins) named `name`.
pub fn unit<'a>(config: &'a Value, name: &str) -> &'a Value {
    config["systemd"]["units"]
        .as_array()
        .expect("systemd.units")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no unit {name}"))
}

/// The unit's script, as the config writes it.
pub fn script(config: &Value) -> String {
    let files = files(config);
    String::from_utf8(files[regtrust::emit::ignition::SCRIPT_PATH].1.clone()).unwrap()
}
