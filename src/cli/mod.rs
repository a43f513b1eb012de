//! The command line: argument types in `args`, one module per subcommand, one dispatch.
pub mod apply;
pub mod args;
pub mod check;
pub mod doctor;
mod man;
pub mod migrate;
pub mod render;
mod render_kubernetes;
pub mod terraform_external;

use crate::containerd::Version;
pub use crate::error::exit;
use crate::error::{Error, Result};
use crate::spec::load::Loaded;

/// Runs one command: its exit code (0 or 1), or the error `main` prints.
pub fn run(cli: args::Cli) -> Result<u8> {
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
            Ok(exit::OK)
        }
        args::Command::Completions { shell } => {
            let mut cmd = <args::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "regtrust", &mut std::io::stdout());
            Ok(exit::OK)
        }
        args::Command::Man => {
            print!("{}", man::page());
            Ok(exit::OK)
        }
    }
}

/// Loads and validates the spec (read once; `--containerd` takes precedence for the
/// version-dependent rules), printing its warnings.
pub(crate) fn load(a: &args::SpecArgs) -> Result<(Loaded, Option<Version>)> {
    let version = a.containerd.version;
    let loaded = crate::spec::load::load_file_for(&a.spec, version).map_err(Error::Spec)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok((loaded, version))
}

/// [`load`], then reads the passwords the spec names (`password_file`, `password_env`): for
/// the commands that build a plan. A password that cannot be read is a spec error (exit 2):
/// like the spec itself it is an input of regtrust, read where regtrust runs, not on the node.
pub(crate) fn load_with_secrets(a: &args::SpecArgs) -> Result<(Loaded, Option<Version>)> {
    let (mut loaded, version) = load(a)?;
    read_secrets(&mut loaded.spec, a)?;
    Ok((loaded, version))
}

/// Reads the passwords of a spec [`load`] returned (see [`load_with_secrets`]).
pub(crate) fn read_secrets(spec: &mut crate::spec::ValidSpec, a: &args::SpecArgs) -> Result<()> {
    let dir = a
        .spec
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    crate::spec::secrets::read(spec, &a.spec.display().to_string(), dir).map_err(Error::Spec)
}
