//! How to talk SMTP to a server: port, EHLO name, step timeout.

use std::time::Duration;

/// How to talk SMTP.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// TCP port; 25 in production. Tests use another, and the TLSA name follows it.
    pub port: u16,
    /// Our name in EHLO.
    pub ehlo_name: String,
    /// Time allowed for each step (connect, banner, EHLO, STARTTLS, handshake).
    pub step_timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            port: 25,
            ehlo_name: "dane-exporter.invalid".to_string(),
            step_timeout: Duration::from_secs(10),
        }
    }
}
