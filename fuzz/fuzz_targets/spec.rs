//! The spec parser and validator: no panic on any input; for every accepted spec, every
//! hosts.toml parses, no planned path leaves config_path, and the plan is deterministic.
//!
//! The property itself is in `checks/spec.rs`.
#![no_main]

#[path = "../checks/spec.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
