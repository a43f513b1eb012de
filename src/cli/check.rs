//! `regtrust check`: validate only.
use super::{args::SpecArgs, exit, load};

pub fn run(a: &SpecArgs) -> u8 {
    match load(a) {
        Ok((l, _)) => {
            println!(
                "{}: valid ({} registries)",
                a.spec.display(),
                l.spec.registries.len()
            );
            exit::OK
        }
        Err(code) => code,
    }
}
