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
            source_line: LineIndex::new(text)
                .line(span.line)
                .map(|line| line.trim_end().to_owned()),
            hint,
        }
    }

    /// A problem at `span`, its source line looked up in `lines`; with `show_line` false the
    /// line is left out (a line that may hold a secret, such as a header value). A position
    /// past the end of the file is moved to the end of its last line.
    pub(crate) fn located(
        file: &str,
        lines: &LineIndex<'_>,
        span: Span,
        message: String,
        hint: Option<String>,
        show_line: bool,
    ) -> ConfigProblem {
        let span = lines.clamp(span);
        ConfigProblem {
            file: file.to_owned(),
            line: span.line,
            column: span.column,
            len: span.len.max(1),
            message,
            source_line: if show_line {
                lines.line(span.line).map(|line| line.trim_end().to_owned())
            } else {
                None
            },
            hint,
        }
    }
}

/// Most problems listed for one file; the rest are counted in one last problem.
pub(crate) const MAX_PROBLEMS: usize = 100;

/// The start of every line of a config text, built once so that each problem finds its line
/// without rescanning the text. Lines end at `\n`, `\r\n` or a lone `\r`, as in YAML.
pub(crate) struct LineIndex<'t> {
    text: &'t str,
    /// Byte offset of the start of each line; a text ending in a line break has no line after
    /// it.
    starts: Vec<usize>,
}

impl<'t> LineIndex<'t> {
    /// Indexes the lines of `text`.
    pub(crate) fn new(text: &'t str) -> LineIndex<'t> {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &byte) in bytes.iter().enumerate() {
            let ends_line = byte == b'\n' || (byte == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
            if ends_line && i + 1 < bytes.len() {
                starts.push(i + 1);
            }
        }
        if text.is_empty() {
            starts.clear();
        }
        LineIndex { text, starts }
    }

    /// How many lines the text has.
    pub(crate) fn count(&self) -> usize {
        self.starts.len()
    }

    /// The 1-based line `line`, without its line break.
    pub(crate) fn line(&self, line: usize) -> Option<&'t str> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).copied().unwrap_or(self.text.len());
        Some(self.text[start..end].trim_end_matches(['\n', '\r']))
    }

    /// `span`, moved to just after the end of the last line if it lies past it (a parser
    /// reports an unexpected end of the file on the line after the last one).
    pub(crate) fn clamp(&self, span: Span) -> Span {
        let last = self.count();
        if last == 0 || span.line <= last {
            return span;
        }
        let width = self.line(last).map_or(0, |line| line.chars().count());
        Span {
            line: last,
            column: width + 1,
            len: 1,
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
    fn line_index_splits_lines_as_yaml_does() {
        let lines = LineIndex::new("a: 1\r\nb: 2\rc: 3\n\nd\n");
        assert_eq!(lines.count(), 5);
        let all: Vec<_> = (1..=6).map(|n| lines.line(n)).collect();
        assert_eq!(
            all,
            [
                Some("a: 1"),
                Some("b: 2"),
                Some("c: 3"),
                Some(""),
                Some("d"),
                None
            ]
        );
        assert_eq!(lines.line(0), None);
        assert_eq!(LineIndex::new("").count(), 0);
        assert_eq!(LineIndex::new("x").line(1), Some("x"));
    }

    #[test]
    fn a_position_past_the_end_is_clamped_to_the_last_line() {
        let lines = LineIndex::new("a: [1\nb: é\n");
        let past = Span {
            line: 3,
            column: 1,
            len: 1,
        };
        let clamped = lines.clamp(past);
        assert_eq!((clamped.line, clamped.column), (2, 5));
        let problem = ConfigProblem::located("x.yaml", &lines, past, "m".into(), None, true);
        assert_eq!(problem.source_line.as_deref(), Some("b: é"));
        let hidden = ConfigProblem::located("x.yaml", &lines, past, "m".into(), None, false);
        assert_eq!((hidden.line, hidden.source_line), (2, None));
    }

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
