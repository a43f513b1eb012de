//! The containerd version installed in a node or image root, read from the root's files (package
//! databases, the binary's bytes, config.toml) and never by running anything in it.
use std::path::{Path, PathBuf};

use super::go_binary::{BuildVersion, Elf, version_in_modinfo};
use super::version::Version;

/// The containerd of a node or image root, read — never run — from, in order:
/// 1. the root's package database (dpkg, apk; rpm's database is a binary Berkeley DB or SQLite
///    file this does not read, so RPM systems go on to step 2);
/// 2. the Go build information of `usr/bin`, `usr/local/bin` or `opt/bin/containerd` under the root
///    (the `-X …/version.Version=` linker flag or the main module's version), else the version
///    string the linker placed next to containerd's `version.Package`;
/// 3. the Version API of the containerd answering on `<root>/run/containerd/containerd.sock`
///    (a gRPC call on the socket: `version_api`), for a root that holds neither (a node's `/`
///    mounted into a pod with only the directories regtrust needs);
/// 4. config.toml's `version` key (the oldest release writing it).
///
/// Symbolic links are followed inside the root. An installed containerd older than regtrust
/// supports is an error (never replaced by a guess from config.toml); a newer one is taken as the
/// newest regtrust knows, with a warning in the returned words.
/// Returns the version and where it came from, in words; None when nothing says.
pub fn detect(root: &Path, config_text: Option<&str>) -> Result<Option<(Version, String)>, String> {
    if let Some(found) = installed(root).or_else(|| running(root)) {
        return found.map(Some);
    }
    Ok(from_config(config_text))
}

/// The oldest containerd that writes config.toml's `version`.
fn from_config(config_text: Option<&str>) -> Option<(Version, String)> {
    let n = config_text
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
        .and_then(|d| d.get("version").and_then(|v| v.as_integer()))?;
    let v = match super::ConfigLayout::from_number(n)? {
        super::ConfigLayout::V1 => return None,
        super::ConfigLayout::V2 => "1.6",
        super::ConfigLayout::V3 => "2.0",
        super::ConfigLayout::V4 => "2.3",
    };
    Some((
        Version::parse(v).expect("known version"),
        format!(
            "inferred from `version = {n}` in config.toml (the oldest containerd that writes it; pass --containerd to be exact)"
        ),
    ))
}

/// Where containerd's binary is looked for on the node (`/opt/bin`: Flatcar).
pub const BINARIES: &[&str] = &[
    "/usr/bin/containerd",
    "/usr/local/bin/containerd",
    "/opt/bin/containerd",
];

/// A release string found on the node (`1.7.24`, `v2.1.9`), judged: supported (with its
/// source), newer than regtrust knows (the newest, with a warning), or an error.
fn judge(raw: &str, source: String) -> Result<(Version, String), String> {
    let raw = raw.trim().trim_start_matches('v');
    match Version::parse_release(raw) {
        Ok(v) if Version::parse(raw).is_ok() => Ok((v, source)),
        Ok(v) if v < Version::OLDEST => Err(format!(
            "{source}: containerd {v} is older than regtrust supports ({}): the hosts.toml \
             behaviour regtrust relies on was not tested there",
            super::version::supported_list()
        )),
        Ok(v) => Ok((
            Version::NEWEST,
            format!(
                "{source}; warning: containerd {v} is newer than regtrust knows (up to {}): it is \
                 treated as {}",
                Version::NEWEST,
                Version::NEWEST
            ),
        )),
        Err(e) => Err(format!("{source}: {e}")),
    }
}

/// The version the containerd answering on the root's socket reports (its Version API).
fn running(root: &Path) -> Option<Result<(Version, String), String>> {
    let r = super::running::running(root)?;
    let raw = super::version_api::version(&r.socket, std::time::Duration::from_secs(2))?;
    let source = format!(
        "the Version API of the containerd running on {} ({raw})",
        super::running::SOCKET
    );
    Some(judge(&raw, source))
}

/// The installed containerd's version and its source, `Err` (with the reason) when the version
/// found is not one regtrust supports, None when the root says nothing.
pub(crate) fn installed(root: &Path) -> Option<Result<(Version, String), String>> {
    let found = judge;
    let dpkg = read_in_root(root, "/var/lib/dpkg/status").and_then(|t| dpkg_containerd(&t));
    if let Some((package, version)) = dpkg {
        let source = format!("dpkg status of {} ({package} {version})", root.display());
        return Some(found(strip_epoch(&version), source));
    }
    let apk = read_in_root(root, "/lib/apk/db/installed").and_then(|t| apk_containerd(&t));
    if let Some((package, version)) = apk {
        let source = format!("apk database of {} ({package} {version})", root.display());
        return Some(found(&version, source));
    }
    // rpm: /var/lib/rpm holds a Berkeley DB or SQLite database; not read here.
    for node_path in BINARIES {
        let Some(path) = file_in_root(root, node_path) else {
            continue;
        };
        let Some(elf) = Elf::open(&path) else {
            continue;
        };
        if let Some(info) = elf.build_info()
            && let Some(from) = version_in_modinfo(&info.modinfo)
        {
            let where_ = format!("build information in {}", path.display());
            return Some(match from {
                BuildVersion::Ldflags(raw) => {
                    found(&raw, format!("{where_} (-X version.Version={raw})"))
                }
                BuildVersion::Module {
                    path: module,
                    version,
                } => {
                    let exact = !version.contains('-');
                    let note = if exact {
                        String::new()
                    } else {
                        ", a pre-release or pseudo-version: patch level unknown".into()
                    };
                    found(
                        &version,
                        format!("{where_} (module {module} {version}{note})"),
                    )
                    .map(|(v, s)| {
                        let patch = if exact { v.patch } else { None };
                        (Version { patch, ..v }, s)
                    })
                }
            });
        }
        if let Some(raw) = elf.embedded_version() {
            let source = format!("version string embedded in {} ({raw})", path.display());
            return Some(found(&raw, source));
        }
    }
    None
}

/// `1:1.7.27-1` → `1.7.27-1`: a dpkg epoch is not part of containerd's version.
fn strip_epoch(version: &str) -> &str {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        _ => version,
    }
}

/// The names containerd is packaged under (Debian/Ubuntu/Alpine, Docker's repositories).
const PACKAGES: &[&str] = &["containerd", "containerd.io"];

/// The installed containerd package and its version in a dpkg `status` file.
fn dpkg_containerd(status: &str) -> Option<(String, String)> {
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut lines = status.lines();
    loop {
        let line = lines.next();
        if let Some(l) = line
            && !l.trim().is_empty()
        {
            // Continuation lines (descriptions, conffiles) start with a space or tab.
            if !l.starts_with([' ', '\t'])
                && let Some((k, v)) = l.split_once(':')
            {
                fields.push((k, v.trim()));
            }
            continue;
        }
        let get = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        };
        let status_words: Vec<&str> = get("Status").unwrap_or("").split_whitespace().collect();
        // `install ok installed`, or `hold ok installed` for a held package.
        let is_installed = matches!(status_words.as_slice(), [want, "ok", "installed"] if *want == "install" || *want == "hold");
        if is_installed
            && let Some(p) = get("Package")
            && PACKAGES.contains(&p)
            && let Some(v) = get("Version")
        {
            return Some((p.to_string(), v.to_string()));
        }
        fields.clear();
        line?;
    }
}

/// The containerd package and its version in apk's `installed` database (`P:` and `V:` lines).
fn apk_containerd(db: &str) -> Option<(String, String)> {
    let (mut package, mut version): (Option<&str>, Option<&str>) = (None, None);
    for line in db.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if let (Some(p), Some(v)) = (package.take(), version.take())
                && PACKAGES.contains(&p)
            {
                return Some((p.to_string(), v.to_string()));
            }
        } else if let Some(p) = line.strip_prefix("P:") {
            package = Some(p.trim());
        } else if let Some(v) = line.strip_prefix("V:") {
            version = Some(v.trim());
        }
    }
    None
}

/// `node_path` (absolute, as on the node) inside `root`, its symbolic links followed inside the
/// root, if it is a regular file there.
fn file_in_root(root: &Path, node_path: &str) -> Option<PathBuf> {
    let path = crate::root::resolve(root, node_path).ok()?;
    std::fs::metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}

/// The text of `node_path` inside `root`, if it is a regular file (a stray non-UTF-8 byte in
/// another package's description does not hide containerd's paragraph).
fn read_in_root(root: &Path, node_path: &str) -> Option<String> {
    let bytes = std::fs::read(file_in_root(root, node_path)?).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containerd::go_binary::fixtures::{debian_like_binary, go_binary};

    /// A root directory with files at paths relative to it.
    fn root_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (rel, content) in files {
            let path = root.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        root
    }

    fn symlink(target: impl AsRef<Path>, link: PathBuf) {
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    const DPKG_STATUS: &str = "\
Package: adduser
Status: install ok installed
Priority: important
Version: 3.134
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands.
 Version: 9.9.9

Package: containerd.io
Status: deinstall ok config-files
Version: 1.7.27-1
Conffiles:
 /etc/containerd/config.toml 1234567890abcdef

Package: containerd
Status: install ok installed
Architecture: amd64
Version: 1.6.20~ds1-1+deb12u3
Depends: libc6 (>= 2.34), runc (>= 1.0.0~rc94~)

Package: zlib1g
Status: install ok installed
Version: 1:1.2.13.dfsg-1
";

    #[test]
    fn reads_the_dpkg_status_file() {
        let root = root_with(&[("var/lib/dpkg/status", DPKG_STATUS.as_bytes())]);
        let (v, source) = detect(root.path(), Some("version = 3\n")).unwrap().unwrap();
        assert_eq!(v, Version::parse("1.6.20").unwrap());
        assert_eq!(
            source,
            format!(
                "dpkg status of {} (containerd 1.6.20~ds1-1+deb12u3)",
                root.path().display()
            )
        );

        let held = "Package: containerd.io\nStatus: hold ok installed\nVersion: 1:1.7.27-1\n";
        assert_eq!(
            dpkg_containerd(held),
            Some(("containerd.io".into(), "1:1.7.27-1".into()))
        );
        assert_eq!(strip_epoch("1:1.7.27-1"), "1.7.27-1");
        assert_eq!(strip_epoch("1.7.27-1"), "1.7.27-1");
        let removed = "Package: containerd\nStatus: deinstall ok config-files\nVersion: 1.7.1\n\n";
        assert_eq!(dpkg_containerd(removed), None);
    }

    #[test]
    fn reads_the_apk_database() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.5-r10\n\nC:Q1def=\nP:containerd\nV:2.1.4-r0\nA:x86_64\n\nP:runc\nV:1.3.0-r1\n";
        let root = root_with(&[("lib/apk/db/installed", db.as_bytes())]);
        let (v, source) = detect(root.path(), None).unwrap().unwrap();
        assert_eq!(v, Version::parse("2.1.4").unwrap());
        assert_eq!(
            source,
            format!(
                "apk database of {} (containerd 2.1.4-r0)",
                root.path().display()
            )
        );
    }

    #[test]
    fn an_unsupported_installed_containerd_is_not_guessed_from_config() {
        let status = "Package: containerd\nStatus: install ok installed\nVersion: 1.5.9~ds1-1\n";
        let root = root_with(&[("var/lib/dpkg/status", status.as_bytes())]);
        // An error naming the version, not a guess from config.toml's `version = 2`.
        let reason = detect(root.path(), Some("version = 2\n")).unwrap_err();
        assert!(
            reason.contains("containerd 1.5.9 is older than regtrust supports"),
            "{reason}"
        );
        assert!(reason.contains("1.5.9~ds1-1"), "{reason}");
    }

    #[test]
    fn a_newer_installed_containerd_is_taken_as_the_newest_known_with_a_warning() {
        let status = "Package: containerd\nStatus: install ok installed\nVersion: 2.4.0-1\n";
        let root = root_with(&[("var/lib/dpkg/status", status.as_bytes())]);
        let (v, source) = detect(root.path(), None).unwrap().unwrap();
        assert_eq!(v, Version::NEWEST);
        assert!(
            source.contains("warning: containerd 2.4.0 is newer than regtrust knows (up to 2.3)"),
            "{source}"
        );
    }

    #[test]
    fn falls_back_to_config_toml() {
        let root = tempfile::tempdir().unwrap();
        let (v, source) = detect(root.path(), Some("version = 3\n")).unwrap().unwrap();
        assert_eq!(v, Version::parse("2.0").unwrap());
        assert!(source.starts_with("inferred from `version = 3` in config.toml"));
        assert_eq!(detect(root.path(), None), Ok(None));
    }

    #[test]
    fn detect_never_runs_the_roots_binary() {
        use std::os::unix::fs::PermissionsExt;
        let outside = tempfile::tempdir().unwrap();
        let mark = outside.path().join("ran");
        let script = format!(
            "#!/bin/sh\ntouch '{}'\necho containerd x 1.7.1\n",
            mark.display()
        );
        let root = root_with(&[("usr/bin/containerd", script.as_bytes())]);
        let bin = root.path().join("usr/bin/containerd");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Not an ELF file: nothing read from it, config.toml decides.
        let (v, source) = detect(root.path(), Some("version = 2\n")).unwrap().unwrap();
        assert!(!mark.exists(), "detect ran {}", bin.display());
        assert_eq!(v, Version::parse("1.6").unwrap());
        assert!(source.starts_with("inferred from"), "{source}");
    }

    #[test]
    fn an_absolute_link_is_followed_inside_the_root() {
        let root = root_with(&[(
            "bin/true-outside",
            &go_binary(
                "path\tgithub.com/containerd/containerd/v2/cmd/containerd\nmod\tgithub.com/containerd/containerd/v2\tv2.1.4\th1:abc=\n",
            ),
        )]);
        symlink("/bin/true-outside", root.path().join("usr/bin/containerd"));
        let (v, source) = detect(root.path(), None).unwrap().unwrap();
        assert_eq!(v, Version::parse("2.1.4").unwrap());
        let inside = root.path().join("bin/true-outside");
        assert_eq!(
            source,
            format!(
                "build information in {} (module github.com/containerd/containerd/v2 v2.1.4)",
                inside.display()
            )
        );

        // The same absolute path exists outside the root with another version: not read.
        let outside = root_with(&[(
            "containerd",
            &go_binary("mod\tgithub.com/containerd/containerd\tv1.7.3\t\n"),
        )]);
        let target = outside.path().join("containerd");
        let root = root_with(&[(
            target.strip_prefix("/").unwrap().to_str().unwrap(),
            &go_binary("mod\tgithub.com/containerd/containerd/v2\tv2.1.4\t\n"),
        )]);
        symlink(&target, root.path().join("usr/local/bin/containerd"));
        let (v, _) = detect(root.path(), None).unwrap().unwrap();
        assert_eq!(v, Version::parse("2.1.4").unwrap());
    }

    #[test]
    fn a_pseudo_version_leaves_the_patch_level_unknown() {
        let root = root_with(&[(
            "opt/bin/containerd",
            &go_binary(
                "mod\tgithub.com/containerd/containerd\tv1.6.17-0.20230101000000-0123456789ab\t\n",
            ),
        )]);
        let (v, source) = detect(root.path(), None).unwrap().unwrap();
        assert_eq!(v, Version::parse("1.6").unwrap());
        assert!(source.contains("patch level unknown"), "{source}");
    }

    #[test]
    fn finds_the_version_next_to_the_package_name() {
        for wide in [true, false] {
            let root = root_with(&[("usr/bin/containerd", &debian_like_binary(wide))]);
            let (v, source) = detect(root.path(), None).unwrap().unwrap();
            assert_eq!(v, Version::parse("1.7.24").unwrap());
            assert_eq!(
                source,
                format!(
                    "version string embedded in {} (1.7.24~ds1-6+deb13u1)",
                    root.path().join("usr/bin/containerd").display()
                )
            );
        }
    }

    /// The binaries Debian ships (unpacked by .ci/install-deps): Go build information without a
    /// version, so the version comes from next to `version.Package`.
    #[test]
    #[ignore = "needs the unpacked containerd binaries (.ci/install-deps)"]
    fn reads_the_debian_containerd_binaries() {
        let cache = Path::new("/var/cache/regtrust-e2e");
        for (line, go, raw, version) in [
            ("1.6", "go1.19.8", "1.6.20~ds1-1+deb12u3", "1.6.20"),
            ("1.7", "go1.24.4", "1.7.24~ds1", "1.7.24"),
            ("2.1", "go1.27.1", "2.1.9+unknown", "2.1.9"),
        ] {
            let root = cache.join(format!("containerd-{line}"));
            let bin = root.join("usr/bin/containerd");
            assert!(
                bin.is_file(),
                "{} is missing: run .ci/install-deps",
                bin.display()
            );
            let elf = Elf::open(&bin).unwrap();
            let info = elf.build_info().unwrap();
            assert_eq!(info.go, go, "{}", bin.display());
            assert_eq!(version_in_modinfo(&info.modinfo), None, "{}", info.modinfo);
            assert_eq!(elf.embedded_version().as_deref(), Some(raw));
            let (v, source) = detect(&root, None).unwrap().unwrap();
            assert_eq!(v, Version::parse(version).unwrap());
            assert_eq!(
                source,
                format!("version string embedded in {} ({raw})", bin.display())
            );
        }
    }
}
