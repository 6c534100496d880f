//! What the two YAML files of the exporter (the config file, `crate::config`, and the web config
//! file, `crate::web`) share: the error type that names file, line and key, and how a `saphyr`
//! node's type is named in messages.
//!
//! Both readers parse their text with `saphyr` into a tree that keeps the position of every
//! node, walk it themselves, and report the first problem as a [`YamlFileError`] carrying their
//! own problem type; this module makes that error type, and so the rendering of every message,
//! the same for both.

use std::fmt;
use std::path::PathBuf;

use saphyr::{MarkedYaml, Scalar, YamlData};

/// A file format's own problem type, as the shared error needs it.
pub trait FileProblem: fmt::Display + fmt::Debug {
    /// How a read error names the file, e.g. `"config file"`.
    const FILE: &'static str;
}

/// Why a YAML file was not loaded. Renders as `FILE:LINE: KEY: PROBLEM`, e.g.
/// `dane_exporter.yml:12: inbound[1].interval: invalid duration "5 minutez": expected a number and
/// a unit, e.g. "5m"`.
#[derive(Debug)]
pub enum YamlFileError<P> {
    /// The file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not YAML.
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The YAML parser's description.
        message: String,
    },
    /// The YAML does not describe a valid file of this format.
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line of the offending key (or list item).
        line: usize,
        /// Path of the key, like `inbound[1].labels.team`; empty for the document itself.
        key: String,
        /// What is wrong.
        problem: P,
    },
}

impl<P> YamlFileError<P> {
    /// The problem, for an [`YamlFileError::Invalid`] error.
    pub fn problem(&self) -> Option<&P> {
        match self {
            YamlFileError::Invalid { problem, .. } => Some(problem),
            YamlFileError::Read { .. } | YamlFileError::Syntax { .. } => None,
        }
    }
}

impl<P: FileProblem> fmt::Display for YamlFileError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YamlFileError::Read { path, source } => {
                write!(f, "{}: cannot read {}: {source}", path.display(), P::FILE)
            }
            YamlFileError::Syntax {
                file,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}: YAML syntax error at column {column}: {message}",
                file.display()
            ),
            YamlFileError::Invalid {
                file,
                line,
                key,
                problem,
            } => {
                write!(f, "{}:{line}: ", file.display())?;
                // The document root has no key path, and then no `KEY: ` prefix.
                if !key.is_empty() {
                    write!(f, "{key}: ")?;
                }
                write!(f, "{problem}")
            }
        }
    }
}

impl<P: FileProblem> std::error::Error for YamlFileError<P> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // As before the move: only the OS error is a source; a problem is the message itself.
        match self {
            YamlFileError::Read { source, .. } => Some(source),
            YamlFileError::Syntax { .. } | YamlFileError::Invalid { .. } => None,
        }
    }
}

/// How a node's type is named in messages.
pub(crate) fn kind(node: &MarkedYaml<'_>) -> &'static str {
    match &node.data {
        YamlData::Value(Scalar::Null) => "nothing (null)",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) => "an integer",
        YamlData::Value(Scalar::FloatingPoint(_)) => "a floating-point number",
        YamlData::Value(Scalar::String(_)) => "a string",
        YamlData::Representation(..) => "a scalar",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        YamlData::Tagged(..) => "a tagged value",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue => "an invalid value",
    }
}
