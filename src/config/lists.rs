//! Domain list files: the `domains_file:` entries of `inbound` and `outbound`, for the thousands
//! of recipient domains nobody lists in YAML.
//!
//! One domain per line; `#` starts a comment (a whole line or the rest of one); blank lines and
//! the whitespace around a domain are ignored. `reader.rs` reads each list when the config file
//! is loaded (at start and on every reload) and gives every domain of it the entry's labels and
//! overrides; a problem names the list file and its line ([`Problem::InList`]), after the config
//! file's line of the `domains_file` key.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::Problem;
use super::model::TargetSpec;
use super::names::normalize_domain;
use super::values::Result;
use crate::yaml::{string, Field, Fields};

/// Keys of one domain that a `domains_file` entry, standing for many, cannot have.
const ONE_DOMAIN_KEYS: &[&str] = &["domain", "services", "certificates"];

/// Largest list file read: about two million domains. A bigger file is an error, not a surprise
/// allocation.
pub(super) const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024;

/// One domain of a list, normalised, and its line.
struct Listed {
    domain: String,
    line: usize,
}

/// Where a domain was first listed in one direction, for the duplicate error.
#[derive(Clone)]
pub(super) enum Origin {
    /// A `domain:` key of the config file, at this line.
    Config(usize),
    /// A line of a list file.
    List { path: Arc<PathBuf>, line: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Config(line) => write!(f, "line {line}"),
            Origin::List { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// A `domains_file` entry of the config file.
pub(super) struct List<'f, 'n, 'y> {
    /// The entry's keys.
    pub(super) fields: &'f Fields<'n, 'y>,
    /// Its `domains_file` key.
    pub(super) field: &'f Field<'n, 'y>,
    /// The config file's directory, which a relative path starts from.
    pub(super) base_dir: &'f Path,
}

impl List<'_, '_, '_> {
    /// Appends one spec per domain of the list to `specs`: `template` (the entry's labels and
    /// overrides) with the domain. `seen` holds where every domain of the direction was first
    /// listed; a domain listed twice is an error naming both places.
    pub(super) fn expand(
        &self,
        template: &TargetSpec,
        seen: &mut HashMap<String, Origin>,
        specs: &mut Vec<TargetSpec>,
    ) -> Result<()> {
        for &key in ONE_DOMAIN_KEYS {
            if let Some(f) = self.fields.get(key) {
                return f.loc.fail(Problem::ConflictingKeys {
                    key,
                    other: "domains_file",
                });
            }
        }
        let written = string(self.field)?;
        if written.trim().is_empty() {
            return self.field.loc.fail(Problem::EmptyPath);
        }
        let path = Arc::new(self.base_dir.join(written));
        let listed = read_list(&path).or_else(|problem| self.field.loc.fail(problem))?;
        specs.reserve(listed.len());
        for Listed { domain, line } in listed {
            if let Some(first) = seen.get(&domain) {
                let first = first.to_string();
                return self.field.loc.fail(Problem::InList {
                    path: path.to_path_buf(),
                    line,
                    problem: Box::new(Problem::DuplicateListed { domain, first }),
                });
            }
            let origin = Origin::List {
                path: Arc::clone(&path),
                line,
            };
            seen.insert(domain.clone(), origin);
            specs.push(TargetSpec {
                domain,
                ..template.clone()
            });
        }
        Ok(())
    }
}

/// The domains of the list at `path`, in file order.
fn read_list(path: &Path) -> std::result::Result<Vec<Listed>, Problem> {
    let unusable = |reason: String| Problem::ListUnusable {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| unusable(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unusable(e.to_string()))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(unusable(format!(
            "larger than {} MiB",
            MAX_LIST_BYTES / 1024 / 1024
        )));
    }
    let mut listed = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let text = String::from_utf8_lossy(raw);
        let entry = text.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        let line = index + 1;
        match normalize_domain(entry) {
            Ok(domain) => listed.push(Listed { domain, line }),
            Err(reason) => {
                return Err(Problem::InList {
                    path: path.to_path_buf(),
                    line,
                    problem: Box::new(Problem::InvalidDomain {
                        text: entry.to_string(),
                        reason,
                    }),
                })
            }
        }
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blanks_and_case() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(
            &path,
            "# recipients\n\nExample.ORG\n  posteo.de.  # trailing comment\r\n\t\n#x.test\n",
        )
        .unwrap();
        let listed = read_list(&path).unwrap();
        let got: Vec<_> = listed.iter().map(|l| (l.domain.as_str(), l.line)).collect();
        assert_eq!(got, vec![("example.org", 3), ("posteo.de", 4)]);
    }

    #[test]
    fn a_bad_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "a.example\nb..example\n").unwrap();
        let error = read_list(&path).err().unwrap();
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "{}:2: invalid domain \"b..example\"",
                path.display()
            )),
            "{text}"
        );
        let missing = read_list(&dir.path().join("nope.txt")).err().unwrap();
        assert!(matches!(missing, Problem::ListUnusable { .. }));
    }
}
