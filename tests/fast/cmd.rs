//! Snapshot tests of whole CLI runs (trycmd): `--help` of regtrust and of every subcommand, spec
//! errors with their source lines, and every render target. Each case is `cmd/<name>.toml` with
//! its expected `.stdout`/`.stderr` (and `.in/`/`.out/` trees for the hosts target). The
//! snapshots are the spec of that text: after a deliberate change, regenerate them with
//! `TRYCMD=overwrite cargo test --test fast cmd::` and read the diff before committing.
#[test]
fn cli_snapshots() {
    trycmd::TestCases::new()
        .register_bin(
            "regtrust",
            std::path::Path::new(env!("CARGO_BIN_EXE_regtrust")),
        )
        .default_bin_name("regtrust")
        .env("NO_COLOR", "1")
        .case("tests/fast/cmd/*.toml");
}
