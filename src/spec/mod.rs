//! The registry spec: its serde model, loading (YAML or JSON) and validation into [`ValidSpec`].
pub mod host;
pub mod keys;
pub mod load;
pub mod model;
pub mod secrets;
pub mod valid;
pub mod validate;

pub use load::{load_file, load_str};
pub use valid::{
    Auth, AuthMethod, Capability, ClientPair, DEFAULT_CONFIG_PATH, Endpoint, FileSource,
    PasswordSource, Registry, Runtime, SecretKind, Tls, ValidSpec,
};
