//! The one error type of every command, with its exit code (the table in docs/reference.md and
//! `../shared/contracts.md`). Commands return it; only `main` prints it.
use crate::diag::Diagnostics;

/// Exit codes, the same for every command.
pub mod exit {
    /// Success: done, in sync, no problems.
    pub const OK: u8 = 0;
    /// Drift (`apply --check`) or problems found (`doctor`).
    pub const DRIFT: u8 = 1;
    /// The spec is invalid, or the arguments are.
    pub const INVALID: u8 = 2;
    /// The node or image could not be read or written (I/O, an unparsable config, an unknown
    /// containerd version).
    pub const FAILED: u8 = 3;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec has errors: every one, with its source line.
    #[error("{}{} error{} in the spec; nothing was written", .0, .0.errors(), if .0.errors() == 1 { "" } else { "s" })]
    Spec(Diagnostics),
    /// The command line or a query asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// The node, the image or an output file could not be read or written.
    #[error("{0}")]
    Node(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage(_) => exit::INVALID,
            Error::Node(_) => exit::FAILED,
        }
    }

    /// The text `main` prints on stderr.
    pub fn report(&self) -> String {
        match self {
            Error::Spec(_) => self.to_string(),
            _ => format!("error: {self}"),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
