//! The fast suite: `cargo test` on a machine with Rust, a POSIX `sh`, `awk` and coreutils (and
//! python3 for `docker_boot`: the Docker boot merge is Python), as any user (no root), in well
//! under a minute once built. One test binary, one module per area; the
//! snapshot tests of whole CLI runs are in `cmd/` (trycmd). What needs a real system or another
//! tool (containerd, cloud-init, QEMU, Packer, Terraform, dash, shellcheck, root) is in
//! `tests/real`, built and run with `cargo test --features real-systems --test real`.

#[path = "../support/mod.rs"]
mod support;

mod apply;
mod auth;
mod auth_channels;
mod boot_patch_contract;
mod boot_runtimes;
mod boot_version;
mod cli_polish;
mod cmd;
mod concurrency;
mod config_path_move;
mod docker;
mod docker_boot;
mod doctor;
mod faults;
mod fuzz_regressions;
mod hostile;
mod ignition;
mod import;
mod installer;
mod k3s_export;
mod kubernetes;
mod patch_script;
mod podman;
mod podman_boot;
mod podman_doctor;
mod properties;
mod render;
mod root_confinement;
mod spec_errors;
mod terraform;
