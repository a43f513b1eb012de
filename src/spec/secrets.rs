//! Reading the passwords a spec names (`password_file`, `password_env`): at render and apply
//! time, never while only checking the spec. Every problem is an error naming the file or the
//! variable and where in the spec it is asked for — never the value.
use std::path::Path;

use super::valid::{Auth, PasswordSource, ValidSpec};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::secret::Secret;

/// Reads every password of `spec` (`file`: the spec's name, for the diagnostics; `spec_dir`:
/// what a relative `password_file` is relative to). Every error at once.
pub fn read(spec: &mut ValidSpec, file: &str, spec_dir: &Path) -> Result<(), Diagnostics> {
    let mut errors = Vec::new();
    for reg in &mut spec.registries {
        for ep in std::iter::once(&mut reg.upstream).chain(reg.endpoints.iter_mut()) {
            let url = ep.url.clone();
            let Some(auth) = ep.auth.as_mut() else {
                continue;
            };
            if auth.password.is_some() {
                continue;
            }
            match read_one(auth, spec_dir) {
                Ok(s) => auth.password = Some(s),
                Err(why) => errors.push(
                    Diagnostic::error(
                        Code::SecretUnreadable,
                        file,
                        auth.at,
                        if auth.username.is_empty() {
                            format!("the {} for `{url}`: {why}", auth.kind.name())
                        } else {
                            format!(
                                "the {} for `{}` on `{url}`: {why}",
                                auth.kind.name(),
                                auth.username
                            )
                        },
                    )
                    .with_help(
                        "regtrust reads the password when it renders or applies; nothing was \
                         written",
                    ),
                ),
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Whether any host of the spec has credentials.
pub fn has_auth(spec: &ValidSpec) -> bool {
    spec.registries.iter().any(|r| {
        std::iter::once(&r.upstream)
            .chain(&r.endpoints)
            .any(|e| e.auth.is_some())
    })
}

fn read_one(auth: &Auth, spec_dir: &Path) -> Result<Secret, String> {
    let value = match &auth.source {
        PasswordSource::Inline => return Err("no password".into()),
        PasswordSource::File(p) => {
            let path = spec_dir.join(p);
            let shown = path.display();
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read password_file {shown}: {e}"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("password_file {shown} is not UTF-8 text"))?;
            let text = text
                .strip_suffix('\n')
                .map(|t| t.strip_suffix('\r').unwrap_or(t))
                .unwrap_or(&text)
                .to_string();
            if text.is_empty() {
                return Err(format!("password_file {shown} is empty"));
            }
            text
        }
        PasswordSource::Env(name) => match std::env::var(name) {
            Ok(v) if v.is_empty() => {
                return Err(format!("the environment variable {name} is empty"));
            }
            Ok(v) => v,
            Err(std::env::VarError::NotPresent) => {
                return Err(format!("the environment variable {name} is not set"));
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(format!("the environment variable {name} is not UTF-8 text"));
            }
        },
    };
    Ok(Secret::new(value))
}
