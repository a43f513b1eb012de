//! `regtrust doctor`: diagnose a node's registry trust. Exit 0 clean, 1 problems, 2 could not run.
use super::args::{DoctorArgs, Format};
use super::exit;
use crate::doctor::{self, Options};

pub fn run(a: &DoctorArgs) -> u8 {
    let containerd = a.containerd.version;
    let opts = Options {
        root: a.node.root.clone(),
        config_file: a.node.config.clone(),
        containerd,
        images: a.image.clone(),
        probe: a.probe,
        address: a.address.clone(),
    };
    let report = match doctor::run(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    match a.format {
        Format::Text => print!("{}", report.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        ),
    }
    if report.has_problems() {
        exit::DRIFT
    } else {
        exit::OK
    }
}
