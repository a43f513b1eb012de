//! `regtrust doctor`: diagnose a node's registry trust. Exit 0 clean, 1 problems found, 3 the
//! node could not be read (its config.toml unparsable: still printed as a diagnostic).
use super::args::{DoctorArgs, Format};
use super::exit;
use crate::doctor::{self, Options};
use crate::error::{Error, Result};

pub fn run(a: &DoctorArgs) -> Result<u8> {
    let containerd = a.containerd.version;
    let spec = match &a.spec {
        Some(path) => {
            let loaded = crate::spec::load::load_file_for(path, containerd).map_err(Error::Spec)?;
            Some((loaded.spec, path.display().to_string()))
        }
        None => None,
    };
    let opts = Options {
        spec,
        root: a.node.root.clone(),
        config_file: a.node.config.clone(),
        containerd,
        images: a.image.clone(),
        probe: a.probe,
        address: a.address.clone(),
    };
    // A node that cannot be read exits 3, as in every command.
    let report = doctor::run(&opts).map_err(Error::Node)?;
    match a.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        ),
    }
    // A config.toml that cannot be parsed is reported as a finding, and exits 3 as in apply
    // and migrate: the node could not be read.
    if report
        .findings
        .iter()
        .any(|f| f.code == crate::diag::Code::ConfigInvalidToml)
    {
        return Ok(exit::FAILED);
    }
    Ok(if report.has_problems() {
        exit::DRIFT
    } else {
        exit::OK
    })
}
