//! The local-certificate check's I/O: every configured file read afresh each round (renewals
//! change them under the running exporter), on tokio's blocking pool under the step timeout
//! (`files.rs`: bounded, typed errors, never a panic on bad PEM).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::files::{lineage_files, read_chain};
use super::report::{CertificateSource, CertificateSpec, LoadedFile, LocalCertError, Slot};

/// Reads every file of `specs` under `limit`. Never fails: a file that cannot be read is a
/// [`LoadedFile`] with its error.
pub async fn run(specs: &[CertificateSpec], limit: Duration) -> Vec<LoadedFile> {
    if specs.is_empty() {
        return Vec::new();
    }
    let owned: Arc<Vec<CertificateSpec>> = Arc::new(specs.to_vec());
    let reader = Arc::clone(&owned);
    match tokio::time::timeout(
        limit,
        tokio::task::spawn_blocking(move || load_all(&reader)),
    )
    .await
    {
        Ok(Ok(loaded)) => loaded,
        // A panic in the reader (it should not happen) or a hung filesystem: every file of
        // this round is reported unread, each with the same cause.
        Ok(Err(join)) => unread(&owned, LocalCertError::Io(format!("reader failed: {join}"))),
        Err(_) => unread(&owned, LocalCertError::Timeout(limit)),
    }
}

/// Every file of `specs`, in order: live then staged per MX host.
fn load_all(specs: &[CertificateSpec]) -> Vec<LoadedFile> {
    let mut out = Vec::new();
    for spec in specs {
        let (live, staged) = match &spec.source {
            CertificateSource::Files { live, staged } => (Ok(live.clone()), staged.clone()),
            CertificateSource::Lineage(dir) => match lineage_files(dir) {
                Ok((live, staged)) => (Ok(live), staged),
                Err(e) => (Err(e), None),
            },
        };
        let live = match live {
            Ok(path) => LoadedFile {
                chain: read_chain(&path),
                mx: spec.mx.clone(),
                slot: Slot::Live,
                path,
            },
            Err(e) => LoadedFile {
                mx: spec.mx.clone(),
                slot: Slot::Live,
                path: source_path(&spec.source).to_path_buf(),
                chain: Err(e),
            },
        };
        out.push(live);
        if let Some(path) = staged {
            out.push(LoadedFile {
                chain: read_chain(&path),
                mx: spec.mx.clone(),
                slot: Slot::Staged,
                path,
            });
        }
    }
    out
}

fn source_path(source: &CertificateSource) -> &Path {
    match source {
        CertificateSource::Files { live, .. } => live,
        CertificateSource::Lineage(dir) => dir,
    }
}

fn unread(specs: &[CertificateSpec], error: LocalCertError) -> Vec<LoadedFile> {
    specs
        .iter()
        .map(|spec| LoadedFile {
            mx: spec.mx.clone(),
            slot: Slot::Live,
            path: source_path(&spec.source).to_path_buf(),
            chain: Err(error.clone()),
        })
        .collect()
}
