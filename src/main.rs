use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = regtrust::cli::args::Cli::parse();
    std::process::ExitCode::from(regtrust::cli::run(cli))
}
