//! HTTPS test servers for the real suite: CAs and certificates made with `openssl` at test time
//! (nothing secret is checked in), docker-registry serving TLS (optionally demanding a client
//! certificate), a reverse proxy that refuses requests lacking a header
//! (`tests/e2e/header_proxy.py`), per-process loopback addresses, and each server's own request
//! log as the evidence of who was contacted.
//!
//! A server is ready when its process is alive and it answers `GET /v2/`
//! (`tests/e2e/v2_status.py`), not when something listens on its port; a wait that times out
//! fails the test with the server's log.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use crate::system::PYTHON;

/// Loopback addresses for one test, derived from this process's id so that another run of the
/// suite at the same time (and the fixed 127.0.0.x addresses of the other real tests) do not
/// collide: `127.<200 + pid % 50>.<(pid / 50) % 64 * 4 + slot>.<n>`.
pub struct Net {
    a: u32,
    b: u32,
}

impl Net {
    /// `slot` (0..4) separates the tests of one process.
    pub fn for_test(slot: u32) -> Net {
        assert!(slot < 4, "Net::for_test: slot {slot} out of range");
        let pid = std::process::id();
        Net {
            a: 200 + pid % 50,
            b: (pid / 50) % 64 * 4 + slot,
        }
    }

    pub fn ip(&self, n: u8) -> String {
        format!("127.{}.{}.{n}", self.a, self.b)
    }
}

/// A CA or a leaf certificate: PEM files.
#[derive(Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    pub fn cert_pem(&self) -> String {
        fs::read_to_string(&self.cert).unwrap()
    }
    pub fn key_pem(&self) -> String {
        fs::read_to_string(&self.key).unwrap()
    }
}

/// Makes CAs and certificates with the `openssl` CLI in one directory (P-256 keys, 2 days).
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        crate::system::require_tool("openssl", "run .ci/install-deps (Debian package openssl)");
        fs::create_dir_all(dir).unwrap();
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    fn openssl(&self, args: &[&str]) {
        let o = run(Command::new("openssl").current_dir(&self.dir).args(args));
        assert!(o.status.success(), "openssl {args:?}: {}", text(&o));
    }

    /// A self-signed CA named `name` (files `<name>.pem`, `<name>.key`) with subject `cn`.
    pub fn ca(&self, name: &str, cn: &str) -> CertFiles {
        let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &key,
            "-out",
            &cert,
        ]);
        self.files(name)
    }

    /// A leaf certificate signed by `ca`: a server certificate for the DNS names `sans`, or a
    /// client certificate when `sans` is empty. The key file gets mode 0600.
    pub fn leaf(&self, name: &str, ca: &CertFiles, sans: &[&str]) -> CertFiles {
        let (cert, key, csr, ext) = (
            format!("{name}.pem"),
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.ext"),
        );
        let cn = sans.first().copied().unwrap_or("regtrust test node");
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ]);
        let usage = if sans.is_empty() {
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n".to_string()
        } else {
            let names: Vec<String> = sans.iter().map(|s| format!("DNS:{s}")).collect();
            format!(
                "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                names.join(",")
            )
        };
        fs::write(self.dir.join(&ext), usage).unwrap();
        let (ca_cert, ca_key) = (ca.cert.to_str().unwrap(), ca.key.to_str().unwrap());
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca_cert,
            "-CAkey",
            ca_key,
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ]);
        fs::set_permissions(self.dir.join(&key), fs::Permissions::from_mode(0o600)).unwrap();
        self.files(name)
    }

    fn files(&self, name: &str) -> CertFiles {
        CertFiles {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        }
    }
}

/// How to reach a server for the readiness check and the harness's own pushes.
#[derive(Clone, Default)]
pub struct Access {
    /// The CA that signed the server's certificate (HTTPS); `None` for plain HTTP.
    pub ca: Option<PathBuf>,
    /// A client certificate the server demands.
    pub client: Option<CertFiles>,
    /// A header the server demands.
    pub header: Option<(String, String)>,
}

/// A test server process (docker-registry or the header proxy) with its logs.
pub struct Server {
    child: Child,
    pub name: String,
    pub addr: String,
    pub access: Access,
    /// One line per request: docker-registry's access log (stdout), or the proxy's log.
    pub request_log: PathBuf,
    /// docker-registry's stderr: its own log and Go's `http: TLS handshake error` lines.
    pub error_log: PathBuf,
}

/// What a server logged between a [`Server::mark`] and now.
#[derive(Debug)]
pub struct Window {
    pub requests: Vec<String>,
    pub errors: String,
}

impl Window {
    /// The request lines containerd sent (its User-Agent is `containerd/<version>`).
    pub fn containerd_requests(&self) -> Vec<&String> {
        self.requests
            .iter()
            .filter(|l| l.contains("containerd/"))
            .collect()
    }
}

impl Server {
    /// docker-registry on `addr` over plain HTTP (`tls: None`) or HTTPS with `(cert, key)`;
    /// with `client_ca` it demands a client certificate signed by that CA
    /// (`http.tls.clientcas`).
    pub fn registry(
        dir: &Path,
        name: &str,
        addr: &str,
        tls: Option<&CertFiles>,
        client_ca: Option<&Path>,
        access: Access,
    ) -> Server {
        crate::system::require_tool("docker-registry", "run .ci/install-deps");
        fs::create_dir_all(dir).unwrap();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        );
        if let Some(t) = tls {
            cfg.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                t.cert.display(),
                t.key.display()
            ));
            if let Some(ca) = client_ca {
                cfg.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
            }
        }
        let cfg_path = dir.join("config.yml");
        fs::write(&cfg_path, cfg).unwrap();
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve").arg(&cfg_path);
        Server::spawn(cmd, dir, name, addr, access, None)
    }

    /// `tests/e2e/header_proxy.py` on `addr` (HTTPS with `tls`) in front of the plain-HTTP
    /// registry `backend`: it answers 403 unless the request carries `header: value`.
    pub fn header_proxy(
        dir: &Path,
        name: &str,
        addr: &str,
        backend: &Server,
        tls: &CertFiles,
        ca: &Path,
        header: (&str, &str),
    ) -> Server {
        fs::create_dir_all(dir).unwrap();
        let request_log = dir.join("requests.log");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(manifest_dir().join("tests/e2e/header_proxy.py"))
            .args([addr, &backend.addr])
            .args([&tls.cert, &tls.key])
            .args([header.0, header.1])
            .arg(&request_log);
        let access = Access {
            ca: Some(ca.to_path_buf()),
            client: None,
            header: Some((header.0.to_string(), header.1.to_string())),
        };
        Server::spawn(cmd, dir, name, addr, access, Some(request_log))
    }

    fn spawn(
        mut cmd: Command,
        dir: &Path,
        name: &str,
        addr: &str,
        access: Access,
        request_log: Option<PathBuf>,
    ) -> Server {
        let stdout_log = dir.join("stdout.log");
        let error_log = dir.join("stderr.log");
        let child = cmd
            .stdout(fs::File::create(&stdout_log).unwrap())
            .stderr(fs::File::create(&error_log).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let mut s = Server {
            child,
            name: name.to_string(),
            addr: addr.to_string(),
            access,
            request_log: request_log.unwrap_or(stdout_log),
            error_log,
        };
        s.wait_ready(Duration::from_secs(20));
        s
    }

    pub fn url(&self) -> String {
        let scheme = if self.access.ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Ready = the process is alive and `GET /v2/` answers 200 (with the CA, client
    /// certificate and header it demands). Panics, with the server's log, on exit or timeout.
    fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} ({}) exited ({status}) before it answered /v2/:\n{}\n{}",
                    self.name,
                    self.addr,
                    tail(&self.error_log),
                    tail(&self.request_log)
                );
            }
            let mut probe = Command::new(PYTHON);
            probe
                .arg(manifest_dir().join("tests/e2e/v2_status.py"))
                .arg(self.url());
            if let Some(ca) = &self.access.ca {
                probe.arg("--ca").arg(ca);
            }
            if let Some(c) = &self.access.client {
                probe.arg("--cert").arg(&c.cert).arg("--key").arg(&c.key);
            }
            if let Some((n, v)) = &self.access.header {
                probe.arg("--header").arg(format!("{n}:{v}"));
            }
            let o = run(&mut probe);
            let last = text(&o).trim().to_string();
            if o.status.success() && last == "200" {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{} ({}) did not answer GET /v2/ with 200 in {timeout:?} (last: {last}):\n{}",
                self.name,
                self.addr,
                tail(&self.error_log)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Pushes an OCI layout with skopeo, by address (the server's name exists only in the
    /// test's namespace, so the harness does not check it), sending the client certificate the
    /// server demands.
    pub fn push(&self, layout: &Path, repo_tag: &str) {
        let mut cmd = Command::new("skopeo");
        cmd.args([
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
        ]);
        if let Some(c) = &self.access.client {
            let certs = layout.with_extension(format!("certs-{}", self.name));
            fs::create_dir_all(&certs).unwrap();
            fs::copy(&c.cert, certs.join("client.cert")).unwrap();
            fs::copy(&c.key, certs.join("client.key")).unwrap();
            cmd.arg("--dest-cert-dir").arg(&certs);
        }
        cmd.arg(format!("oci:{}:latest", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.addr));
        let o = run(&mut cmd);
        assert!(
            o.status.success(),
            "skopeo push to {} ({}) failed: {}",
            self.name,
            self.addr,
            text(&o)
        );
    }

    /// The sizes of both logs now, to read what is logged after.
    pub fn mark(&self) -> (u64, u64) {
        let len = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        (len(&self.request_log), len(&self.error_log))
    }

    /// What was logged since `mark`.
    pub fn since(&self, mark: (u64, u64)) -> Window {
        let from = |p: &Path, at: u64| {
            let b = fs::read(p).unwrap_or_default();
            String::from_utf8_lossy(&b[(at as usize).min(b.len())..]).into_owned()
        };
        Window {
            requests: from(&self.request_log, mark.0)
                .lines()
                .map(String::from)
                .collect(),
            errors: from(&self.error_log, mark.1),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
