//! Placeholder, replaced by the SMTP/TLS work.
use crate::smtp::{SmtpError, SmtpSettings, TlsSession};
use std::net::SocketAddr;

pub(crate) async fn starttls_dialogue(
    _addr: SocketAddr,
    _sni: &str,
    _settings: &SmtpSettings,
) -> Result<TlsSession, SmtpError> {
    Err(SmtpError::StarttlsNotOffered)
}
