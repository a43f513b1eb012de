//! containerd release versions (1.6 → 2.3) and the hosts.toml features each one has.
use std::fmt;

/// A containerd release, `major.minor` with an optional patch level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
}

/// The release lines regtrust supports.
pub const SUPPORTED: &[(u32, u32)] = &[(1, 6), (1, 7), (2, 0), (2, 1), (2, 2), (2, 3)];
/// [`SUPPORTED`] as written on the command line (shell completion offers them).
pub const SUPPORTED_NAMES: &[&str] = &["1.6", "1.7", "2.0", "2.1", "2.2", "2.3"];

/// Whether a feature is present, absent, or depends on a patch level we do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Yes,
    No,
    /// Present from this patch level of the release line; the patch level is unknown.
    FromPatch(u32),
}

impl Version {
    /// The oldest and the newest release line regtrust knows.
    pub const OLDEST: Version = Version {
        major: 1,
        minor: 6,
        patch: None,
    };
    pub const NEWEST: Version = Version {
        major: 2,
        minor: 3,
        patch: None,
    };

    /// The numbers of any release (`1.5.9`, `v2.4.0`), supported or not.
    pub fn parse_release(text: &str) -> Result<Version, String> {
        let t = text.trim().trim_start_matches('v');
        let core: String = t
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = core.split('.').filter(|p| !p.is_empty());
        let num = |p: Option<&str>| p.and_then(|s| s.parse::<u32>().ok());
        match (num(parts.next()), num(parts.next())) {
            (Some(major), Some(minor)) => Ok(Version {
                major,
                minor,
                patch: num(parts.next()),
            }),
            _ => Err(format!(
                "`{text}` is not a containerd version: expected one of {}",
                supported_list()
            )),
        }
    }

    /// Parses `1.7`, `1.7.24`, `v2.1.9`, `1.6.20~ds1`: a release line regtrust supports.
    pub fn parse(text: &str) -> Result<Version, String> {
        let v = Version::parse_release(text)?;
        if !SUPPORTED.contains(&(v.major, v.minor)) {
            return Err(format!(
                "containerd {}.{} is not supported: expected one of {}",
                v.major,
                v.minor,
                supported_list()
            ));
        }
        Ok(v)
    }

    pub fn is_1x(&self) -> bool {
        self.major == 1
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    fn since_patch(&self, major: u32, minor: u32, patch: u32) -> Support {
        if (self.major, self.minor) != (major, minor) {
            return if self.at_least(major, minor) {
                Support::Yes
            } else {
                Support::No
            };
        }
        match self.patch {
            Some(p) if p >= patch => Support::Yes,
            Some(_) => Support::No,
            None => Support::FromPatch(patch),
        }
    }

    /// `_default` (the `"*"` catch-all host directory): 1.6.17 and 1.7.0 on.
    pub fn default_host_dir(&self) -> Support {
        self.since_patch(1, 6, 17)
    }

    /// `dial_timeout` in hosts.toml: 2.0.7 on.
    pub fn dial_timeout(&self) -> Support {
        self.since_patch(2, 0, 7)
    }

    /// The `referrers` capability: 2.2 on.
    pub fn referrers(&self) -> bool {
        self.at_least(2, 2)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

// Kept here for callers of `containerd::version::detect`; it lives in `super::installed`.
pub use super::installed::detect;

pub fn supported_list() -> String {
    SUPPORTED
        .iter()
        .map(|(a, b)| format!("{a}.{b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_names_match_the_supported_lines() {
        let names: Vec<String> = SUPPORTED.iter().map(|(a, b)| format!("{a}.{b}")).collect();
        assert_eq!(names, SUPPORTED_NAMES);
    }

    #[test]
    fn rejects_unsupported_lines() {
        assert!(Version::parse("1.5").unwrap_err().contains("not supported"));
        assert!(
            Version::parse("abc")
                .unwrap_err()
                .contains("not a containerd version")
        );
    }

    #[test]
    fn feature_gates_follow_patch_levels() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(v("1.6.16").default_host_dir(), Support::No);
        assert_eq!(v("1.6.17").default_host_dir(), Support::Yes);
        assert_eq!(v("1.6").default_host_dir(), Support::FromPatch(17));
        assert_eq!(v("1.7").default_host_dir(), Support::Yes);
        assert_eq!(v("1.7.24").dial_timeout(), Support::No);
        assert_eq!(v("2.0.6").dial_timeout(), Support::No);
        assert_eq!(v("2.1").dial_timeout(), Support::Yes);
        assert!(!v("2.1").referrers());
        assert!(v("2.2").referrers());
    }
}
