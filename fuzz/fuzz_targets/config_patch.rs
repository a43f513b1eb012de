//! The config.toml patcher: arbitrary TOML in. No panic; a patched config parses, has
//! config_path where the file's version wants it, and every key outside the registry table
//! keeps its value.
//!
//! The property itself is in `checks/config_patch.rs`.
#![no_main]

#[path = "../checks/config_patch.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
