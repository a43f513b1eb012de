//! `regtrust check`: validate only; `--format json` prints every diagnostic as JSON.
use super::args::{CheckArgs, Format};
use super::{exit, load};
use crate::error::Result;

pub fn run(a: &CheckArgs) -> Result<u8> {
    let loaded = crate::spec::load::load_file_for(&a.spec.spec, a.spec.containerd.version);
    match a.format {
        Format::Text => {
            let (l, _) = load(&a.spec)?;
            println!(
                "{}: valid ({} registries)",
                a.spec.spec.display(),
                l.spec.registries.len()
            );
            Ok(exit::OK)
        }
        Format::Json => {
            // Errors and warnings alike, on stdout; the exit code says whether it is valid.
            let (diags, code) = match loaded {
                Ok(l) => (crate::diag::Diagnostics(l.warnings), exit::OK),
                Err(d) => (d, exit::INVALID),
            };
            println!("{}", diags.to_json());
            Ok(code)
        }
    }
}
