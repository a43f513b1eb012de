//! An Ignition config (spec 3.3.0, JSON) for Flatcar Container Linux and Fedora CoreOS: every
//! planned file in `storage.files`, and (unless the image already has config_path) the sh config
//! patch — the same script cloud-init runs — as a oneshot systemd unit ordered before
//! containerd, enabled through `systemd.units[].enabled`, plus a containerd.service drop-in that
//! makes Flatcar's containerd read /etc/containerd/config.toml.
use std::io::Write as _;

use base64::Engine as _;
use serde::Serialize;

use crate::containerd::Version;
use crate::containerd::layout::{DEFAULT_CONFIG_FILE, FLATCAR_SHIPPED_CONFIG};
use crate::emit::patch_script;
use crate::plan::Plan;

/// The Ignition config spec version emitted (the newest Debian's Ignition 2.14 accepts as stable).
pub const SPEC_VERSION: &str = "3.3.0";
/// Where the unit's script is written: /etc is writable on Flatcar and FCOS (`/usr` is not).
pub const SCRIPT_PATH: &str = "/etc/regtrust/containerd-config.sh";
/// The oneshot unit that runs the script before containerd starts, on every boot.
pub const UNIT_NAME: &str = "regtrust-containerd-config.service";
/// The containerd.service drop-in (Flatcar: `CONTAINERD_CONFIG`).
pub const DROPIN_NAME: &str = "90-regtrust-config-file.conf";

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The image already sets config_path: files only, no unit, no drop-in.
    pub hosts_only: bool,
}

#[derive(Serialize)]
struct Config {
    ignition: Ignition,
    storage: Storage,
    #[serde(skip_serializing_if = "Systemd::is_empty")]
    systemd: Systemd,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

#[derive(Serialize)]
struct Storage {
    files: Vec<File>,
}

#[derive(Serialize)]
struct File {
    path: String,
    mode: u32,
    overwrite: bool,
    contents: Resource,
}

#[derive(Serialize)]
struct Resource {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'static str>,
}

#[derive(Serialize)]
struct Systemd {
    units: Vec<Unit>,
}

impl Systemd {
    fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[derive(Serialize)]
struct Unit {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropins: Vec<Dropin>,
}

#[derive(Serialize)]
struct Dropin {
    name: &'static str,
    contents: String,
}

/// Bytes a data URL carries as they are: RFC 3986 unreserved characters and `/`, `:`, `@`.
fn plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/:@".contains(&b)
}

/// The shortest data URL for `text`: percent-encoded, base64, or gzip + base64 (with
/// `compression: gzip`) — compressed only when that makes it smaller.
fn resource(text: &str) -> Resource {
    let mut pct = String::from("data:,");
    for &b in text.as_bytes() {
        if plain_byte(b) {
            pct.push(char::from(b));
        } else {
            pct.push_str(&format!("%{b:02X}"));
        }
    }
    let b64 = format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(text)
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(text.as_bytes()).expect("writing to memory");
    let gz = gz.finish().expect("writing to memory");
    let gz = format!(
        "data:;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(gz)
    );
    let plain = if b64.len() < pct.len() { b64 } else { pct };
    if gz.len() < plain.len() {
        Resource {
            source: gz,
            compression: Some("gzip"),
        }
    } else {
        Resource {
            source: plain,
            compression: None,
        }
    }
}

fn file(path: &str, mode: u32, text: &str) -> File {
    File {
        path: path.to_string(),
        mode,
        overwrite: true,
        contents: resource(text),
    }
}

/// The unit file: runs the script on every boot before containerd starts.
pub fn unit_contents(containerd: Version, plan: &Plan) -> String {
    let n = plan.hosts.len();
    format!(
        "[Unit]\n\
         Description=regtrust: containerd config_path = {path} ({n} registr{y}, rendered for containerd {containerd})\n\
         # Sets config_path in {cfg} if it differs, on every boot, before containerd starts;\n\
         # the hosts.toml files under {path} are written by Ignition and read on every pull.\n\
         Before=containerd.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         ExecStart=/bin/sh {script}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        path = plan.config_path,
        y = if n == 1 { "y" } else { "ies" },
        cfg = DEFAULT_CONFIG_FILE,
        script = SCRIPT_PATH,
    )
}

/// The containerd.service drop-in: Flatcar's unit runs `containerd --config ${CONTAINERD_CONFIG}`
/// with its shipped file; this points it at the file the unit edits. Other systems' units do not
/// use the variable and read that file anyway.
pub fn dropin_contents() -> String {
    format!(
        "# regtrust: containerd reads {cfg}, where {UNIT_NAME} sets config_path.\n\
         # Flatcar's containerd.service runs `containerd --config ${{CONTAINERD_CONFIG}}` with\n\
         # {FLATCAR_SHIPPED_CONFIG}; elsewhere the variable is unused.\n\
         [Service]\n\
         Environment=CONTAINERD_CONFIG={cfg}\n",
        cfg = DEFAULT_CONFIG_FILE,
    )
}

/// The Ignition config, pretty-printed JSON with a final newline.
pub fn render(plan: &Plan, containerd: Version, opts: Options) -> String {
    let mut files: Vec<File> = plan
        .files
        .iter()
        .map(|f| file(&f.path, f.mode, &f.content))
        .collect();
    let mut units = Vec::new();
    if !opts.hosts_only {
        let creds = plan.credentials_file();
        let script = patch_script::render_for_unit(containerd, &plan.config_path, creds.is_some());
        files.extend(creds.map(|f| file(&f.path, f.mode, &f.content)));
        files.push(file(SCRIPT_PATH, 0o755, &script));
        units.push(Unit {
            name: UNIT_NAME,
            enabled: Some(true),
            contents: Some(unit_contents(containerd, plan)),
            dropins: Vec::new(),
        });
        units.push(Unit {
            name: "containerd.service",
            enabled: None,
            contents: None,
            dropins: vec![Dropin {
                name: DROPIN_NAME,
                contents: dropin_contents(),
            }],
        });
    }
    let config = Config {
        ignition: Ignition {
            version: SPEC_VERSION,
        },
        storage: Storage { files },
        systemd: Systemd { units },
    };
    let mut text = serde_json::to_string_pretty(&config).expect("serialising plain data");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(r: &Resource) -> Vec<u8> {
        let engine = base64::engine::general_purpose::STANDARD;
        let (meta, data) = r.source.split_once(',').unwrap();
        let raw = if meta == "data:;base64" {
            engine.decode(data).unwrap()
        } else {
            assert_eq!(meta, "data:");
            let b = data.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(h, 16).unwrap());
                    i += 3;
                } else {
                    assert!(plain_byte(b[i]));
                    out.push(b[i]);
                    i += 1;
                }
            }
            out
        };
        match r.compression {
            Some("gzip") => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
                    .unwrap();
                out
            }
            None => raw,
            Some(other) => panic!("{other}"),
        }
    }

    #[test]
    fn data_urls_round_trip_and_pick_the_shortest() {
        let long = "server = \"http://my.private.registry:5000\"\n".repeat(40);
        for text in [
            "",
            "a",
            "plain-text/with:colons@",
            "x = \"%20 100% ${a} 'q' é ✓\"\n\ttab\r\n",
            long.as_str(),
        ] {
            let r = resource(text);
            assert_eq!(decode(&r), text.as_bytes(), "{text:?}");
        }
        // Repetitive text is compressed; a short plain string is not.
        assert_eq!(resource(&long).compression, Some("gzip"));
        let short = resource("abc");
        assert_eq!(short.source, "data:,abc");
        assert_eq!(short.compression, None);
        // Mostly escaped text is base64, not percent-encoded.
        assert!(resource("é✓é✓é✓é✓").source.starts_with("data:;base64,"));
    }
}
