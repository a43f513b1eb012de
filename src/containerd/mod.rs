//! What regtrust knows about containerd: versions, config layouts and feature gates.
pub mod config;
pub mod credentials;
mod go_binary;
pub mod imports;
pub mod installed;
pub mod layout;
pub mod resolve;
pub mod running;
pub mod version;
pub mod version_api;

pub use layout::ConfigLayout;
pub use version::Version;
