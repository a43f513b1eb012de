//! Diagnostics: a stable code, a message that says what was expected, and where.
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A position in a source file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case code, e.g. `host-is-url`.
    pub code: &'static str,
    pub message: String,
    pub file: String,
    pub pos: Option<Pos>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, pos: Option<Pos>, message: String) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message,
            file: file.to_string(),
            pos,
        }
    }

    pub fn warning(code: &'static str, file: &str, pos: Option<Pos>, message: String) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, pos, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.pos {
            Some(p) if p.line > 0 => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            _ => write!(f, "{}: ", self.file)?,
        }
        write!(f, "{level}[{}]: {}", self.code, self.message)
    }
}

/// 1-based (line, column) of a byte offset in a text; the column counts characters.
pub fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Everything that went wrong, reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}
