//! The hosts.toml writer: arbitrary URLs, header names and values (validation bypassed, host
//! names checked) must give a hosts.toml that parses and says exactly what it was given.
//!
//! The property itself is in `checks/hosts_toml.rs`.
#![no_main]

#[path = "../checks/hosts_toml.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
