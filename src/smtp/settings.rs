//! How to talk SMTP to a server: port, EHLO name, timeouts, TLS engines.

use std::time::Duration;

/// How long a reply (greeting, EHLO, STARTTLS) may take by default. Greet-pausing and tarpitting
/// servers (postscreen's `postscreen_greet_wait`, Exim's `delay`, sendmail's `greet_pause`) hold
/// the greeting for seconds to tens of seconds; Postfix as a sender waits 300 s
/// (`smtp_helo_timeout`). A minute tolerates every such pause seen in practice and still ends a
/// dead session inside the default probe deadline.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to talk SMTP.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// TCP port; 25 in production. Tests use another, and the TLSA name follows it.
    pub port: u16,
    /// Our name in EHLO.
    pub ehlo_name: String,
    /// Time allowed for the TCP connect and for the TLS handshake.
    pub step_timeout: Duration,
    /// Time allowed for each reply of the server: the greeting, the EHLO reply, the STARTTLS
    /// reply.
    pub reply_timeout: Duration,
    /// Whether a handshake rustls cannot complete is tried again with the OpenSSL engine
    /// (`crate::tls::legacy`), as Postfix would complete it. On, except to see rustls alone.
    pub tls_fallback: bool,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            port: 25,
            ehlo_name: "dane-exporter.invalid".to_string(),
            step_timeout: Duration::from_secs(10),
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            tls_fallback: true,
        }
    }
}
