//! `regtrust migrate` and `regtrust import k3s`: legacy registry settings → a regtrust spec.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::args::{ImportFrom, MigrateArgs};
use super::exit;
use crate::containerd::{Version, resolve};
use crate::emit::spec_yaml;
use crate::error::{Error, Result};
use crate::legacy::LegacyAuth;
use crate::secret::Secret;
use crate::spec::{Registry, SecretKind};

pub fn run_migrate(a: &MigrateArgs) -> Result<u8> {
    let text = crate::root::resolve(&a.node.root, &a.node.config)
        .and_then(std::fs::read_to_string)
        .map_err(|e| {
            Error::Node(format!(
                "cannot read {} under {}: {e}",
                a.node.config,
                a.node.root.display()
            ))
        })?;
    let decided = resolve::decide(resolve::Inputs {
        flag: a.containerd.version,
        spec: None,
        root: Some(&a.node.root),
        config_text: Some(&text),
    });
    // Nothing says (no version key either: a version 1 file): read it as 1.x does; only the
    // file's layout matters for reading legacy settings.
    let version = decided
        .map_err(Error::Node)?
        .map_or_else(|| Version::parse("1.7").expect("known"), |(v, _)| v);
    // Only reads the legacy settings: nothing is patched.
    let (migrated, auths, notes) = crate::legacy::read_config(&text, version)
        .map_err(|e| Error::Node(format!("{}: {e}", a.node.config)))?;
    let mut regs: Vec<Registry> = migrated.into_iter().map(|(r, _)| r).collect();
    let mut notes = notes;
    settle(&mut regs, a.no_probe, &mut notes);
    let secrets = carry_auth(
        &mut regs,
        &auths,
        &a.emit_spec,
        a.secrets_dir.as_deref(),
        &mut notes,
    )?;
    if regs.is_empty() {
        eprintln!(
            "{}: no legacy registry.mirrors, registry.configs.*.tls or .auth to migrate",
            a.node.config
        );
        return Ok(exit::OK);
    }
    let header = format!(
        "regtrust spec migrated from the legacy registry settings of {}.\nApply it with `regtrust apply --spec <this file>`: hosts.toml files replace the legacy tables.",
        a.node.config
    );
    emit(
        &a.emit_spec,
        &spec_yaml::render(&regs, &header),
        &notes,
        &secrets,
    )
}

/// The secret files `migrate`/`import` write: (path, secret).
type SecretFiles = Vec<(PathBuf, Secret)>;

/// Carries legacy `configs.*.auth` into `regs`: each secret gets a file in the secrets
/// directory (written by `emit`, after the spec validates), which the spec names.
fn carry_auth(
    regs: &mut Vec<Registry>,
    auths: &[(String, LegacyAuth)],
    emit_spec: &Path,
    secrets_dir: Option<&Path>,
    notes: &mut Vec<String>,
) -> Result<SecretFiles> {
    if auths.is_empty() {
        return Ok(Vec::new());
    }
    let dir = match secrets_dir {
        Some(d) => d.to_path_buf(),
        None if emit_spec == Path::new("-") => {
            return Err(Error::Usage(
                "the legacy settings carry credentials (configs.*.auth): with --emit-spec - \
                 pass --secrets-dir DIR, where each secret gets a 0600 file the spec names; \
                 nothing was written"
                    .into(),
            ));
        }
        None => {
            let name = emit_spec
                .file_name()
                .map_or("spec".into(), |n| n.to_string_lossy().to_string());
            emit_spec.with_file_name(format!("{name}.secrets"))
        }
    };
    let dir =
        std::path::absolute(&dir).map_err(|e| Error::Node(format!("{}: {e}", dir.display())))?;
    let mut files: SecretFiles = Vec::new();
    let mut store = |host: &str, kind: SecretKind, secret: &Secret| {
        let safe: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let what = match kind {
            SecretKind::Password => "password",
            SecretKind::IdentityToken => "identity-token",
        };
        let path = dir.join(format!("{safe}.{what}"));
        files.push((path.clone(), secret.clone()));
        Ok(path.display().to_string())
    };
    crate::legacy::attach_auth(regs, auths, &mut store, notes).map_err(Error::Node)?;
    Ok(files)
}

pub fn run_import(from: &ImportFrom) -> Result<u8> {
    let ImportFrom::K3s {
        file,
        emit_spec,
        no_probe,
        secrets_dir,
    } = from;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Node(format!("cannot read {}: {e}", file.display())))?;
    let (mut legacy, notes) =
        crate::k3s::parse(&file.display().to_string(), &text).map_err(Error::Usage)?;
    let auths = std::mem::take(&mut legacy.auth);
    let mut more = Vec::new();
    let mut regs: Vec<Registry> = crate::legacy::migrate(legacy, &BTreeSet::new(), &mut more)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let mut notes = notes;
    settle(&mut regs, *no_probe, &mut notes);
    let secrets = carry_auth(
        &mut regs,
        &auths,
        emit_spec,
        secrets_dir.as_deref(),
        &mut notes,
    )?;
    let header = format!(
        "regtrust spec imported from {} (k3s/RKE2 registries.yaml).\nApply it with `regtrust apply --spec <this file>`.",
        file.display()
    );
    emit(
        emit_spec,
        &spec_yaml::render(&regs, &header),
        &notes,
        &secrets,
    )
}

fn emit(path: &Path, text: &str, notes: &[String], secrets: &[(PathBuf, Secret)]) -> Result<u8> {
    for n in notes {
        if n.starts_with("warning: ") {
            eprintln!("{n}");
        } else {
            eprintln!("note: {n}");
        }
    }
    // The spec must load: what regtrust writes, regtrust reads.
    if let Err(d) = crate::spec::load_str("migrated spec", text) {
        return Err(Error::Node(format!(
            "the migrated spec does not validate:\n{d}"
        )));
    }
    // The secrets first (a directory only root reads, each file 0600), then the spec naming
    // them.
    if let Some((first, _)) = secrets.first() {
        let dir = first.parent().expect("a file in the secrets directory");
        std::fs::create_dir_all(dir)
            .and_then(|()| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            })
            .map_err(|e| Error::Node(format!("{}: {e}; nothing was written", dir.display())))?;
        for (p, s) in secrets {
            crate::fs::write_file(p, s.expose().as_bytes(), 0o600)
                .map_err(|e| Error::Node(e.to_string()))?;
        }
        eprintln!(
            "wrote {} secret file(s) under {} (0600)",
            secrets.len(),
            dir.display()
        );
    }
    if path == Path::new("-") {
        print!("{text}");
        return Ok(exit::OK);
    }
    crate::fs::write_file(path, text.as_bytes(), 0o644)
        .map_err(|e| Error::Node(format!("{e}; nothing was written")))?;
    eprintln!("wrote {}", path.display());
    Ok(exit::OK)
}

/// Asks each `https://` endpoint that carries the recipe's `insecure_skip_verify` what it speaks
/// (as `doctor --probe` does, 2 s per endpoint), unless `no_probe`; see `legacy::settle_schemes`.
fn settle(regs: &mut [Registry], no_probe: bool, notes: &mut Vec<String>) {
    use crate::doctor::probe::{Speaks, probe};
    use crate::legacy::Answer;
    let mut ask = |authority: &str| {
        if no_probe {
            return None;
        }
        // An authority without a port is HTTPS's 443.
        let with_port = if authority.ends_with(']') || !authority.contains(':') {
            format!("{authority}:443")
        } else {
            authority.to_string()
        };
        let r = probe(&with_port);
        let answer = match r.speaks {
            Speaks::Tls => Answer::Https,
            Speaks::PlainHttp => Answer::PlainHttp,
            Speaks::Unreachable | Speaks::Unknown => Answer::Unknown,
        };
        Some((answer, r.verdict))
    };
    crate::legacy::settle_schemes(regs, &mut ask, notes);
}
