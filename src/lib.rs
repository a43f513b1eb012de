//! regtrust: one registry spec → everything a containerd node needs to trust those registries.
pub mod apply;
pub mod cli;
pub mod containerd;
pub mod diag;
pub mod doctor;
pub mod emit;
pub mod error;
pub mod fs;
pub mod hosts;
pub mod k3s;
pub mod legacy;
pub mod lock;
pub mod plan;
pub mod root;
pub mod secret;
pub mod spec;
pub mod templates;
