//! The exporter as the TLS-RPT listener's sink (`crate::web::ReportSink`): a posted report goes
//! to the database writer of `crate::retained`; without a database nothing can be stored, and
//! the sender is told to retry.

use super::DaneExporter;
use crate::database::{Stored, SubmitError};
use crate::tlsrpt::MediaType;
use crate::web::{self, BoxFuture};

impl web::ReportSink for DaneExporter {
    fn submit(
        &self,
        body: Vec<u8>,
        media: MediaType,
    ) -> BoxFuture<'_, Result<Stored, SubmitError>> {
        Box::pin(async move {
            match &self.retained {
                Some(retained) => retained.submit(body, media).await,
                None => Err(SubmitError::Busy),
            }
        })
    }
}
