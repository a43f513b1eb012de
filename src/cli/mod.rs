//! The command line: argument types in `args`, one module per subcommand, one dispatch.
pub mod apply;
pub mod args;
pub mod check;
pub mod doctor;
pub mod migrate;
pub mod render;
pub mod terraform_external;

use crate::containerd::Version;
use crate::diag::Diagnostics;
use crate::spec::load::Loaded;

/// Exit codes, documented in README.md.
pub mod exit {
    pub const OK: u8 = 0;
    /// `apply --check`: the node differs from the spec.
    pub const DRIFT: u8 = 1;
    /// The spec is invalid, or the arguments are.
    pub const INVALID: u8 = 2;
    /// The node could not be read or written (I/O, unreadable config.toml, unknown version).
    pub const FAILED: u8 = 3;
}

pub fn run(cli: args::Cli) -> u8 {
    match cli.command {
        args::Command::Check(a) => check::run(&a),
        args::Command::Render(a) => render::run(&a),
        args::Command::Apply(a) => apply::run(&a),
        args::Command::TerraformExternal => terraform_external::run(),
        args::Command::Doctor(a) => doctor::run(&a),
        args::Command::Migrate(a) => migrate::run_migrate(&a),
        args::Command::Import { from } => migrate::run_import(&from),
        args::Command::Schema => {
            print!("{}", crate::spec::model::json_schema());
            exit::OK
        }
        args::Command::Completions { shell } => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "regtrust", &mut std::io::stdout());
            exit::OK
        }
        args::Command::Man => {
            let cmd = <args::Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("error: {e}");
                    exit::FAILED
                }
            }
        }
    }
}

/// Loads and validates the spec, printing warnings; on error prints every problem.
pub(crate) fn load(a: &args::SpecArgs) -> Result<(Loaded, Option<Version>), u8> {
    let version = a.containerd.version;
    // The spec is read once; `--containerd` takes precedence for the version-dependent rules.
    match crate::spec::load::load_file_for(&a.spec, version) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{w}");
            }
            Ok((loaded, version))
        }
        Err(d) => {
            print_diags(&d);
            Err(exit::INVALID)
        }
    }
}

pub(crate) fn print_diags(d: &Diagnostics) {
    eprint!("{d}");
    let n = d.0.iter().filter(|d| d.is_error()).count();
    eprintln!(
        "{n} error{} in the spec; nothing was written",
        if n == 1 { "" } else { "s" }
    );
}
