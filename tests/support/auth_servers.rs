//! Registries that demand credentials, for the real suite: docker-registry with htpasswd (Basic)
//! auth — the file made with Debian's `htpasswd -B` (bcrypt) — behind
//! `tests/e2e/auth_log_proxy.py`, whose log names the user of every request's `Authorization`
//! header (never the password) and the status the registry answered: the evidence of who sent
//! which credentials where.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::support::*;
use crate::system::{PYTHON, require_tool};
use crate::tls_servers::{CertFiles, Pki};

/// `Basic base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// docker-registry with htpasswd auth on `backend` (plain HTTP), and the logging proxy in front
/// of it on `addr` (plain HTTP, or HTTPS with a server certificate): containerd is pointed at
/// `addr`.
pub struct AuthRegistry {
    registry: Child,
    proxy: Child,
    /// The token service of a registry with token (Bearer) auth.
    token: Option<TokenService>,
    pub name: String,
    /// The proxy's address (what the test's /etc/hosts names).
    pub addr: String,
    /// The registry's own address (pushes go there directly).
    pub backend: String,
    pub user: String,
    pub password: String,
    pub request_log: PathBuf,
    dir: PathBuf,
    /// The CA of the proxy's certificate, when it speaks HTTPS.
    ca: Option<PathBuf>,
}

/// One line of the proxy's log.
#[derive(Debug, Clone)]
pub struct Request {
    pub line: String,
    pub user: String,
    pub status: u16,
}

impl AuthRegistry {
    pub fn start(
        dir: &Path,
        name: &str,
        backend: &str,
        addr: &str,
        user: &str,
        password: &str,
    ) -> AuthRegistry {
        AuthRegistry::start_with_tls(dir, name, backend, addr, user, password, None)
    }

    /// [`AuthRegistry::start`] with the proxy speaking HTTPS: `(server certificate, its CA)`.
    pub fn start_with_tls(
        dir: &Path,
        name: &str,
        backend: &str,
        addr: &str,
        user: &str,
        password: &str,
        tls: Option<(&CertFiles, &Path)>,
    ) -> AuthRegistry {
        let auth = htpasswd_auth(dir, user, password);
        AuthRegistry::start_inner(dir, name, backend, addr, user, password, tls, &auth, None)
    }

    /// docker-registry with token auth (`auth: token`, the Bearer flow of Docker Hub, Harbor,
    /// GitLab…): `tests/e2e/token_service.py` on `token_addr` issues tokens to `users`
    /// (`(user, password)`, the first one pushes) and to the identity tokens of `identity`
    /// (`(token, user)`), signed by a certificate of `pki`'s own CA. Plain HTTP.
    #[allow(clippy::too_many_arguments)]
    pub fn start_token(
        dir: &Path,
        name: &str,
        backend: &str,
        addr: &str,
        token_addr: &str,
        users: &[(&str, &str)],
        identity: &[(&str, &str)],
        pki: &Pki,
    ) -> AuthRegistry {
        fs::create_dir_all(dir).unwrap();
        let ca = pki.ca(&format!("{name}-token-ca"), "regtrust test token CA");
        let signer = pki.leaf(&format!("{name}-token-signer"), &ca, &["token.signer.test"]);
        let users_file = dir.join("token-users");
        let mut lines: Vec<String> = users.iter().map(|(u, p)| format!("{u}:{p}")).collect();
        lines.extend(identity.iter().map(|(t, u)| format!("={t}:{u}")));
        fs::write(&users_file, lines.join("\n") + "\n").unwrap();
        let issuer = "regtrust-test-token-service";
        let service = "regtrust-test-registry";
        let token = TokenService::start(dir, token_addr, &signer, issuer, &users_file, service);
        let auth = format!(
            "  token:\n    realm: http://{token_addr}/token\n    service: {service}\n    \
             issuer: {issuer}\n    rootcertbundle: {}\n",
            ca.cert.display()
        );
        let (user, password) = users[0];
        AuthRegistry::start_inner(
            dir,
            name,
            backend,
            addr,
            user,
            password,
            None,
            &auth,
            Some(token),
        )
    }

    /// docker-registry as an authenticated pull-through mirror (`proxy.remoteurl`): its own
    /// clients log in with htpasswd (`user`), and it logs in to `remote` (an http:// URL) as
    /// `remote_user` to fetch what it does not have.
    #[allow(clippy::too_many_arguments)]
    pub fn start_pull_through(
        dir: &Path,
        name: &str,
        backend: &str,
        addr: &str,
        user: &str,
        password: &str,
        remote: &str,
        remote_user: &str,
        remote_password: &str,
    ) -> AuthRegistry {
        // The auth snippet closes the `auth:` section; `proxy:` follows at the top level.
        let auth = format!(
            "{}proxy:\n  remoteurl: {remote}\n  username: {remote_user}\n  password: \
             {remote_password}\n",
            htpasswd_auth(dir, user, password)
        );
        AuthRegistry::start_inner(dir, name, backend, addr, user, password, None, &auth, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_inner(
        dir: &Path,
        name: &str,
        backend: &str,
        addr: &str,
        user: &str,
        password: &str,
        tls: Option<(&CertFiles, &Path)>,
        auth: &str,
        token: Option<TokenService>,
    ) -> AuthRegistry {
        require_tool("docker-registry", "run .ci/install-deps");
        let cfg = dir.join("config.yml");
        fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {backend}\nauth:\n{auth}",
                dir.join("data").display(),
            ),
        )
        .unwrap();
        let log = |n: &str| fs::File::create(dir.join(n)).unwrap();
        let registry = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(log("registry.log"))
            .stderr(log("registry.err"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let request_log = dir.join("requests.log");
        let mut proxy = Command::new(PYTHON);
        proxy
            .arg(manifest_dir().join("tests/e2e/auth_log_proxy.py"))
            .args([addr, backend])
            .arg(&request_log);
        if let Some((cert, _)) = tls {
            proxy.arg(&cert.cert).arg(&cert.key);
        }
        let proxy = proxy
            .stdout(log("proxy.out"))
            .stderr(log("proxy.err"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start auth_log_proxy.py");
        let mut r = AuthRegistry {
            registry,
            proxy,
            token,
            name: name.to_string(),
            addr: addr.to_string(),
            backend: backend.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            request_log,
            dir: dir.to_path_buf(),
            ca: tls.map(|(_, ca)| ca.to_path_buf()),
        };
        r.wait_ready();
        r
    }

    /// Ready = both processes alive, GET /v2/ through the proxy answers 401 without
    /// credentials and 200 with them (the registry really demands them); with token auth, 401
    /// (a Bearer challenge) and the token service grants the first user a token.
    fn wait_ready(&mut self) {
        if let Some(t) = &mut self.token {
            t.wait_ready(&self.user, &self.password);
        }
        let start = Instant::now();
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", self.addr);
        let header = format!("Authorization:{}", basic(&self.user, &self.password));
        let ca: Vec<String> = self
            .ca
            .iter()
            .flat_map(|c| ["--ca".to_string(), c.display().to_string()])
            .collect();
        loop {
            for (what, child) in [("registry", &mut self.registry), ("proxy", &mut self.proxy)] {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{} {what} exited ({status}):\n{}\n{}",
                        self.name,
                        tail(&self.dir.join("registry.err")),
                        tail(&self.dir.join("proxy.err"))
                    );
                }
            }
            let status = |extra: &[&str]| {
                let o = run(Command::new(PYTHON)
                    .arg(manifest_dir().join("tests/e2e/v2_status.py"))
                    .arg(&url)
                    .args(&ca)
                    .args(extra));
                String::from_utf8_lossy(&o.stdout).trim().to_string()
            };
            let with = status(&["--header", &header]);
            if self.token.is_some() && status(&[]) == "401" {
                return;
            }
            if with == "200" {
                assert_eq!(
                    status(&[]),
                    "401",
                    "{}: GET /v2/ without credentials must be refused",
                    self.name
                );
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} ({url}) did not answer GET /v2/ with 200 in 20 s (last: {with}):\n{}\n{}",
                self.name,
                tail(&self.dir.join("registry.err")),
                tail(&self.dir.join("proxy.err"))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Pushes an OCI layout with skopeo `--dest-creds`, to the registry itself.
    pub fn push(&self, layout: &Path, repo_tag: &str) {
        let o = run(Command::new("skopeo")
            .args([
                "--insecure-policy",
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                "--dest-creds",
                &format!("{}:{}", self.user, self.password),
            ])
            .arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.backend)));
        assert!(
            o.status.success(),
            "skopeo push to {} failed: {}",
            self.name,
            text(&o)
        );
    }

    /// The size of the request log now, to read what is logged after.
    pub fn mark(&self) -> u64 {
        fs::metadata(&self.request_log).map_or(0, |m| m.len())
    }

    /// The requests logged since `mark`.
    pub fn since(&self, mark: u64) -> Vec<Request> {
        let b = fs::read(&self.request_log).unwrap_or_default();
        String::from_utf8_lossy(&b[(mark as usize).min(b.len())..])
            .lines()
            .map(|l| {
                let field = |k: &str| {
                    l.split(' ')
                        .find_map(|f| f.strip_prefix(k))
                        .unwrap_or("")
                        .to_string()
                };
                Request {
                    line: l.to_string(),
                    user: field("user="),
                    status: field("status=").parse().unwrap_or(0),
                }
            })
            .collect()
    }
}

/// docker-registry's `auth:` section for htpasswd (bcrypt, Debian's `htpasswd -B`) with one user.
fn htpasswd_auth(dir: &Path, user: &str, password: &str) -> String {
    require_tool(
        "htpasswd",
        "run .ci/install-deps (Debian package apache2-utils)",
    );
    fs::create_dir_all(dir).unwrap();
    let htpasswd = dir.join("htpasswd");
    let o = run(Command::new("htpasswd")
        .args(["-B", "-b", "-c"])
        .arg(&htpasswd)
        .args([user, password]));
    assert!(o.status.success(), "htpasswd: {}", text(&o));
    format!(
        "  htpasswd:\n    realm: regtrust-test\n    path: {}\n",
        htpasswd.display()
    )
}

/// `tests/e2e/token_service.py`: issues registry tokens, logs every token request.
pub struct TokenService {
    child: Child,
    pub addr: String,
    pub service: String,
    pub log: PathBuf,
    dir: PathBuf,
}

/// One line of the token service's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    pub grant: String,
    pub user: String,
    pub status: u16,
}

impl TokenService {
    fn start(
        dir: &Path,
        addr: &str,
        signer: &CertFiles,
        issuer: &str,
        users: &Path,
        service: &str,
    ) -> TokenService {
        let log = dir.join("token-requests.log");
        let out = |n: &str| fs::File::create(dir.join(n)).unwrap();
        let child = Command::new(PYTHON)
            .arg(manifest_dir().join("tests/e2e/token_service.py"))
            .arg(addr)
            .arg(&signer.key)
            .arg(&signer.cert)
            .arg(issuer)
            .arg(users)
            .arg(&log)
            .stdout(out("token.out"))
            .stderr(out("token.err"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start token_service.py (needs Debian's python3-jwt)");
        TokenService {
            child,
            addr: addr.to_string(),
            service: service.to_string(),
            log,
            dir: dir.to_path_buf(),
        }
    }

    fn wait_ready(&mut self, user: &str, password: &str) {
        let start = Instant::now();
        let header = format!("Authorization:{}", basic(user, password));
        let path = format!("/token?service={}", self.service);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "token service exited ({status}):\n{}",
                    tail(&self.dir.join("token.err"))
                );
            }
            let o = run(Command::new(PYTHON)
                .arg(manifest_dir().join("tests/e2e/v2_status.py"))
                .arg(format!("http://{}", self.addr))
                .args(["--path", &path, "--header", &header]));
            if String::from_utf8_lossy(&o.stdout).trim() == "200" {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "token service on {} not ready in 20 s: {}\n{}",
                self.addr,
                text(&o),
                tail(&self.dir.join("token.err"))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl AuthRegistry {
    /// The token requests logged since `mark` (a registry with token auth).
    pub fn token_requests_since(&self, mark: u64) -> Vec<TokenRequest> {
        let t = self.token.as_ref().expect("a registry with token auth");
        let b = fs::read(&t.log).unwrap_or_default();
        String::from_utf8_lossy(&b[(mark as usize).min(b.len())..])
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let field = |k: &str| {
                    f.iter()
                        .find_map(|x| x.strip_prefix(k))
                        .unwrap_or("")
                        .to_string()
                };
                TokenRequest {
                    method: f[0].to_string(),
                    grant: field("grant="),
                    user: field("user="),
                    status: field("status=").parse().unwrap_or(0),
                }
            })
            .collect()
    }

    /// The size of the token log now.
    pub fn token_mark(&self) -> u64 {
        let t = self.token.as_ref().expect("a registry with token auth");
        fs::metadata(&t.log).map_or(0, |m| m.len())
    }
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        for c in [&mut self.proxy, &mut self.registry] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// --- What the credential tests (auth, auth_channels, auth_token) share ---

/// Fails when `out` (something regtrust or a boot script printed) contains one of `secrets`.
pub fn assert_none_of(what: &str, out: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!out.contains(s), "{what} printed a secret ({s}):\n{out}");
    }
}

/// A password file `dir/name` (0600) holding `value` and a line break; its path.
pub fn secret_file(dir: &Path, name: &str, value: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    fs::write(&p, format!("{value}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}

/// Whether a CRI pull error says the registry refused (or asked for) credentials.
pub fn unauthorized(err: &str) -> bool {
    let e = err.to_ascii_lowercase();
    [
        "401",
        "unauthorized",
        "authorization failed",
        "no basic auth credentials",
    ]
    .iter()
    .any(|m| e.contains(m))
}

/// `regtrust apply --spec SPEC --root ROOT --containerd VERSION EXTRA…`: it succeeds and prints
/// none of `secrets`; its output.
pub fn apply_quietly(
    spec: &str,
    root: &Path,
    version: &str,
    extra: &[&str],
    secrets: &[String],
) -> String {
    let args = [
        &[
            "apply",
            "--spec",
            spec,
            "--root",
            root.to_str().unwrap(),
            "--containerd",
            version,
        ][..],
        extra,
    ]
    .concat();
    let o = regtrust(&args);
    let out = text(&o);
    assert!(o.status.success(), "{version}: regtrust {args:?}: {out}");
    assert_none_of(&format!("{version}: regtrust {args:?}"), &out, secrets);
    out
}

impl AuthRegistry {
    /// The requests containerd made (its User-Agent) since `mark`.
    pub fn containerd_requests(&self, mark: u64) -> Vec<Request> {
        self.since(mark)
            .into_iter()
            .filter(|r| r.line.contains("containerd/"))
            .collect()
    }
}

/// `doctor --probe --format json` on `root`, run where the test's names resolve (a mount
/// namespace with `hosts` as /etc/hosts): the finding codes and the probes as `endpoint: verdict`.
/// Nothing it prints holds one of `secrets`.
pub fn doctor_probe_in(
    hosts: &Path,
    root: &Path,
    version: &str,
    secrets: &[String],
) -> (Vec<String>, Vec<String>) {
    let o = run(crate::system::in_namespace(
        "mount --bind \"$E2E_HOSTS\" /etc/hosts && exec \"$E2E_REGTRUST\" doctor --root \"$E2E_ROOT\" \
         --containerd \"$E2E_VERSION\" --probe --format json",
    )
    .env("E2E_HOSTS", hosts)
    .env("E2E_REGTRUST", regtrust_bin())
    .env("E2E_ROOT", root)
    .env("E2E_VERSION", version));
    assert_none_of(&format!("{version}: doctor --probe"), &text(&o), secrets);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{version}: doctor --probe: {e}: {}", text(&o)));
    let list = |k: &str, f: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x[f].as_str().unwrap_or("").to_string())
            .collect()
    };
    let probes = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["endpoint"].as_str().unwrap_or(""),
                p["verdict"].as_str().unwrap_or("")
            )
        })
        .collect();
    (list("findings", "code"), probes)
}
