//! The `certificates` key of an inbound target: the local certificate files of its MX hosts
//! (`crate::checks::local_certs`), read by `reader.rs` from the config file; each entry names an
//! MX host and a live file (with an optional staged one) or a certbot lineage, each file once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::Problem;
use super::values::{domain_name, source_path, Result};
use crate::checks::local_certs::{CertificateSource, CertificateSpec};
use crate::yaml::{mapping, sequence, string, Field};

const CERTIFICATE_KEYS: &[&str] = &["mx", "live", "staged", "lineage"];

/// `certificates` of an inbound target (`crate::checks::local_certs`), its files relative to
/// `base_dir`.
pub(super) fn certificates(
    section: &Field<'_, '_>,
    base_dir: &Path,
) -> Result<Vec<CertificateSpec>> {
    let mut specs = Vec::new();
    // (Normalised MX host, live file or lineage) -> line of its first entry. One MX host may
    // have several entries (an ECDSA and an RSA certificate), each file once.
    let mut seen: HashMap<(String, PathBuf), usize> = HashMap::new();
    for (loc, node) in sequence(section)? {
        let fields = mapping(node, &loc, Some(CERTIFICATE_KEYS))?;
        let Some(mx_field) = fields.get("mx") else {
            return loc.fail(Problem::MissingKey("mx"));
        };
        let mx = domain_name(mx_field)?;
        let path = |name: &str| -> Result<Option<PathBuf>> {
            let Some(field) = fields.get(name) else {
                return Ok(None);
            };
            let text = string(field)?;
            if text.trim().is_empty() {
                return field.loc.fail(Problem::EmptyPath);
            }
            Ok(Some(base_dir.join(text)))
        };
        let live = path("live")?;
        let staged = path("staged")?;
        let lineage = path("lineage")?;
        let source = match (live, lineage) {
            (Some(_), Some(_)) => {
                // Blame whichever of the two comes second in the file.
                let (a, b) = (&fields.get("live"), &fields.get("lineage"));
                let (second, key, other) = match (a, b) {
                    (Some(a), Some(b)) if a.loc.line > b.loc.line => (a, "live", "lineage"),
                    (_, Some(b)) => (b, "lineage", "live"),
                    _ => return loc.fail(Problem::MissingEither("live", "lineage")),
                };
                return second.loc.fail(Problem::ConflictingKeys { key, other });
            }
            (None, None) => return loc.fail(Problem::MissingEither("live", "lineage")),
            (Some(live), None) => CertificateSource::Files { live, staged },
            (None, Some(dir)) => {
                if let Some(f) = fields.get("staged") {
                    // A lineage finds its staged certificate itself.
                    return f.loc.fail(Problem::ConflictingKeys {
                        key: "staged",
                        other: "lineage",
                    });
                }
                CertificateSource::Lineage(dir)
            }
        };
        let key = (mx.clone(), source_path(&source).to_path_buf());
        if let Some(&first_line) = seen.get(&key) {
            return mx_field
                .loc
                .fail(Problem::DuplicateCertificate { mx, first_line });
        }
        seen.insert(key, mx_field.loc.line);
        specs.push(CertificateSpec { mx, source });
    }
    Ok(specs)
}
