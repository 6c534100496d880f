//! The second TLS client engine, on the system OpenSSL: for SMTP servers rustls cannot speak to.
//!
//! # What for
//!
//! `crate::tls` (rustls, ring provider) is the engine of every probe. rustls has no CBC suites, no
//! RSA or DHE key exchange, no P-521 and refuses certain leaves outright (version 1, RSA keys
//! outside 2048-8192 bits, RSA-PSS keys, unknown critical extensions) when it checks the handshake
//! signature. Postfix 3.7, the reference DANE client, delivers to all of those, so a probe that
//! gives up there reports a failure no sender sees. This module is the fallback for exactly those
//! servers: one handshake that negotiates what Postfix (with Debian 12's OpenSSL 3.0) negotiates,
//! so that a server counts as reachable, and with which chain, exactly when it does for Postfix.
//! It is not a replacement for the rustls path: the caller tries rustls first and comes here only
//! when that handshake fails in a way OpenSSL may not.
//!
//! # Why OpenSSL
//!
//! Parity. Postfix is a thin layer over libssl: the same library with the same settings makes the
//! same ClientHello and accepts the same server answers, including the failures (OpenSSL 3.0 at
//! security level 1 refuses TLS 1.0/1.1 key exchange signatures, SHA-1 signatures, DH groups below
//! 1024 bits). We link the system library (no vendored copy), as Postfix does.
//!
//! # Settings (Postfix 3.7 `src/tls/tls_client.c`, `tls_misc.c`, `tls_dh.c`, `mail_params.h`)
//!
//! - Cipher list: `tls_medium_cipherlist` (`aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH`), the list
//!   behind `smtp_tls_mandatory_ciphers = medium` (`tls_set_ciphers`). It has CBC suites, RSA key
//!   exchange and DHE; `-aNULL` takes the anonymous suites out, so the server must present a
//!   certificate. PSK and SRP suites in it are never offered (no PSK callback, no SRP user).
//! - TLS 1.3 suites: OpenSSL's defaults (Postfix 3.7 does not set them).
//! - Protocols: `smtp_tls_mandatory_protocols = >=TLSv1` (`tls_proto_mask_lims`: floor TLS 1.0,
//!   no ceiling; SSLv2/SSLv3 excluded for DANE levels in `tls_client_start`).
//! - Security level: `tls_client_init` sets 0 on the context, `tls_client_start` raises it to 1
//!   on the connection for every level that authenticates (`TLS_MUST_MATCH`, so `dane`): the
//!   effective level is 1, not Debian's default 2. At 1 an RSA-1024 leaf and a 1024-bit DH group
//!   are fine, TLS 1.0/1.1 with (EC)DHE fail (`legacy sigalg disallowed or unsupported`: their
//!   MD5+SHA-1 signature is below 80 bits in OpenSSL 3.0), TLS 1.0/1.1 with RSA key exchange work.
//! - Groups: `tls_eecdh_auto_curves` = `X25519 X448 prime256v1 secp521r1 secp384r1`, in that
//!   order (`tls_auto_eecdh_curves`); OpenSSL's own default list would add the FFDHE groups and
//!   put P-256 before X448. P-521 is there.
//! - Options: `SSL_OP_ALL` plus `SINGLE_ECDH_USE`/`SINGLE_DH_USE` (`tls_bug_bits`) and
//!   `IGNORE_UNEXPECTED_EOF`; no session tickets turned off, no legacy renegotiation allowed
//!   (OpenSSL 3.0's default, which Postfix keeps).
//! - Sessions: no resumption, ever (Postfix's default `smtp_tls_session_cache_database` is empty);
//!   every handshake is full, so the server always sends its chain.
//! - SNI: the name given (the TLSA base domain, RFC 7672 3.3). No ALPN.
//! - Verification: the verify callback accepts every chain (Postfix runs with `SSL_VERIFY_NONE`
//!   and decides after the handshake; DANE is judged by `crate::dane` on the captured chain). It
//!   refuses only a chain of more than [`MAX_CHAIN_CERTS`] certificates. Nothing about the leaf is
//!   judged (version 1, small RSA keys, RSA-PSS keys, unknown critical extensions all pass, as in
//!   OpenSSL's DANE-EE path), but OpenSSL always checks the server's proof of the leaf key: the
//!   ServerKeyExchange signature (TLS 1.2 ECDHE/DHE), the CertificateVerify signature (TLS 1.3),
//!   or, with RSA key exchange, the Finished message the server can only compute after decrypting
//!   our premaster secret with that key. No OpenSSL setting turns that off, and none is used.
//!
//! `tests/legacy_tls.rs` holds this to account against real servers (`openssl s_server` in each
//! legacy shape, with `posttls-finger` against the same server as the reference): same outcome,
//! version and suite per shape, and a ClientHello identical to posttls-finger's but for its
//! random parts.
//!
//! # Data flow
//!
//! In: a [`TcpStream`] on which the server has just answered 220 to STARTTLS (or any stream where
//! TLS starts now), the SNI name and a time limit. Out: [`LegacyHandshake`], the TLS stream (for
//! the caller's QUIT and close) and [`LegacyFacts`] (version, IANA suite name, the chain as sent,
//! DER leaf first, for `crate::dane`), or a [`LegacyTlsError`] whose text is OpenSSL's reason,
//! readable. The whole handshake runs under the time limit.

use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslMethod, SslOptions, SslRef, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::x509::{X509StoreContext, X509StoreContextRef, X509VerifyResult};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

/// Most certificates accepted in a presented chain, leaf included: the bound of the rustls path
/// (`crate::tls`), so both engines hand `crate::dane` at most this many.
pub const MAX_CHAIN_CERTS: usize = 20;

/// Postfix's `tls_medium_cipherlist` default, the `medium` grade of
/// `smtp_tls_mandatory_ciphers`.
pub const MEDIUM_CIPHER_LIST: &str = "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH";

/// Postfix's `tls_eecdh_auto_curves` default (`X25519 X448 prime256v1 secp521r1 secp384r1`), in
/// OpenSSL's group-list syntax.
pub const GROUPS: &str = "X25519:X448:P-256:P-521:P-384";

/// The OpenSSL security level Postfix uses on the connection at the `dane` level.
pub const SECURITY_LEVEL: u32 = 1;

/// A finished handshake: the stream, for the rest of the SMTP dialogue (QUIT, close), and what
/// the handshake established.
pub struct LegacyHandshake {
    /// The TLS stream over the caller's TCP stream.
    pub stream: SslStream<TcpStream>,
    /// Version, suite, chain.
    pub facts: LegacyFacts,
}

impl std::fmt::Debug for LegacyHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyHandshake")
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// What an OpenSSL handshake established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyFacts {
    /// `TLSv1.3`, `TLSv1.2`, `TLSv1.1` or `TLSv1.0` (OpenSSL itself says `TLSv1` for 1.0).
    pub version: String,
    /// The IANA name of the suite (`TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA`, `TLS_AES_256_GCM_SHA384`),
    /// as the rustls path reports it; `0xHHLL` for a suite OpenSSL has no standard name for.
    pub cipher_suite: String,
    /// The chain as the server sent it, DER, leaf first, at most [`MAX_CHAIN_CERTS`].
    pub chain: Vec<Vec<u8>>,
    /// The key exchange group: the IANA name of a named group (`x25519`, `x448`, `secp256r1`,
    /// `secp384r1`, `secp521r1`), `dh-BITS` for a TLS 1.2 DHE group the server picked itself,
    /// `None` for RSA key exchange.
    pub key_exchange_group: Option<String>,
    /// OpenSSL's security bits of the leaf's public key (`EVP_PKEY_security_bits`: RSA-1024 is 80,
    /// RSA-2048 112, P-256 128). For `crate::dane`: OpenSSL's verifier, DANE-EE path included,
    /// refuses a leaf below the security level's 80 bits ("EE certificate key too weak"), so
    /// Postfix reports an RSA-768 leaf as untrusted even when a `3 1 1` record matches it.
    pub leaf_key_security_bits: Option<u32>,
}

/// Why an OpenSSL handshake failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LegacyTlsError {
    /// The SNI name is not a DNS name; nothing was sent.
    #[error("SNI {name:?} is not a valid DNS name")]
    InvalidSni {
        /// The name, cut to 100 characters.
        name: String,
    },
    /// The OpenSSL client context could not be built (a library problem, not the server's).
    #[error("OpenSSL client configuration: {detail}")]
    Config {
        /// OpenSSL's reasons.
        detail: String,
    },
    /// The handshake did not finish within the time limit.
    #[error("TLS handshake timed out")]
    Timeout,
    /// The connection failed or closed under the handshake.
    #[error("connection lost during the TLS handshake: {detail}")]
    Io {
        /// The I/O error, or "closed by the server".
        detail: String,
    },
    /// The handshake failed: an alert from the server, or something OpenSSL refused.
    #[error("{detail}")]
    Handshake {
        /// OpenSSL's reasons, e.g. `legacy sigalg disallowed or unsupported` or
        /// `sslv3 alert handshake failure (SSL alert number 40)`.
        detail: String,
    },
    /// The server sent more than [`MAX_CHAIN_CERTS`] certificates.
    #[error(
        "certificate chain has {count} certificates, more than the {MAX_CHAIN_CERTS} accepted"
    )]
    ChainTooLong {
        /// How many it sent.
        count: usize,
    },
    /// The handshake finished without a server certificate (cannot happen with the cipher list,
    /// which has no anonymous suites; checked anyway).
    #[error("server presented no certificate")]
    NoCertificate,
}

/// Runs a TLS client handshake on `tcp` the way Postfix 3.7 does at the `dane` level (see the
/// module documentation), sending `sni` (a DNS name; one trailing dot is dropped), all within
/// `timeout`.
///
/// Every chain is accepted except one longer than [`MAX_CHAIN_CERTS`]; the server must still
/// prove it holds the leaf's key. No session is resumed or kept.
pub async fn handshake(
    tcp: TcpStream,
    sni: &str,
    timeout: Duration,
) -> Result<LegacyHandshake, LegacyTlsError> {
    let sni = sni_name(sni)?;
    let context = client_context()?;
    let mut ssl = Ssl::new(context).map_err(|e| LegacyTlsError::Config {
        detail: describe_stack(&e),
    })?;
    // `tls_client_start`: authenticated levels run at security level 1.
    ssl.set_security_level(SECURITY_LEVEL);
    ssl.set_hostname(&sni).map_err(|e| LegacyTlsError::Config {
        detail: describe_stack(&e),
    })?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| LegacyTlsError::Config {
        detail: describe_stack(&e),
    })?;

    match tokio::time::timeout(timeout, Pin::new(&mut stream).connect()).await {
        Err(_) => return Err(LegacyTlsError::Timeout),
        Ok(Err(error)) => {
            // Our verify callback's refusal shows up as a generic "certificate verify failed";
            // the chain OpenSSL received is still there to say why.
            if stream.ssl().verify_result() == X509VerifyResult::APPLICATION_VERIFICATION {
                let count = chain_len(stream.ssl());
                if count > MAX_CHAIN_CERTS {
                    return Err(LegacyTlsError::ChainTooLong { count });
                }
            }
            return Err(describe_error(&error));
        }
        Ok(Ok(())) => {}
    }
    let facts = facts(stream.ssl())?;
    Ok(LegacyHandshake { stream, facts })
}

/// The SNI to send: a DNS name (not an IP address, no NUL or other bytes OpenSSL would pass on),
/// without one trailing dot.
fn sni_name(sni: &str) -> Result<String, LegacyTlsError> {
    let invalid = || LegacyTlsError::InvalidSni {
        name: sni.chars().take(100).collect(),
    };
    let name = sni.strip_suffix('.').unwrap_or(sni);
    if name.is_empty() || name.ends_with('.') || name.contains('\0') {
        return Err(invalid());
    }
    match ServerName::try_from(name) {
        Ok(ServerName::DnsName(_)) => Ok(name.to_string()),
        _ => Err(invalid()),
    }
}

/// The client context every handshake shares, built on first use (`tls_client_init`).
fn client_context() -> Result<&'static SslContext, LegacyTlsError> {
    static CONTEXT: OnceLock<Result<SslContext, String>> = OnceLock::new();
    match CONTEXT.get_or_init(|| build_context().map_err(|e| describe_stack(&e))) {
        Ok(context) => Ok(context),
        Err(detail) => Err(LegacyTlsError::Config {
            detail: detail.clone(),
        }),
    }
}

fn build_context() -> Result<SslContext, ErrorStack> {
    let mut builder = SslContext::builder(SslMethod::tls_client())?;
    // `tls_client_init`: level 0 on the context; each connection raises it (see `handshake`).
    builder.set_security_level(0);
    // `tls_client_init` + `tls_bug_bits`; the SSLv2/SSLv3 exclusions of `tls_client_start`.
    builder.set_options(
        SslOptions::ALL
            | SslOptions::IGNORE_UNEXPECTED_EOF
            | SslOptions::SINGLE_ECDH_USE
            | SslOptions::SINGLE_DH_USE
            | SslOptions::NO_SSLV2
            | SslOptions::NO_SSLV3,
    );
    // `smtp_tls_mandatory_protocols = >=TLSv1`: floor TLS 1.0, no ceiling.
    builder.set_min_proto_version(Some(SslVersion::TLS1))?;
    builder.set_max_proto_version(None)?;
    // `smtp_tls_mandatory_ciphers = medium`; TLS 1.3 suites stay OpenSSL's defaults.
    builder.set_cipher_list(MEDIUM_CIPHER_LIST)?;
    // `tls_auto_eecdh_curves(tls_eecdh_auto_curves)`.
    builder.set_groups_list(GROUPS)?;
    // No client-side cache (OpenSSL's client default too): nothing to resume from.
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);
    // The trust store stays empty: every chain "fails" verification, and the callback, which
    // sees each of those errors, lets it through. PEER rather than Postfix's NONE only so that
    // the callback's one refusal (too many certificates) ends the handshake.
    builder.set_verify_callback(SslVerifyMode::PEER, accept_any_bounded_chain);
    Ok(builder.build())
}

/// The verify callback: any chain, whatever OpenSSL's verdict, except one of more than
/// [`MAX_CHAIN_CERTS`] certificates.
fn accept_any_bounded_chain(_preverified: bool, context: &mut X509StoreContextRef) -> bool {
    let count = X509StoreContext::ssl_idx()
        .ok()
        .and_then(|index| context.ex_data(index))
        .map(chain_len)
        .unwrap_or(0);
    if count > MAX_CHAIN_CERTS {
        context.set_error(X509VerifyResult::APPLICATION_VERIFICATION);
        return false;
    }
    true
}

/// How many certificates the server sent (on the client, OpenSSL's peer chain includes the leaf
/// and keeps the order received).
fn chain_len(ssl: &SslRef) -> usize {
    ssl.peer_cert_chain().map_or(0, |chain| chain.len())
}

/// Reads the facts off a finished handshake.
fn facts(ssl: &SslRef) -> Result<LegacyFacts, LegacyTlsError> {
    let version = match ssl.version2() {
        Some(SslVersion::TLS1_3) => "TLSv1.3".to_string(),
        Some(SslVersion::TLS1_2) => "TLSv1.2".to_string(),
        Some(SslVersion::TLS1_1) => "TLSv1.1".to_string(),
        Some(SslVersion::TLS1) => "TLSv1.0".to_string(),
        _ => ssl.version_str().to_string(),
    };
    let cipher = ssl.current_cipher().ok_or(LegacyTlsError::Handshake {
        detail: "no cipher suite negotiated".to_string(),
    })?;
    let cipher_suite = match cipher.standard_name() {
        Some(name) => name.to_string(),
        None => {
            let [high, low] = cipher.protocol_id();
            format!("0x{high:02X}{low:02X}")
        }
    };
    let presented = ssl.peer_cert_chain().ok_or(LegacyTlsError::NoCertificate)?;
    if presented.len() > MAX_CHAIN_CERTS {
        return Err(LegacyTlsError::ChainTooLong {
            count: presented.len(),
        });
    }
    let mut chain = Vec::with_capacity(presented.len());
    for cert in presented {
        // i2d of a parsed certificate: the signed part is re-emitted from the bytes received
        // (OpenSSL caches the TBSCertificate encoding), the DER outer wrapper is canonical.
        chain.push(cert.to_der().map_err(|e| LegacyTlsError::Handshake {
            detail: format!(
                "cannot encode the presented certificate: {}",
                describe_stack(&e)
            ),
        })?);
    }
    let leaf_key_security_bits = presented
        .iter()
        .next()
        .and_then(|leaf| leaf.public_key().ok())
        .map(|key| key.security_bits());
    if chain.is_empty() {
        return Err(LegacyTlsError::NoCertificate);
    }
    Ok(LegacyFacts {
        version,
        cipher_suite,
        chain,
        key_exchange_group: ssl.peer_tmp_key().ok().and_then(|key| group_name(&key)),
        leaf_key_security_bits,
    })
}

/// The IANA name of the group of the server's ephemeral key.
fn group_name(key: &PKey<Public>) -> Option<String> {
    let id = key.id();
    if id == Id::X25519 {
        Some("x25519".to_string())
    } else if id == Id::X448 {
        Some("x448".to_string())
    } else if id == Id::EC {
        let curve = key.ec_key().ok()?.group().curve_name()?;
        Some(match curve {
            Nid::X9_62_PRIME256V1 => "secp256r1".to_string(),
            Nid::SECP384R1 => "secp384r1".to_string(),
            Nid::SECP521R1 => "secp521r1".to_string(),
            other => other.short_name().ok()?.to_string(),
        })
    } else if id == Id::DH {
        Some(format!("dh-{}", key.bits()))
    } else {
        None
    }
}

/// A handshake error as text: OpenSSL's reasons, or the I/O error.
fn describe_error(error: &openssl::ssl::Error) -> LegacyTlsError {
    if let Some(io) = error.io_error() {
        return LegacyTlsError::Io {
            detail: io.to_string(),
        };
    }
    match (error.code(), error.ssl_error()) {
        (_, Some(stack)) if !stack.errors().is_empty() => {
            let detail = describe_stack(stack);
            // OpenSSL 3 reports an EOF under the handshake as an SSL error of its own.
            if stack
                .errors()
                .iter()
                .any(|e| e.reason() == Some("unexpected eof while reading"))
            {
                LegacyTlsError::Io { detail }
            } else {
                LegacyTlsError::Handshake { detail }
            }
        }
        (ErrorCode::SYSCALL, _) | (ErrorCode::ZERO_RETURN, _) => LegacyTlsError::Io {
            detail: "closed by the server".to_string(),
        },
        (code, _) => LegacyTlsError::Handshake {
            detail: format!("OpenSSL error code {}", code.as_raw()),
        },
    }
}

/// OpenSSL's error queue as readable text: each entry's reason, with its data (for alerts, "SSL
/// alert number N") in parentheses; entries joined by "; ". No codes, files or line numbers.
fn describe_stack(stack: &ErrorStack) -> String {
    let mut parts: Vec<String> = Vec::new();
    for error in stack.errors() {
        let reason = match error.reason() {
            Some(reason) => reason.to_string(),
            None => format!(
                "{} error {}",
                error.library().unwrap_or("OpenSSL"),
                error.reason_code()
            ),
        };
        let part = match error.data() {
            Some(data) if !data.is_empty() => format!("{reason} ({data})"),
            _ => reason,
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.is_empty() {
        "unknown OpenSSL error".to_string()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sni_must_be_a_dns_name() {
        assert_eq!(sni_name("mx.example.com").unwrap(), "mx.example.com");
        assert_eq!(sni_name("mx.example.com.").unwrap(), "mx.example.com");
        for bad in [
            "",
            ".",
            "192.0.2.1",
            "::1",
            "bad name",
            "mx\0.example",
            "mx.example..",
        ] {
            assert!(
                matches!(sni_name(bad), Err(LegacyTlsError::InvalidSni { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn context_builds_once() {
        let a = client_context().unwrap();
        let b = client_context().unwrap();
        assert!(std::ptr::eq(a, b));
    }

    /// The handshake future can be spawned on the multi-threaded runtime, like the rustls one.
    #[test]
    fn handshake_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let tcp = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let future = handshake(tcp, "mx.example.test", Duration::from_millis(10));
            assert_send(&future);
            assert!(matches!(future.await, Err(LegacyTlsError::Timeout)));
        });
    }

    #[test]
    fn error_text_is_readable() {
        let stack = ErrorStack::get();
        assert_eq!(describe_stack(&stack), "unknown OpenSSL error");
        let error = LegacyTlsError::ChainTooLong { count: 21 };
        assert_eq!(
            error.to_string(),
            "certificate chain has 21 certificates, more than the 20 accepted"
        );
    }
}
