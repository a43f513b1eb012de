//! The real-systems suite: real containerd (1.6, 1.7, 2.1) pulling over CRI from a real registry,
//! cloud-init's own modules, a QEMU first boot, Packer, Terraform, dash, shellcheck, gawk and
//! busybox, check-jsonschema, /usr/bin/time, and mount namespaces (root). Built only with the
//! `real-systems` feature: `cargo test --features real-systems --test real` (as root, after
//! `.ci/install-deps`). A missing tool, or a run without root, fails the test that needs it with
//! a message naming it; nothing is skipped.

#[path = "../support/auth_servers.rs"]
mod auth_servers;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support/system.rs"]
mod system;
#[path = "../support/tls_servers.rs"]
mod tls_servers;

mod ansible;
mod auth;
mod auth_channels;
mod auth_token;
mod boot_patch_contract;
mod cli_polish;
mod cloud_init;
mod docker;
mod docker_boot;
mod doctor;
mod e2e_containerd;
mod faults;
mod hostile;
mod https;
mod ignition;
mod installer;
mod kubernetes;
mod packer;
mod patch_script;
mod podman;
mod project_configs;
mod readme;
mod restart_decision;
mod terraform;
mod vm_boot;
