//! Configuration errors that point at the exact place in the file.

use std::fmt;
use std::ops::Range;

/// A problem in a configuration file, located by file, line, column and field.
///
/// Every error the loader produces is one of these, so a user (or a reload log line) always learns
/// where to look and which setting is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as given by the caller (or `<command line>` for flags).
    pub file: String,
    /// 1-based line; 0 when the problem has no single place in the file.
    pub line: usize,
    /// 1-based column (in characters); 0 when the problem has no single place.
    pub column: usize,
    /// Dotted path of the setting, e.g. `policies.site.strict_transport_security.preload`.
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else {
            write!(f, "{}: ", self.file)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// All errors found in one file: validation keeps going after the first so a user fixes them in
/// one edit instead of one per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The first error, which is the one a one-line log message shows.
    pub fn first(&self) -> Option<&ConfigError> {
        self.0.first()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Maps byte offsets of one source text to line and column.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl<'a> SourceMap<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        SourceMap { file, text }
    }

    /// 1-based line and column of a byte offset (clamped to the text).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub fn error_at(
        &self,
        span: Option<Range<usize>>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        let (line, column) = span.map_or((0, 0), |s| self.line_col(s.start));
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The dotted field path at a byte offset, recovered from the text around it.
    ///
    /// Serde errors from the TOML parser carry a span but not the path of the key they concern;
    /// this reads the nearest table header above and the key on the offending line so the error
    /// still names the field.
    pub fn field_at(&self, offset: usize) -> String {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        let line = self.text[line_start..line_end].trim();
        let key = if line.starts_with('[') {
            None
        } else {
            line.split_once('=')
                .map(|(k, _)| k.trim().trim_matches('"').to_owned())
                .filter(|k| !k.is_empty())
        };
        let table = before[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| {
                l.trim_start_matches('[')
                    .trim_end_matches(']')
                    .trim()
                    .to_owned()
            });
        let own_header = line.starts_with('[').then(|| {
            line.trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .to_owned()
        });
        match (own_header, table, key) {
            (Some(h), _, _) => h,
            (None, Some(t), Some(k)) => format!("{t}.{k}"),
            (None, None, Some(k)) => k,
            (None, Some(t), None) => t,
            (None, None, None) => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let map = SourceMap::new("f.toml", "a = 1\nbb = 2\n");
        assert_eq!(map.line_col(0), (1, 1));
        assert_eq!(map.line_col(6), (2, 1));
        assert_eq!(map.line_col(11), (2, 6));
    }

    #[test]
    fn field_at_joins_table_and_key() {
        let text =
            "[server]\nlisten = 1\n\n[policies.a.strict_transport_security]\nmax_age = \"x\"\n";
        let map = SourceMap::new("f.toml", text);
        let offset = text.find("\"x\"").unwrap();
        assert_eq!(
            map.field_at(offset),
            "policies.a.strict_transport_security.max_age"
        );
        assert_eq!(map.field_at(text.find("listen").unwrap()), "server.listen");
    }

    #[test]
    fn display_names_file_line_column_and_field() {
        let e = ConfigError {
            file: "r.toml".into(),
            line: 3,
            column: 7,
            field: "server.listen".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "r.toml:3:7: server.listen: bad");
    }
}
