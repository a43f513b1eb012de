//! config.toml (and its imports): where config_path is, whether containerd will use it, and the
//! legacy settings that break or silently do nothing.
use crate::diag::Code;
use std::path::Path;

use toml_edit::{Document, Item, TableLike};

use super::{Finding, Level, line_of};
use crate::containerd::Version;

const CRI_V1: &str = crate::containerd::ConfigLayout::V2.cri_plugin();
const CRI_IMAGES: &str = crate::containerd::ConfigLayout::V3.cri_plugin();
pub const DEFAULT_LIST: &str = "/etc/containerd/certs.d:/etc/docker/certs.d";

/// What the config says about registries, for the hosts checks and image resolution.
#[derive(Debug, Default)]
pub struct ConfigInfo {
    /// The directories containerd's CRI pulls read hosts.toml from (empty: none).
    pub effective_dirs: Vec<String>,
    /// Directories where hosts.toml files would usually live, read to report ignored files.
    pub usual_dirs: Vec<String>,
    /// Legacy `registry.mirrors` (host → endpoints), still in effect when config_path is unset.
    pub mirrors: Vec<(String, Vec<String>)>,
    /// Hosts with `insecure_skip_verify = true` in `registry.configs` (host, line).
    pub insecure: Vec<(String, usize)>,
    /// The hosts with credentials in `registry.configs."host".auth`.
    pub auth: Vec<ConfigAuth>,
    /// The CRI plugin will not load.
    pub cri_disabled: bool,
    /// Why no hosts.toml is read, when none is.
    pub no_dirs_reason: String,
    /// The file whose `config_path` takes effect (config.toml or an imported drop-in).
    pub config_path_file: Option<String>,
}

/// A `registry.configs."host".auth` of the config.
#[derive(Debug)]
pub struct ConfigAuth {
    pub host: String,
    pub line: usize,
    /// Its keys when it is a table (for `--probe`; never printed).
    pub credentials: Option<crate::legacy::LegacyAuth>,
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    out: &'a mut Vec<Finding>,
}

impl Ctx<'_> {
    fn add(
        &mut self,
        level: Level,
        code: Code,
        span: Option<std::ops::Range<usize>>,
        problem: String,
        effect: String,
        fix: String,
    ) {
        let d = Finding::found(level, code, self.file, None, problem, effect, fix);
        // The offending line of config.toml, shown with a marker.
        self.out.push(match span {
            Some(s) => d.at_span(self.text, s),
            None => d,
        });
    }
}

fn table(item: Option<&Item>) -> Option<&dyn TableLike> {
    item.and_then(Item::as_table_like)
}

fn get<'a>(t: Option<&'a dyn TableLike>, k: &str) -> Option<&'a Item> {
    t.and_then(|t| t.get(k))
}

pub fn check(
    root: &Path,
    file: &str,
    text: Option<&str>,
    v: Version,
    out: &mut Vec<Finding>,
) -> ConfigInfo {
    let mut info = ConfigInfo {
        usual_dirs: vec![
            "/etc/containerd/certs.d".into(),
            "/etc/docker/certs.d".into(),
        ],
        ..ConfigInfo::default()
    };
    let Some(text) = text else {
        let dirs = if v.is_1x() || (v.major, v.minor) < (2, 2) {
            vec![]
        } else {
            split(DEFAULT_LIST)
        };
        out.push(Finding::found(Level::Warning, Code::ConfigMissing, file, None, "there is no config.toml: containerd runs on its built-in defaults".into(), if dirs.is_empty() {
                format!("containerd {v} reads no hosts.toml (config_path is empty by default)")
            } else {
                format!("containerd {v} defaults config_path to \"{DEFAULT_LIST}\", a list its CRI pulls do not split: hosts.toml files are not used")
            }, "run `regtrust apply --spec …`, which creates config.toml with config_path set".into()));
        return info;
    };
    let mut cx = Ctx { file, text, out };
    let doc = match Document::parse(text.to_string()) {
        Ok(d) => d,
        Err(e) => {
            cx.add(
                Level::Error,
                Code::ConfigInvalidToml,
                e.span(),
                format!("config.toml is not valid TOML: {}", e.message().trim()),
                "containerd refuses to start".into(),
                "fix the syntax (regtrust apply refuses to edit an invalid file)".into(),
            );
            info.cri_disabled = true;
            return info;
        }
    };
    let root_t = doc.as_table();
    let file_version = root_t
        .get("version")
        .and_then(Item::as_integer)
        .unwrap_or(1);
    let plugins = table(root_t.get("plugins"));
    let plugin = match file_version {
        1 => {
            // 1.x reads it (apply edits [plugins.cri.registry]); 2.x drops its CRI settings.
            if !v.is_1x() {
                cx.add(Level::Error, Code::ConfigVersion1, None,
                    "config.toml has no `version` key: a version 1 file (plugin names like `cri`)".into(),
                    format!("containerd {v} renames its plugins but drops their CRI settings: registry, sandbox_image and the rest are ignored (measured with 2.1.9's `config dump`)"),
                    "convert it (`containerd config migrate` prints it as the current version), then run regtrust apply".into());
            }
            "cri"
        }
        // A version 2 file that keeps its registry table under the 2.x name only: on 2.x that
        // table is what takes effect (the in-memory migration moves nothing over it).
        2 if !v.is_1x()
            && get(table(get(plugins, CRI_IMAGES)), "registry").is_some()
            && get(table(get(plugins, CRI_V1)), "registry").is_none() =>
        {
            CRI_IMAGES
        }
        2 => CRI_V1,
        _ => CRI_IMAGES,
    };
    if let Some(old) = get(table(get(plugins, CRI_V1)), "registry").filter(|_| file_version >= 3) {
        cx.add(Level::Error, Code::RegistryUnderWrongPlugin, table_span(old),
                format!("a `[plugins.\"{CRI_V1}\".registry]` table in a version {file_version} file"),
                format!("ignored: in a version {file_version} file the registry settings live in [plugins.\"{CRI_IMAGES}\".registry]"),
                format!("move its settings to [plugins.\"{CRI_IMAGES}\".registry], or run `regtrust apply`"));
    }
    // A version 1 file on 2.x: its CRI settings are dropped, so its registry table is not read.
    let registry = table(get(table(get(plugins, plugin)), "registry"))
        .filter(|_| file_version != 1 || v.is_1x());
    let cp_item = get(registry, "config_path");
    let config_path = cp_item.and_then(Item::as_str).unwrap_or("").to_string();
    let cp_span = cp_item.and_then(item_span);

    // Legacy mirrors.
    let mut mirrors_span = None;
    if let Some(m) = table(get(registry, "mirrors")).filter(|m| !m.is_empty()) {
        mirrors_span = get(registry, "mirrors").and_then(table_span);
        for (host, item) in m.iter() {
            let eps: Vec<String> = get(table(Some(item)), "endpoint")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            if host.contains("://") {
                cx.add(
                    Level::Error,
                    Code::RegistryKeyIsUrl,
                    table_span(item),
                    format!("`registry.mirrors.\"{host}\"`: the key is a URL"),
                    "never matches: image references name hosts, not URLs".into(),
                    format!(
                        "use `{}` as the key, or run `regtrust migrate`",
                        crate::spec::host::strip_scheme(host)
                    ),
                );
            }
            info.mirrors.push((host.to_string(), eps));
        }
    }
    if !config_path.is_empty() && !info.mirrors.is_empty() {
        info.cri_disabled = true;
        cx.add(Level::Error, Code::MirrorsWithConfigPath, mirrors_span.or(cp_span.clone()),
            "`registry.mirrors` is set together with `config_path`".into(),
            "the CRI plugin does not load (\"`mirrors` cannot be set when `config_path` is provided\"): every CRI call fails, kubelet sees no runtime".into(),
            "`regtrust migrate --emit-spec spec.yaml` then `regtrust apply --spec spec.yaml` (moves the mirrors into hosts.toml)".into());
    } else if !info.mirrors.is_empty() {
        cx.add(Level::Warning, Code::MirrorsDeprecated, mirrors_span,
            "`registry.mirrors` is deprecated (since containerd 1.5) and hosts.toml cannot be used next to it".into(),
            "the mirrors work, but config_path cannot be set until they are moved".into(),
            "`regtrust migrate --emit-spec spec.yaml` then `regtrust apply --spec spec.yaml`".into());
    }

    // Legacy configs.
    if let Some(configs) = table(get(registry, "configs")) {
        for (host, item) in configs.iter() {
            let entry = table(Some(item));
            if host.contains("://") {
                cx.add(
                    Level::Error,
                    Code::RegistryKeyIsUrl,
                    table_span(item),
                    format!("`registry.configs.\"{host}\"`: the key is a URL"),
                    "never matches: containerd looks settings up by host[:port]".into(),
                    format!(
                        "use `{}` as the key, or run `regtrust migrate`",
                        crate::spec::host::strip_scheme(host)
                    ),
                );
            }
            if let Some(auth) = get(entry, "auth") {
                let span = table_span(auth).or_else(|| item_span(auth));
                let line = span.clone().map_or(0, |s| line_of(text, s.start));
                info.auth.push(ConfigAuth {
                    host: host.to_string(),
                    line,
                    credentials: auth
                        .as_table_like()
                        .map(crate::legacy::LegacyAuth::from_table),
                });
                if !v.is_1x() {
                    cx.add(Level::Warning, Code::ConfigAuthDeprecated, span,
                        format!("`registry.configs.\"{host}\".auth` on containerd {v}"),
                        "honoured, but deprecated (containerd plans to remove it in 2.4), read only at start, and it moves CRI pulls to the local pull path".into(),
                        "from containerd 2.1 on a hosts.toml `Authorization` header serves Basic and token registries alike: `auth` with `method: header` (the default there) in the spec, then `regtrust apply`".into());
                }
            }
            if let Some(http) = get(entry, "http") {
                cx.add(Level::Error, Code::NoSuchKeyHttp, table_span(http).or_else(|| item_span(http)),
                    format!("`registry.configs.\"{host}\".http` does not exist in any containerd"),
                    "ignored: it does not make containerd use plain HTTP".into(),
                    format!("remove it; for plain HTTP write a hosts.toml with an http:// host (spec: `host: {host}`, `http: true`)"));
            }
            if let Some(tls) = get(entry, "tls") {
                let tls_t = table(Some(tls));
                if let Some(isv) =
                    get(tls_t, "insecure_skip_verify").filter(|i| i.as_bool() == Some(true))
                {
                    let line = item_span(isv).map(|s| line_of(text, s.start)).unwrap_or(0);
                    info.insecure.push((host.to_string(), line));
                    cx.add(Level::Warning, Code::SkipVerifyIsNotHttp, item_span(isv),
                        format!("`insecure_skip_verify = true` for `{host}`"),
                        "only disables certificate checks on HTTPS; containerd still uses HTTPS, so an HTTP-only registry fails with `server gave HTTP response to HTTPS client`".into(),
                        format!("if `{host}` speaks plain HTTP: a hosts.toml with an http:// host (spec: `http: true`); run `regtrust doctor --probe` to see what it speaks"));
                }
                if !config_path.is_empty() && v.is_1x() && file_version <= 2 {
                    info.cri_disabled = true;
                    cx.add(Level::Error, Code::TlsWithConfigPath, table_span(tls),
                        format!("`registry.configs.\"{host}\".tls` together with `config_path` on containerd {v}"),
                        "the CRI plugin does not load: every CRI call fails, kubelet sees no runtime".into(),
                        "`regtrust apply` moves the TLS settings into hosts.toml".into());
                } else if !v.is_1x() {
                    cx.add(Level::Warning, Code::TlsIgnoredOn2x, table_span(tls),
                        format!("`registry.configs.\"{host}\".tls` on containerd {v}"),
                        "ignored (\"Ignoring unknown key\"): containerd 2.x reads TLS settings from hosts.toml only".into(),
                        "`regtrust apply` moves them into hosts.toml".into());
                }
            }
        }
    }

    // Drop-ins, merged the way this containerd merges them: 1.x replaces the whole CRI table
    // with an imported one (its config_path, or none, is what counts); 2.x merges deeply, so the
    // last drop-in that sets config_path wins.
    let mut config_path = config_path;
    let mut from_drop_in: Option<(String, String, Option<std::ops::Range<usize>>)> = None;
    if !config_path.is_empty() {
        info.config_path_file = Some(file.to_string());
    }
    for pattern in crate::containerd::imports::patterns(text, file) {
        for path in crate::containerd::imports::glob(root, &pattern) {
            if path == file {
                continue;
            }
            let Some(d) = check_import(&mut cx, root, &path, v) else {
                continue;
            };
            if v.is_1x() && d.has_cri_table {
                config_path = d.config_path.clone().unwrap_or_default();
                info.config_path_file = (!config_path.is_empty()).then(|| path.clone());
                from_drop_in = Some((path.clone(), d.text, d.span));
            } else if let Some(cp) = d.config_path.clone().filter(|_| !v.is_1x()) {
                config_path = cp;
                info.config_path_file = Some(path.clone());
                from_drop_in = Some((path.clone(), d.text, d.span));
            }
        }
    }

    // Which directories the CRI pull path really reads.
    let (value, from_default) =
        if config_path.is_empty() && info.mirrors.is_empty() && (v.major, v.minor) >= (2, 2) {
            (DEFAULT_LIST.to_string(), true)
        } else {
            (config_path.clone(), false)
        };
    info.no_dirs_reason = if value.is_empty() {
        "config_path is not set".into()
    } else {
        format!("config_path \"{value}\" is a list containerd {v}'s CRI pulls do not split")
    };
    if value.is_empty() {
        if info.mirrors.is_empty() {
            cx.add(Level::Warning, Code::ConfigPathUnset, registry.and(cp_span.clone()),
                "`config_path` is not set".into(),
                "hosts.toml files are ignored: every registry is reached over HTTPS with system CAs".into(),
                format!("set config_path = \"/etc/containerd/certs.d\" in [plugins.\"{plugin}\".registry] (`regtrust apply` does it)"));
        }
    } else if value.contains(':') && (v.major, v.minor) >= (2, 1) {
        let (cp_file, cp_text, cp_span) = value_site(&from_drop_in, file, text, &cp_span);
        let mut cx = Ctx {
            file: cp_file,
            text: cp_text,
            out: &mut *cx.out,
        };
        cx.add(Level::Error, if from_default { Code::ConfigPathDefaultList } else { Code::ConfigPathList }, cp_span.clone(),
            if from_default { format!("config_path is unset, so containerd {v} uses its default \"{DEFAULT_LIST}\"") } else { format!("config_path is the list \"{value}\"") },
            format!("containerd {v}'s CRI pulls do not split the list: no hosts.toml is read and pulls use HTTPS (measured on 2.1.9 and 2.3.4)"),
            format!("set config_path to one directory, e.g. \"/etc/containerd/certs.d\", in [plugins.\"{plugin}\".registry] (`regtrust apply` does it)"));
    } else {
        let (cp_file, cp_text, cp_span) = value_site(&from_drop_in, file, text, &cp_span);
        let mut cx = Ctx {
            file: cp_file,
            text: cp_text,
            out: &mut *cx.out,
        };
        if value.contains(':') && !(v.major == 1 && v.minor == 7) {
            cx.add(Level::Warning, Code::ConfigPathList, cp_span.clone(),
                format!("config_path is the list \"{value}\""),
                format!("whether containerd {v}'s CRI pulls split it was not measured (1.7 does; 2.1+ does not)"),
                "set config_path to one directory (`regtrust apply` does it)".into());
        }
        info.effective_dirs = split(&value);
        for d in &info.effective_dirs {
            if !crate::root::resolve(root, d).is_ok_and(|p| p.is_dir()) {
                cx.add(
                    Level::Warning,
                    Code::ConfigPathMissingDir,
                    cp_span.clone(),
                    format!("config_path names `{d}`, which does not exist"),
                    "no hosts.toml is read from it: registries are reached over HTTPS".into(),
                    format!("create {d}/<host>/hosts.toml (`regtrust apply` does it)"),
                );
            }
        }
    }

    info
}

/// Where the effective config_path value is written: the drop-in that set it, else config.toml.
fn value_site<'a>(
    from_drop_in: &'a Option<(String, String, Option<std::ops::Range<usize>>)>,
    file: &'a str,
    text: &'a str,
    span: &Option<std::ops::Range<usize>>,
) -> (&'a str, &'a str, Option<std::ops::Range<usize>>) {
    match from_drop_in {
        Some((f, t, s)) => (f, t, s.clone()),
        None => (file, text, span.clone()),
    }
}

/// What an imported drop-in says about the registry.
struct DropInSays {
    /// It has a `[plugins."io.containerd.grpc.v1.cri"]` table (which 1.x puts in place of the
    /// main file's).
    has_cri_table: bool,
    /// The config_path it sets, read under the plugin name of its own `version`.
    config_path: Option<String>,
    /// Its text and where config_path's value is in it, for findings about that value.
    text: String,
    span: Option<std::ops::Range<usize>>,
}

/// Checks one imported drop-in.
fn check_import(cx: &mut Ctx<'_>, root: &Path, node_path: &str, v: Version) -> Option<DropInSays> {
    let text = std::fs::read_to_string(crate::root::resolve(root, node_path).ok()?).ok()?;
    let Ok(doc) = Document::parse(text.clone()) else {
        cx.out.push(Finding::found(
            Level::Error,
            Code::ImportInvalidToml,
            node_path,
            None,
            "an imported drop-in is not valid TOML".into(),
            "containerd refuses to start".into(),
            "fix or remove the file".into(),
        ));
        return None;
    };
    let plugins = table(doc.as_table().get("plugins"));
    let cri = get(plugins, CRI_V1);
    if v.is_1x() && cri.is_some() {
        let line = cri.and_then(table_span).map(|s| line_of(&text, s.start));
        cx.out.push(Finding::found(Level::Error, Code::ImportReplacesCriTable, node_path, line, format!("a drop-in with a `[plugins.\"{CRI_V1}\"]` table, imported on containerd {v}"), "containerd 1.x replaces the whole CRI plugin table with it: settings of the main file such as SystemdCgroup and sandbox_image silently revert to defaults (measured with `containerd config dump`)".into(), "`regtrust apply` removes the table when it holds only config_path; otherwise put its settings in the main config.toml and remove them from the drop-in".into()));
    }
    let own_plugin = match doc.as_table().get("version").and_then(Item::as_integer) {
        Some(n) if n >= 3 => CRI_IMAGES,
        _ => CRI_V1,
    };
    let item = get(
        table(get(table(get(plugins, own_plugin)), "registry")),
        "config_path",
    );
    let config_path = item
        .and_then(Item::as_str)
        .filter(|p| !p.is_empty())
        .map(String::from);
    Some(DropInSays {
        has_cri_table: cri.is_some(),
        config_path,
        span: item.and_then(item_span),
        text,
    })
}

fn split(list: &str) -> Vec<String> {
    list.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('/').to_string())
        .collect()
}

fn table_span(item: &Item) -> Option<std::ops::Range<usize>> {
    match item {
        Item::Table(t) => t.span(),
        Item::Value(v) => v.span(),
        _ => None,
    }
}

fn item_span(item: &Item) -> Option<std::ops::Range<usize>> {
    item.span()
        .or_else(|| item.as_value().and_then(|v| v.span()))
}
