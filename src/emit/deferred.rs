//! Credentials an output does not carry: the `Authorization` header of a hosts.toml is planned
//! with a stand-in password, and the emitter swaps the stand-in header for what fills it in
//! later (a Terraform template variable, an environment variable the installer reads at run
//! time). The password itself is never read.
use crate::secret::{Secret, basic_authorization};
use crate::spec::{PasswordSource, ValidSpec};

/// The name prefix of the Terraform template variables: `regtrust_auth_1`, `regtrust_auth_2`, …
/// in the spec's order (each registry's upstream, then its endpoints).
pub const TEMPLATE_VAR_PREFIX: &str = "regtrust_auth_";

/// The prefix of the installer's conventional environment variable, for a password the spec
/// keeps in `password_file` or inline: `REGTRUST_AUTH_` then the host (`host[:port]` of the
/// URL), upper-cased, every other character than a letter or digit as `_`.
pub const ENV_PREFIX: &str = "REGTRUST_AUTH_";

/// One deferred credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// 1-based, in the spec's order.
    pub n: usize,
    /// The URL the credential is for.
    pub url: String,
    pub username: String,
    /// A password, or an identity token.
    pub kind: crate::spec::SecretKind,
    /// The `Authorization` value planned with the stand-in password: unique in the output.
    pub stand_in: String,
    /// The stand-in password itself: what config.toml's credentials carry (`in_config`).
    pub secret_stand_in: String,
    /// The credential goes into config.toml (`method: config`), not into a header: what
    /// fills it in is the password itself, as the inside of a TOML string.
    pub in_config: bool,
    /// The environment variable the installer reads the password from: `password_env`, or
    /// [`ENV_PREFIX`] + the host.
    pub env: String,
}

impl Deferred {
    /// "the password of `user`" / "the identity token", for messages.
    pub fn what(&self) -> String {
        if self.username.is_empty() {
            format!("the {}", self.kind.name())
        } else {
            format!("the {} of `{}`", self.kind.name(), self.username)
        }
    }

    /// The text in the output that stands for this credential: the whole header value, or (in
    /// config.toml's credentials) the password.
    pub fn placeholder(&self) -> &str {
        if self.in_config {
            &self.secret_stand_in
        } else {
            &self.stand_in
        }
    }

    /// The Terraform template variable that stands for the whole `Authorization` value.
    pub fn template_var(&self) -> String {
        format!("{TEMPLATE_VAR_PREFIX}{}", self.n)
    }
}

/// The installer's conventional variable for a host (`auth.registry.test:5000` →
/// `REGTRUST_AUTH_AUTH_REGISTRY_TEST_5000`).
pub fn env_for_host(authority: &str) -> String {
    let mut name = String::from(ENV_PREFIX);
    name.extend(authority.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

/// Whether `name` can be read by a POSIX shell as `$name`.
pub fn is_shell_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Gives every credential of `spec` a stand-in password (the real one is never read) and lists
/// them.
pub fn defer(spec: &mut ValidSpec) -> Vec<Deferred> {
    let mut out = Vec::new();
    for reg in &mut spec.registries {
        for ep in std::iter::once(&mut reg.upstream).chain(reg.endpoints.iter_mut()) {
            let authority = ep.authority().to_string();
            let url = ep.url.clone();
            let Some(auth) = ep.auth.as_mut() else {
                continue;
            };
            let n = out.len() + 1;
            // `-end`: no stand-in is the beginning of another (…-1 of …-10).
            let stand_in = Secret::new(format!("regtrust-deferred-credential-{n}-end"));
            auth.password = Some(stand_in.clone());
            out.push(Deferred {
                n,
                url,
                username: auth.username.clone(),
                kind: auth.kind,
                stand_in: basic_authorization(&auth.username, &stand_in),
                secret_stand_in: stand_in.expose().to_string(),
                in_config: false,
                env: match &auth.source {
                    PasswordSource::Env(name) => name.clone(),
                    _ => env_for_host(&authority),
                },
            });
        }
    }
    out
}

/// Marks the credentials the plan puts into config.toml (`method: config`).
pub fn mark_config(deferred: &mut [Deferred], plan: &crate::plan::Plan) {
    for d in deferred {
        d.in_config = plan
            .credentials
            .iter()
            .any(|c| c.secret.expose() == d.secret_stand_in);
    }
}

/// `text` with every stand-in header replaced by `with(credential)`; an error names a
/// credential whose stand-in does not occur (an encoded content hides it).
pub fn replace(
    text: &str,
    deferred: &[Deferred],
    with: impl Fn(&Deferred) -> String,
) -> Result<String, String> {
    let mut out = text.to_string();
    for d in deferred {
        if !out.contains(d.placeholder()) {
            return Err(format!(
                "the credential of `{}` for {} cannot be left out of this output: its content \
                 is encoded (--encoding gz+b64, or a MIME part that is not ASCII), or a \
                 --template-var replaced part of it; use --encoding plain",
                d.username, d.url
            ));
        }
        out = out.replace(d.placeholder(), &with(d));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_become_shell_names() {
        assert_eq!(
            env_for_host("auth.registry.test:5000"),
            "REGTRUST_AUTH_AUTH_REGISTRY_TEST_5000"
        );
        assert!(is_shell_name(&env_for_host("[::1]:5000")));
        assert!(!is_shell_name("1PW"));
        assert!(!is_shell_name("MY-PW"));
        assert!(is_shell_name("_pw1"));
    }
}
