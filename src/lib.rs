//! regtrust: one registry spec → everything a containerd node needs to trust those registries.
pub mod cli;
pub mod containerd;
pub mod diag;
pub mod doctor;
pub mod emit;
pub mod fs;
pub mod k3s;
pub mod lock;
pub mod node;
pub mod plan;
pub mod root;
pub mod spec;
pub mod templates;
