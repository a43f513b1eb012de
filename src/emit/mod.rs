//! Serialisations of the plan. Emitters never touch the disk.
pub mod cloud_init;
pub mod config_fragment;
pub mod config_patch;
pub mod deferred;
pub mod docker_merge;
pub mod ignition;
pub mod installer;
pub mod kubernetes;
pub mod patch_script;
pub mod runtimes_sh;
pub mod spec_yaml;
pub mod terraform;
