use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = regtrust::cli::args::Cli::parse();
    // The only place that prints an error.
    match regtrust::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.report().trim_end());
            std::process::ExitCode::from(e.exit_code())
        }
    }
}
