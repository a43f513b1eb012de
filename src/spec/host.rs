//! Registry host names as they appear in image references: `name[:port]`, IPv4[:port],
//! `[IPv6][:port]`, or `*` for the catch-all.

/// Checks a registry host; on error says what was expected.
/// `host[:port]/path` of a URL, without its scheme and trailing `/` (a text without a scheme is
/// returned as it is, less the trailing `/`).
pub fn strip_scheme(url: &str) -> &str {
    url.split_once("://")
        .map_or(url, |(_, r)| r)
        .trim_end_matches('/')
}

/// `host[:port]` of a URL (or of `host[:port]/path`).
pub fn authority(url: &str) -> &str {
    strip_scheme(url).split('/').next().unwrap_or("")
}

pub fn check_host(host: &str) -> Result<(), String> {
    if host == "*" {
        return Ok(());
    }
    if host.contains("://") {
        let bare = strip_scheme(host);
        return Err(format!(
            "`{host}` is a URL, but `host` is the registry as written in image references \
             (name[:port]): write `host: {bare}`, and `http: true` if it speaks plain HTTP"
        ));
    }
    if host.is_empty() {
        return Err("`host` is empty: expected name[:port], IPv4[:port] or [IPv6][:port]".into());
    }
    if let Some((registry, path)) = host.split_once('/')
        && !registry.is_empty()
        && !path.is_empty()
        && !host
            .split('/')
            .any(|c| c.is_empty() || c == ".." || c == ".")
    {
        return Err(format!(
            "`{host}`: a host cannot carry a path: `host` is the registry as written in image \
             references (name[:port]); write `host: {registry}` — the path `{path}` belongs in the \
             image reference ({registry}/{path}/app:tag)"
        ));
    }
    if host.len() > 253 + 6 {
        return Err(format!(
            "`host` is {} bytes long: a registry host name has at most 253 characters plus a port",
            host.len()
        ));
    }
    let (name, port) = split_port(host)?;
    if let Some(p) = port {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) && !p.starts_with('0') => {}
            _ => {
                return Err(format!(
                    "`{host}`: port `{p}` is not a number from 1 to 65535"
                ));
            }
        }
    }
    if let Some(inner) = name.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(|| {
            format!("`{host}`: an IPv6 address must be written in brackets, [addr]:port")
        })?;
        return inner
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| format!("`{host}`: `{inner}` is not an IPv6 address"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    check_dns_name(host, name)
}

fn split_port(host: &str) -> Result<(&str, Option<&str>), String> {
    if host.starts_with('[') {
        return match host.rfind("]:") {
            Some(i) => Ok((&host[..=i], Some(&host[i + 2..]))),
            None => Ok((host, None)),
        };
    }
    match host.matches(':').count() {
        0 => Ok((host, None)),
        1 => {
            let (n, p) = host.split_once(':').unwrap_or((host, ""));
            Ok((n, Some(p)))
        }
        _ => Err(format!(
            "`{host}`: an IPv6 address must be written in brackets, [addr]:port"
        )),
    }
}

fn check_dns_name(host: &str, name: &str) -> Result<(), String> {
    let expected = "expected name[:port], IPv4[:port] or [IPv6][:port]";
    if name.contains('/') || name.contains('\\') {
        return Err(format!(
            "`{host}` contains a path separator: {expected} (a path after the host belongs in an endpoint url)"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{host}` has an empty label (`..` or a leading/trailing dot): {expected}"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "`{host}`: label `{label}` is longer than 63 characters"
            ));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "`{host}`: `{label}` is not a valid host name label (letters, digits, `-`, `_`): {expected}"
            ));
        }
    }
    Ok(())
}

/// The host containerd contacts for a registry by default (Docker Hub's API is elsewhere).
pub fn upstream_host(host: &str) -> &str {
    if host == "docker.io" {
        "registry-1.docker.io"
    } else {
        host
    }
}

/// The directory containerd looks up under config_path for this host.
pub fn dir_name(host: &str) -> String {
    if host == "*" {
        "_default".to_string()
    } else {
        host.to_string()
    }
}

/// Checks an endpoint URL: `http(s)://host[:port][/path]`.
pub fn check_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "`{url}` has no scheme: expected http://host[:port][/path] or https://host[:port][/path]"
        ));
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("`{url}`: scheme `{scheme}` is not http or https"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if path.contains("..") || path.contains(['?', '#', ' ']) {
        return Err(format!(
            "`{url}`: the path may not contain `..`, `?`, `#` or spaces"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "`{url}`: credentials in the URL are not supported; use `headers` (Authorization)"
        ));
    }
    check_host(authority).map_err(|e| format!("in url `{url}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_registry_hosts() {
        for h in [
            "my.private.registry:5000",
            "harbor.corp.example",
            "docker.io",
            "10.0.0.5:5000",
            "[fd00::1]:5000",
            "[::1]",
            "localhost",
            "*",
            "reg_1.example",
        ] {
            assert_eq!(check_host(h), Ok(()), "{h}");
        }
    }

    #[test]
    fn rejects_urls_paths_and_bad_ports() {
        let e = check_host("http://my.private.registry:5000").unwrap_err();
        assert!(
            e.contains("is a URL") && e.contains("host: my.private.registry:5000"),
            "{e}"
        );
        assert!(check_host("../x").unwrap_err().contains("path separator"));
        assert!(check_host("a..b").unwrap_err().contains("empty label"));
        assert!(check_host("reg:0").unwrap_err().contains("1 to 65535"));
        assert!(check_host("reg:99999").unwrap_err().contains("1 to 65535"));
        assert!(check_host("fd00::1").unwrap_err().contains("brackets"));
        assert!(
            check_host("[fd00::zz]:5")
                .unwrap_err()
                .contains("not an IPv6")
        );
        assert!(check_host("").unwrap_err().contains("empty"));
        assert!(
            check_host("a b")
                .unwrap_err()
                .contains("not a valid host name label")
        );
        assert!(check_host("x\0y").is_err());
    }

    #[test]
    fn checks_endpoint_urls() {
        assert_eq!(check_url("http://cache.corp.example:5000"), Ok(()));
        assert_eq!(check_url("https://mirror.example/v2/proxy"), Ok(()));
        assert!(check_url("cache:5000").unwrap_err().contains("no scheme"));
        assert!(
            check_url("ftp://x")
                .unwrap_err()
                .contains("not http or https")
        );
        assert!(
            check_url("http://u:p@x")
                .unwrap_err()
                .contains("credentials")
        );
    }

    #[test]
    fn star_is_default_dir() {
        assert_eq!(dir_name("*"), "_default");
        assert_eq!(dir_name("a:5000"), "a:5000");
    }
}
