//! Where containerd's files are on a node, and where `config_path` lives in config.toml, by the
//! file's `version` key.

/// containerd's configuration file on a node (every channel: apply, the boot scripts, doctor).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/containerd/config.toml";
/// The boot outputs' credentials for config.toml (`auth.method: config`), 0600: the blocks the
/// script appends (see `containerd::credentials`).
pub const CREDENTIALS_FILE: &str = "/etc/containerd/config.toml.regtrust-credentials";
/// Flatcar's shipped config.toml: its containerd.service runs `containerd --config
/// ${CONTAINERD_CONFIG}` with this file unless a drop-in sets another (`/usr` is read-only there).
pub const FLATCAR_SHIPPED_CONFIG: &str = "/usr/share/containerd/config.toml";
/// The one directory `config_path` names unless the spec says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/containerd/certs.d";
/// First bytes of every hosts.toml regtrust manages (see templates/hosts-header.j2).
pub const MANAGED_MARK: &str = "# Managed by regtrust.";

/// The config.toml schema version (`version = N` at the top of the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigLayout {
    /// No `version` key, or `version = 1` (containerd 1.x still reads it, with short plugin
    /// names such as `cri`; 2.x does not).
    V1,
    /// `version = 2` (containerd 1.x; 2.x migrates it in memory at start).
    V2,
    /// `version = 3` (containerd 2.0 – 2.2).
    V3,
    /// `version = 4` (containerd 2.3+).
    V4,
}

impl ConfigLayout {
    pub fn from_number(n: i64) -> Option<ConfigLayout> {
        match n {
            1 => Some(ConfigLayout::V1),
            2 => Some(ConfigLayout::V2),
            3 => Some(ConfigLayout::V3),
            4 => Some(ConfigLayout::V4),
            _ => None,
        }
    }

    /// The layout containerd of this version writes for a new file.
    pub fn native_for(v: &super::Version) -> ConfigLayout {
        match (v.major, v.minor) {
            (1, _) => ConfigLayout::V2,
            (2, m) if m < 3 => ConfigLayout::V3,
            _ => ConfigLayout::V4,
        }
    }

    pub fn number(self) -> i64 {
        match self {
            ConfigLayout::V1 => 1,
            ConfigLayout::V2 => 2,
            ConfigLayout::V3 => 3,
            ConfigLayout::V4 => 4,
        }
    }

    /// The plugin whose `registry` table holds `config_path`.
    pub const fn cri_plugin(self) -> &'static str {
        match self {
            ConfigLayout::V1 => "cri",
            ConfigLayout::V2 => "io.containerd.grpc.v1.cri",
            ConfigLayout::V3 | ConfigLayout::V4 => "io.containerd.cri.v1.images",
        }
    }

    /// Human-readable dotted path of the registry table.
    pub fn registry_table(self) -> String {
        format!("plugins.\"{}\".registry", self.cri_plugin())
    }
}
