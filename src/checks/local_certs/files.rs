//! Reading certificate files from disk, bounded and typed, and finding the live and staged
//! certificates of a certbot lineage. Blocking I/O: `super::run` runs it on tokio's blocking
//! pool under the probe's step timeout.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::report::{LocalCertError, MAX_FILE_BYTES};

/// Most certificates kept from one file (the same bound as a presented chain, `crate::tls`).
pub const MAX_CERTIFICATES: usize = 20;
/// Most directory entries looked at in a lineage's archive directory.
const MAX_ARCHIVE_ENTRIES: usize = 10_000;

/// The certificates of a PEM file, in file order (leaf first, as `smtpd_tls_chain_files` wants
/// them). Other PEM sections (a private key in a combined file) are skipped, never read into the
/// result.
pub fn read_chain(path: &Path) -> Result<Vec<Vec<u8>>, LocalCertError> {
    parse_pem_chain(&read_bounded(path)?)
}

/// The bytes of a regular file of at most [`MAX_FILE_BYTES`]: what [`read_chain`] parses, and
/// what `dane_exporter tlsa` reads a key file with.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, LocalCertError> {
    let file = std::fs::File::open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(LocalCertError::NotAFile);
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LocalCertError::TooLarge(meta.len()));
    }
    // The file may grow between metadata and read (a renewal writing it): read one byte more
    // than allowed to notice.
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(LocalCertError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The certificates of PEM text. Pure.
pub fn parse_pem_chain(bytes: &[u8]) -> Result<Vec<Vec<u8>>, LocalCertError> {
    let mut chain = Vec::new();
    for item in CertificateDer::pem_slice_iter(bytes) {
        let der = item.map_err(|e| LocalCertError::BadPem(e.to_string()))?;
        if chain.len() == MAX_CERTIFICATES {
            return Err(LocalCertError::BadPem(format!(
                "more than {MAX_CERTIFICATES} certificates"
            )));
        }
        chain.push(der.as_ref().to_vec());
    }
    if chain.is_empty() {
        return Err(LocalCertError::NoCertificate);
    }
    Ok(chain)
}

fn io_error(e: std::io::Error) -> LocalCertError {
    match e.kind() {
        std::io::ErrorKind::NotFound => LocalCertError::NotFound,
        _ => LocalCertError::Io(e.to_string()),
    }
}

/// The live and staged chain files of a certbot lineage directory (`/etc/letsencrypt/live/NAME`).
///
/// Live: `DIR/fullchain.pem`, the file Postfix loads (certbot points it at the newest version
/// when it renews, so after a renewal it is what the next reload serves). Staged: certbot keeps
/// every version as `archive/NAME/fullchainN.pem`; when `fullchain.pem` links to version N and
/// the archive holds a higher-numbered `fullchainM.pem`, the highest such M is staged: a version
/// obtained but not yet switched to (a deploy hook that holds the symlink back until its key is
/// published, or a manual `certbot certonly --csr` with the next key). With certbot's default
/// flow the link always points at the newest version and there is no staged certificate.
pub fn lineage_files(dir: &Path) -> Result<(PathBuf, Option<PathBuf>), LocalCertError> {
    let live = dir.join("fullchain.pem");
    let target = match std::fs::read_link(&live) {
        Ok(target) => dir.join(target),
        // Not a symlink (copied files): a lineage without archive versions.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return Ok((live, None)),
        Err(e) => return Err(io_error(e)),
    };
    let Some(version) = version_of(&target) else {
        return Err(LocalCertError::Lineage(format!(
            "{} links to {}, not to a fullchainN.pem",
            live.display(),
            target.display()
        )));
    };
    let Some(archive) = target.parent() else {
        return Ok((live, None));
    };
    let entries = std::fs::read_dir(archive)
        .map_err(|e| LocalCertError::Lineage(format!("archive {}: {e}", archive.display())))?;
    let mut newest: Option<(u32, PathBuf)> = None;
    for entry in entries.take(MAX_ARCHIVE_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        if let Some(n) = version_of(&path) {
            if n > version && newest.as_ref().is_none_or(|(m, _)| n > *m) {
                newest = Some((n, path));
            }
        }
    }
    Ok((live, newest.map(|(_, path)| path)))
}

/// N of a `fullchainN.pem` file name.
fn version_of(path: &Path) -> Option<u32> {
    path.file_name()?
        .to_str()?
        .strip_prefix("fullchain")?
        .strip_suffix(".pem")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(der: &[u8], label: &str) -> String {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{text}\n-----END {label}-----\n")
    }

    #[test]
    fn pem_chain_keeps_certificates_in_order_and_skips_keys() {
        let text = format!(
            "{}{}junk between\n{}",
            pem(b"\x30\x03\x02\x01\x01", "PRIVATE KEY"),
            pem(b"\x30\x03\x02\x01\x02", "CERTIFICATE"),
            pem(b"\x30\x03\x02\x01\x03", "CERTIFICATE")
        );
        let chain = parse_pem_chain(text.as_bytes()).unwrap();
        assert_eq!(
            chain,
            vec![
                b"\x30\x03\x02\x01\x02".to_vec(),
                b"\x30\x03\x02\x01\x03".to_vec()
            ]
        );
    }

    #[test]
    fn bad_pem_is_an_error_never_a_panic() {
        assert_eq!(
            parse_pem_chain(b"no pem here"),
            Err(LocalCertError::NoCertificate)
        );
        assert_eq!(parse_pem_chain(b""), Err(LocalCertError::NoCertificate));
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_pem_chain(broken.as_bytes()),
            Err(LocalCertError::BadPem(_))
        ));
        let unterminated = "-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert!(matches!(
            parse_pem_chain(unterminated.as_bytes()),
            Err(LocalCertError::BadPem(_)) | Err(LocalCertError::NoCertificate)
        ));
        let many: String = (0..21).map(|_| pem(b"\x30\x00", "CERTIFICATE")).collect();
        assert!(matches!(
            parse_pem_chain(many.as_bytes()),
            Err(LocalCertError::BadPem(_))
        ));
    }

    #[test]
    fn files_are_bounded_and_errors_typed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_chain(&dir.path().join("missing.pem")),
            Err(LocalCertError::NotFound)
        );
        assert_eq!(read_chain(dir.path()), Err(LocalCertError::NotAFile));
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; MAX_FILE_BYTES as usize + 1]).unwrap();
        assert_eq!(
            read_chain(&big),
            Err(LocalCertError::TooLarge(MAX_FILE_BYTES + 1))
        );
    }

    #[test]
    fn lineage_staged_is_a_newer_archive_version() {
        let root = tempfile::tempdir().unwrap();
        let live = root.path().join("live/mx");
        let archive = root.path().join("archive/mx");
        std::fs::create_dir_all(&live).unwrap();
        std::fs::create_dir_all(&archive).unwrap();
        for n in [1, 2, 3, 10] {
            std::fs::write(archive.join(format!("fullchain{n}.pem")), "x").unwrap();
        }
        std::fs::write(archive.join("fullchain.pem.bak"), "x").unwrap();
        std::os::unix::fs::symlink(
            "../../archive/mx/fullchain2.pem",
            live.join("fullchain.pem"),
        )
        .unwrap();
        let (got_live, staged) = lineage_files(&live).unwrap();
        assert_eq!(got_live, live.join("fullchain.pem"));
        assert_eq!(
            staged.map(|p| p.file_name().unwrap().to_owned()),
            Some("fullchain10.pem".into())
        );

        // The default certbot state: the link points at the newest version.
        std::fs::remove_file(live.join("fullchain.pem")).unwrap();
        std::os::unix::fs::symlink(
            "../../archive/mx/fullchain10.pem",
            live.join("fullchain.pem"),
        )
        .unwrap();
        assert_eq!(lineage_files(&live).unwrap().1, None);

        // Copied files, no links: live only.
        std::fs::remove_file(live.join("fullchain.pem")).unwrap();
        std::fs::write(live.join("fullchain.pem"), "x").unwrap();
        assert_eq!(lineage_files(&live).unwrap().1, None);

        // A link to something else is a lineage error.
        std::fs::remove_file(live.join("fullchain.pem")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", live.join("fullchain.pem")).unwrap();
        assert!(matches!(
            lineage_files(&live),
            Err(LocalCertError::Lineage(_))
        ));
        assert_eq!(
            lineage_files(&root.path().join("nope")),
            Err(LocalCertError::NotFound)
        );
    }
}
