//! Placeholder, replaced by the SMTP/TLS work.
use std::net::SocketAddr;
use crate::smtp::{SmtpError, SmtpSettings, TlsSession};

pub(crate) async fn starttls_dialogue(_addr: SocketAddr, _sni: &str, _settings: &SmtpSettings) -> Result<TlsSession, SmtpError> {
    Err(SmtpError::StarttlsNotOffered)
}
