//! What the two YAML files of the exporter (the config file, `crate::config`, and the web config
//! file, `crate::web`) share: the error type that names file, line and key, and the walk of a
//! `saphyr` tree (mappings with their allowed keys, lists, strings, booleans) that finds where
//! each value is.
//!
//! Both readers parse their text with `saphyr` into a tree that keeps the position of every
//! node, walk it with these functions, and report the first problem as a [`YamlFileError`]
//! carrying their own problem type ([`TreeProblem`] says how the shared problems are made); so
//! the walk and the rendering of every message are the same for both.

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

/// The problems every one of our YAML files can have while its tree is walked; each reader's
/// problem enum has these variants and says how they are made.
pub(crate) trait TreeProblem: Sized {
    /// A key this place does not take.
    fn unknown_key(expected: &'static [&'static str]) -> Self;
    /// A mapping key that is not a string (its kind).
    fn non_string_key(found: &'static str) -> Self;
    /// A value of the wrong type.
    fn wrong_type(expected: &'static str, found: &'static str) -> Self;
    /// A `!tag`ged value: none of our keys takes one.
    fn tagged() -> Self;
}

/// A node of the tree, with its position.
pub(crate) type Node<'y> = MarkedYaml<'y>;

/// A place in the file: the line, and the path of keys leading there (`inbound[1].labels.team`).
#[derive(Clone, Debug)]
pub(crate) struct Loc {
    pub(crate) line: usize,
    pub(crate) key: String,
}

impl Loc {
    /// The document itself: line 1, no key.
    pub(crate) fn root() -> Self {
        Loc {
            line: 1,
            key: String::new(),
        }
    }

    /// The key `name` of the mapping here, at `node` (the key's node: its line).
    pub(crate) fn field(&self, name: &str, node: &Node<'_>) -> Self {
        let key = if self.key.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.key)
        };
        Loc {
            line: node.span.start.line(),
            key,
        }
    }

    /// Item `index` of the list here, at `node`.
    pub(crate) fn item(&self, index: usize, node: &Node<'_>) -> Self {
        Loc {
            line: node.span.start.line(),
            key: format!("{}[{index}]", self.key),
        }
    }

    /// `problem` here.
    pub(crate) fn fail<T, P>(&self, problem: P) -> Result<T, Invalid<P>> {
        Err(Invalid {
            loc: self.clone(),
            problem,
        })
    }
}

/// A problem and where, before the reader attaches the file name ([`YamlFileError::Invalid`]).
#[derive(Debug)]
pub(crate) struct Invalid<P> {
    pub(crate) loc: Loc,
    pub(crate) problem: P,
}

/// One `key: value` entry of a mapping.
pub(crate) struct Field<'n, 'y> {
    pub(crate) name: &'n str,
    pub(crate) loc: Loc,
    pub(crate) value: &'n Node<'y>,
}

/// A mapping's entries, keys checked.
pub(crate) struct Fields<'n, 'y>(pub(crate) Vec<Field<'n, 'y>>);

impl<'n, 'y> Fields<'n, 'y> {
    /// The entry `name`, if the mapping has it.
    pub(crate) fn get(&self, name: &str) -> Option<&Field<'n, 'y>> {
        self.0.iter().find(|f| f.name == name)
    }
}

/// The node's data, refusing tags.
pub(crate) fn data<'n, 'y, P: TreeProblem>(
    node: &'n Node<'y>,
    loc: &Loc,
) -> Result<&'n YamlData<'y, Node<'y>>, Invalid<P>> {
    match &node.data {
        YamlData::Tagged(..) => loc.fail(P::tagged()),
        data => Ok(data),
    }
}

/// "expected `expected`, got what `node` is".
pub(crate) fn wrong_type<T, P: TreeProblem>(
    node: &Node<'_>,
    loc: &Loc,
    expected: &'static str,
) -> Result<T, Invalid<P>> {
    loc.fail(P::wrong_type(expected, kind(node)))
}

/// The entries of a mapping (null counts as empty); with `allowed`, other keys are refused.
pub(crate) fn mapping<'n, 'y, P: TreeProblem>(
    node: &'n Node<'y>,
    loc: &Loc,
    allowed: Option<&'static [&'static str]>,
) -> Result<Fields<'n, 'y>, Invalid<P>> {
    let map = match data(node, loc)? {
        YamlData::Value(Scalar::Null) => return Ok(Fields(Vec::new())),
        YamlData::Mapping(map) => map,
        _ => return wrong_type(node, loc, "a mapping"),
    };
    let mut fields = Vec::with_capacity(map.len());
    for (key, value) in map {
        let YamlData::Value(Scalar::String(name)) = &key.data else {
            let key_loc = Loc {
                line: key.span.start.line(),
                key: loc.key.clone(),
            };
            return key_loc.fail(P::non_string_key(kind(key)));
        };
        let field_loc = loc.field(name, key);
        if let Some(expected) = allowed {
            if !expected.contains(&name.as_ref()) {
                return field_loc.fail(P::unknown_key(expected));
            }
        }
        fields.push(Field {
            name: name.as_ref(),
            loc: field_loc,
            value,
        });
    }
    Ok(Fields(fields))
}

/// The items of a list (null counts as empty), each with its location.
pub(crate) fn sequence<'n, 'y, P: TreeProblem>(
    field: &Field<'n, 'y>,
) -> Result<Vec<(Loc, &'n Node<'y>)>, Invalid<P>> {
    match data(field.value, &field.loc)? {
        YamlData::Value(Scalar::Null) => Ok(Vec::new()),
        YamlData::Sequence(items) => Ok(items
            .iter()
            .enumerate()
            .map(|(i, node)| (field.loc.item(i, node), node))
            .collect()),
        _ => wrong_type(field.value, &field.loc, "a list"),
    }
}

/// A string value.
pub(crate) fn string<'n, P: TreeProblem>(field: &Field<'n, '_>) -> Result<&'n str, Invalid<P>> {
    scalar_string(field.value, &field.loc)
}

/// A string node (a list item, say) at `loc`.
pub(crate) fn scalar_string<'n, P: TreeProblem>(
    node: &'n Node<'_>,
    loc: &Loc,
) -> Result<&'n str, Invalid<P>> {
    match data(node, loc)? {
        YamlData::Value(Scalar::String(text)) => Ok(text.as_ref()),
        _ => wrong_type(node, loc, "a string"),
    }
}

/// `true` or `false`.
pub(crate) fn boolean<P: TreeProblem>(field: &Field<'_, '_>) -> Result<bool, Invalid<P>> {
    match data(field.value, &field.loc)? {
        YamlData::Value(Scalar::Boolean(value)) => Ok(*value),
        _ => wrong_type(field.value, &field.loc, "true or false"),
    }
}
