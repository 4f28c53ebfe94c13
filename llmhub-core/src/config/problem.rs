//! Config problems: each located by file, line and column, rendered like a compiler
//! diagnostic with the offending line and a hint; [`ConfigError`] holds all of a file's.

use std::fmt;

use crate::config::types::Span;

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// Wraps a list of problems.
    pub fn new(problems: Vec<ConfigProblem>) -> ConfigError {
        ConfigError { problems }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        if count > 1 {
            writeln!(f, "{count} problems in the llmhub config:")?;
        }
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// One problem in a config file, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file name, as given (or `<string>` for text parsed from memory).
    pub file: String,
    /// 1-based line, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, or 0 when the problem concerns the whole file.
    pub column: usize,
    /// Length of the offending text, in characters (for underlining).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file, if there is one.
    pub source_line: Option<String>,
    /// How to fix it, where a hint helps.
    pub hint: Option<String>,
}

impl ConfigProblem {
    /// A problem that concerns the whole file (unreadable, too large, …).
    pub fn whole_file(file: &str, message: impl Into<String>, hint: Option<&str>) -> ConfigProblem {
        ConfigProblem {
            file: file.to_owned(),
            line: 0,
            column: 0,
            len: 0,
            message: message.into(),
            source_line: None,
            hint: hint.map(str::to_owned),
        }
    }

    /// A problem at `span` of the config `text`.
    pub fn at(
        file: &str,
        text: &str,
        span: Span,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigProblem {
        ConfigProblem {
            file: file.to_owned(),
            line: span.line,
            column: span.column,
            len: span.len.max(1),
            message: message.into(),
            source_line: text
                .lines()
                .nth(span.line.saturating_sub(1))
                .map(|line| line.trim_end().to_owned()),
            hint,
        }
    }
}

impl fmt::Display for ConfigProblem {
    /// Renders the problem like a compiler diagnostic:
    ///
    /// ```text
    /// error: role `llm.inference` uses provider `opneai`, which is not defined under `providers:`
    ///   --> llmhub.yaml:12:15
    ///    |
    /// 12 |     provider: opneai
    ///    |               ^^^^^^
    ///    = help: did you mean `openai`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", LocatedMessage(self))
    }
}

impl ConfigProblem {
    /// The problem as [`Display`](fmt::Display) renders it, without the leading `error: `: for
    /// a compiler that adds its own (the `roles!` macro's compile errors).
    pub fn located_message(&self) -> String {
        LocatedMessage(self).to_string()
    }
}

/// The message, then the `--> file:line:col` block, the offending line and the hint.
struct LocatedMessage<'a>(&'a ConfigProblem);

impl fmt::Display for LocatedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LocatedMessage(this) = self;
        writeln!(f, "{}", this.message)?;
        if this.line == 0 {
            write!(f, "  --> {}", this.file)?;
        } else {
            let gutter = " ".repeat(this.line.to_string().len());
            write!(f, "{gutter}--> {}:{}:{}", this.file, this.line, this.column)?;
            if let Some(source) = &this.source_line {
                let indent: String = source
                    .chars()
                    .take(this.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(
                    f,
                    "\n{gutter} |\n{} | {source}\n{gutter} | {indent}{}",
                    this.line,
                    "^".repeat(this.len.max(1))
                )?;
            }
        }
        if let Some(hint) = &this.hint {
            let gutter = " ".repeat(this.line.max(1).to_string().len());
            write!(f, "\n{gutter} = help: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_message_is_the_display_without_its_error_prefix() {
        let text = "roles:\n  llm.inference:\n    provider: opneai\n";
        let span = Span {
            line: 3,
            column: 15,
            len: 6,
        };
        let problem = ConfigProblem::at(
            "llmhub.yaml",
            text,
            span,
            "unknown provider",
            Some("did you mean `openai`?".into()),
        );
        let located = problem.located_message();
        assert_eq!(problem.to_string(), format!("error: {located}"));
        assert_eq!(
            located,
            "unknown provider\n --> llmhub.yaml:3:15\n  |\n3 |     provider: opneai\n  |               ^^^^^^\n  = help: did you mean `openai`?"
        );
    }
}
