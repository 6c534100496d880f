//! `probe_starttls` against the STARTTLS fixture (`support::smtp_server`) and against scripted
//! raw-TCP servers that misbehave one way each. Every failure test checks the error variant, the
//! stage where it applies, `reason()` and `starttls_offered()`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dane_exporter::core::{SmtpError, SmtpStage, TlsSession};
use dane_exporter::smtp::{probe_starttls, SmtpSettings};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::support::smtp_server::{
    ca_signed, self_signed, FixtureConfig, SmtpFixture, Starttls, TlsVersions,
};

const MX: &str = "mx.example.test";
/// Step timeout for the timeout tests: short, so they run fast.
const SHORT_STEP: Duration = Duration::from_millis(300);

fn settings(port: u16, step_timeout: Duration) -> SmtpSettings {
    SmtpSettings {
        port,
        ehlo_name: "probe.example.test".to_string(),
        step_timeout,
        reply_timeout: step_timeout,
        tls_fallback: true,
    }
}

async fn probe_fixture(fixture: &SmtpFixture) -> Result<TlsSession, SmtpError> {
    probe_starttls(
        fixture.addr(),
        MX,
        &settings(fixture.port(), Duration::from_secs(5)),
    )
    .await
}

#[tokio::test]
async fn tls13_session_captures_presented_chain() {
    let cert = self_signed(&[MX]);
    let fixture = SmtpFixture::start(FixtureConfig::new(cert.clone())).await;

    let session = probe_fixture(&fixture).await.expect("probe succeeds");

    assert_eq!(session.version, "TLSv1.3");
    assert!(
        [
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
        .contains(&session.cipher_suite.as_str()),
        "{}",
        session.cipher_suite
    );
    assert_eq!(session.chain, cert.chain);
    assert_eq!(
        session.banner,
        "fixture.test ESMTP dane_exporter test fixture"
    );

    let log = fixture.sessions();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log[0].sni.as_deref(),
        Some(MX),
        "SNI is the TLSA base domain"
    );
    assert_eq!(
        log[0].plaintext_commands,
        ["EHLO probe.example.test", "STARTTLS"]
    );
    assert_eq!(
        log[0].tls_commands,
        ["QUIT"],
        "QUIT inside TLS, never MAIL FROM"
    );
}

#[tokio::test]
async fn tls12_session_with_ca_chain_keeps_order() {
    let (ca, cert) = ca_signed(&[MX]);
    let mut config = FixtureConfig::new(cert.clone());
    config.tls_versions = TlsVersions::Tls12Only;
    let fixture = SmtpFixture::start(config).await;

    let session = probe_fixture(&fixture).await.expect("probe succeeds");

    assert_eq!(session.version, "TLSv1.2");
    assert!(
        session.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{}",
        session.cipher_suite
    );
    assert_eq!(session.chain.len(), 2);
    assert_eq!(session.chain[0], cert.leaf_der());
    assert_eq!(session.chain[1], ca.der);
}

#[tokio::test]
async fn every_probe_does_a_full_handshake() {
    let fixture = SmtpFixture::start(FixtureConfig::new(self_signed(&[MX]))).await;
    for _ in 0..2 {
        let session = probe_fixture(&fixture).await.expect("probe succeeds");
        assert_eq!(session.chain.len(), 1);
    }
    let log = fixture.sessions();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|s| s.tls_version.as_deref() == Some("TLSv1.3") && !s.resumed));
}

#[tokio::test]
async fn multi_line_banner_reports_first_line() {
    let mut config = FixtureConfig::new(self_signed(&[MX]));
    config.greeting = vec![
        "mx.example.test ESMTP first line".to_string(),
        "second line".to_string(),
        "third line".to_string(),
    ];
    let fixture = SmtpFixture::start(config).await;
    let session = probe_fixture(&fixture).await.expect("probe succeeds");
    assert_eq!(session.banner, "mx.example.test ESMTP first line");
}

#[tokio::test]
async fn fixture_on_other_loopback_address_and_port_from_settings() {
    let mut config = FixtureConfig::new(self_signed(&[MX]));
    config.bind = "127.0.0.5:0".parse().expect("address");
    let fixture = SmtpFixture::start(config).await;
    assert_eq!(fixture.addr().ip().to_string(), "127.0.0.5");
    // The port of the address is ignored; the one in the settings is used.
    let addr = SocketAddr::new(fixture.addr().ip(), 1);
    let session = probe_starttls(addr, MX, &settings(fixture.port(), Duration::from_secs(5)))
        .await
        .expect("probe succeeds");
    assert_eq!(session.version, "TLSv1.3");
}

#[tokio::test]
async fn ipv6_loopback() {
    let mut config = FixtureConfig::new(self_signed(&[MX]));
    config.bind = "[::1]:0".parse().expect("address");
    let fixture = SmtpFixture::start(config).await;
    let session = probe_fixture(&fixture).await.expect("probe succeeds");
    assert_eq!(session.version, "TLSv1.3");
}

#[tokio::test]
async fn starttls_not_offered() {
    let mut config = FixtureConfig::new(self_signed(&[MX]));
    config.starttls = Starttls::NotOffered;
    let fixture = SmtpFixture::start(config).await;

    let err = probe_fixture(&fixture).await.expect_err("must fail");

    assert_eq!(err, SmtpError::StarttlsNotOffered);
    assert_eq!(err.reason().as_str(), "starttls_not_offered");
    assert_eq!(err.starttls_offered(), Some(false));
    assert_eq!(
        fixture.sessions()[0].plaintext_commands,
        ["EHLO probe.example.test", "QUIT"]
    );
}

#[tokio::test]
async fn starttls_rejected_454() {
    let mut config = FixtureConfig::new(self_signed(&[MX]));
    config.starttls = Starttls::Reject;
    let fixture = SmtpFixture::start(config).await;

    let err = probe_fixture(&fixture).await.expect_err("must fail");

    assert_eq!(
        err,
        SmtpError::StarttlsRejected {
            reply: "454 4.7.0 TLS not available due to local problem".to_string()
        }
    );
    assert_eq!(err.reason().as_str(), "starttls_rejected");
    assert_eq!(err.starttls_offered(), Some(true));
}

#[tokio::test]
async fn handshake_signature_with_wrong_key_fails() {
    for versions in [TlsVersions::Both, TlsVersions::Tls12Only] {
        let mut config = FixtureConfig::new(self_signed(&[MX]));
        config.wrong_key = true;
        config.tls_versions = versions;
        let fixture = SmtpFixture::start(config).await;

        let err = probe_fixture(&fixture).await.expect_err("must fail");

        assert!(
            matches!(&err, SmtpError::Handshake { detail } if detail.to_lowercase().contains("signature")),
            "{versions:?}: {err:?}"
        );
        assert_eq!(err.reason().as_str(), "tls_handshake_failed");
        assert_eq!(err.starttls_offered(), Some(true));
    }
}

#[tokio::test]
async fn overlong_chain_is_refused() {
    let mut cert = self_signed(&[MX]);
    let leaf = cert.chain[0].clone();
    cert.chain.extend(std::iter::repeat_n(leaf, 20));
    let fixture = SmtpFixture::start(FixtureConfig::new(cert)).await;

    let err = probe_fixture(&fixture).await.expect_err("must fail");

    assert!(
        matches!(&err, SmtpError::Handshake { detail } if detail.contains("21 certificates")),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_sni_fails_before_connecting() {
    let fixture = SmtpFixture::start(FixtureConfig::new(self_signed(&[MX]))).await;
    for bad in ["127.0.0.1", "not a name", ""] {
        let err = probe_starttls(
            fixture.addr(),
            bad,
            &settings(fixture.port(), Duration::from_secs(5)),
        )
        .await
        .expect_err("must fail");
        assert!(
            matches!(err, SmtpError::Handshake { .. }),
            "{bad:?}: {err:?}"
        );
    }
    assert!(fixture.sessions().is_empty(), "no connection was made");
}

#[tokio::test]
async fn connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);

    let err = probe_starttls(addr, MX, &settings(addr.port(), SHORT_STEP))
        .await
        .expect_err("must fail");

    assert!(matches!(err, SmtpError::Connect { .. }), "{err:?}");
    assert_eq!(err.reason().as_str(), "smtp_connect_failed");
    assert_eq!(err.starttls_offered(), None);
}

// --- Scripted misbehaving servers -------------------------------------------------------------

/// Serves one connection with `script` on 127.0.0.1; returns the address and the script's task.
async fn scripted<F, Fut, T>(script: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(BufReader<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        script(BufReader::new(tcp)).await
    });
    (addr, task)
}

/// Probes a scripted server with `step`, returning the error and how long it took.
async fn probe_err(addr: SocketAddr, step: Duration) -> (SmtpError, Duration) {
    let start = Instant::now();
    let err = probe_starttls(addr, MX, &settings(addr.port(), step))
        .await
        .expect_err("must fail");
    (err, start.elapsed())
}

async fn send(stream: &mut BufReader<TcpStream>, bytes: &[u8]) {
    stream.get_mut().write_all(bytes).await.expect("write");
}

async fn line(stream: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    stream.read_line(&mut line).await.expect("read");
    line
}

/// Greets, offers STARTTLS in EHLO and reads the STARTTLS command.
async fn up_to_starttls(stream: &mut BufReader<TcpStream>) {
    send(stream, b"220 script.test ESMTP\r\n").await;
    assert!(line(stream).await.starts_with("EHLO "));
    send(
        stream,
        b"250-script.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
    )
    .await;
    assert_eq!(line(stream).await, "STARTTLS\r\n");
}

/// Reads a little of the ClientHello, so what the script sends next is an answer to it.
async fn read_client_hello(stream: &mut BufReader<TcpStream>) {
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await.expect("read");
    assert!(n > 0 && buf[0] == 0x16, "a TLS handshake record");
}

#[tokio::test]
async fn silence_before_banner_times_out() {
    let (addr, _task) = scripted(|s| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(s);
    })
    .await;

    let (err, elapsed) = probe_err(addr, SHORT_STEP).await;

    assert_eq!(
        err,
        SmtpError::Timeout {
            stage: SmtpStage::Banner
        }
    );
    assert_eq!(err.reason().as_str(), "smtp_banner_timeout");
    assert_eq!(err.starttls_offered(), None);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn slow_drip_banner_times_out_per_step() {
    // Each byte arrives well within the step timeout, the whole line does not.
    let (addr, _task) = scripted(|mut s| async move {
        for b in b"220 a very slow banner that never seems to end\r\n" {
            if s.get_mut().write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;

    let (err, elapsed) = probe_err(addr, SHORT_STEP).await;

    assert_eq!(
        err,
        SmtpError::Timeout {
            stage: SmtpStage::Banner
        }
    );
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn greeting_554_is_refused_and_quit_sent() {
    let (addr, task) = scripted(|mut s| async move {
        send(&mut s, b"554 5.3.2 no service here\r\n").await;
        line(&mut s).await
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert_eq!(
        err,
        SmtpError::Greeting {
            reply: "554 5.3.2 no service here".to_string()
        }
    );
    assert_eq!(err.reason().as_str(), "smtp_greeting_rejected");
    assert_eq!(err.starttls_offered(), None);
    assert_eq!(task.await.expect("script"), "QUIT\r\n");
}

#[tokio::test]
async fn huge_banner_without_newline_is_cut_short() {
    const OFFERED: usize = 64 << 20;
    let (addr, task) = scripted(|mut s| async move {
        let chunk = vec![b'a'; 64 << 10];
        let mut written = 0;
        send(&mut s, b"220 ").await;
        while written < OFFERED {
            match s.get_mut().write_all(&chunk).await {
                Ok(()) => written += chunk.len(),
                Err(_) => break,
            }
        }
        written
    })
    .await;

    let (err, elapsed) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(&err, SmtpError::Protocol { stage: SmtpStage::Banner, detail } if detail.contains("longer than")),
        "{err:?}"
    );
    assert_eq!(err.reason().as_str(), "smtp_protocol_error");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The prober stopped reading and closed: the server could not push everything.
    let written = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("server write fails once the client is gone")
        .expect("script");
    assert!(written < OFFERED, "server wrote {written} bytes");
}

#[tokio::test]
async fn endless_continuation_lines_are_cut_short() {
    let (addr, _task) = scripted(|mut s| async move {
        while s.get_mut().write_all(b"220-and more\r\n").await.is_ok() {}
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(&err, SmtpError::Protocol { stage: SmtpStage::Banner, detail } if detail.contains("lines")),
        "{err:?}"
    );
}

#[tokio::test]
async fn continuation_with_another_code_is_a_protocol_error() {
    let (addr, _task) = scripted(|mut s| async move {
        send(&mut s, b"220-hello\r\n250 surprise\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(
            &err,
            SmtpError::Protocol {
                stage: SmtpStage::Banner,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn not_smtp_at_all_is_a_protocol_error() {
    let (addr, _task) = scripted(|mut s| async move {
        send(&mut s, b"SSH-2.0-OpenSSH_9.2\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(
            &err,
            SmtpError::Protocol {
                stage: SmtpStage::Banner,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn ehlo_rejected() {
    let (addr, _task) = scripted(|mut s| async move {
        send(&mut s, b"220 script.test ESMTP\r\n").await;
        line(&mut s).await;
        send(&mut s, b"550 5.7.1 not you\r\n").await;
        line(&mut s).await
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert_eq!(
        err,
        SmtpError::EhloRejected {
            reply: "550 5.7.1 not you".to_string()
        }
    );
    assert_eq!(err.reason().as_str(), "smtp_ehlo_rejected");
    assert_eq!(err.starttls_offered(), None);
}

#[tokio::test]
async fn close_after_banner_is_connection_lost() {
    let (addr, _task) = scripted(|mut s| async move {
        send(&mut s, b"220 script.test ESMTP\r\n").await;
        line(&mut s).await;
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(
            &err,
            SmtpError::Io {
                stage: SmtpStage::Ehlo,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason().as_str(), "smtp_connection_lost");
}

#[tokio::test]
async fn silence_after_starttls_command_times_out() {
    let (addr, _task) = scripted(|mut s| async move {
        up_to_starttls(&mut s).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;

    let (err, elapsed) = probe_err(addr, SHORT_STEP).await;

    assert_eq!(
        err,
        SmtpError::Timeout {
            stage: SmtpStage::Starttls
        }
    );
    assert_eq!(err.starttls_offered(), Some(true));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn silence_instead_of_server_hello_times_out() {
    let (addr, _task) = scripted(|mut s| async move {
        up_to_starttls(&mut s).await;
        send(&mut s, b"220 2.0.0 go ahead\r\n").await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;

    let (err, elapsed) = probe_err(addr, SHORT_STEP).await;

    assert_eq!(
        err,
        SmtpError::Timeout {
            stage: SmtpStage::TlsHandshake
        }
    );
    assert_eq!(err.reason().as_str(), "tls_handshake_timeout");
    assert_eq!(err.starttls_offered(), Some(true));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn garbage_instead_of_server_hello_fails_handshake() {
    let (addr, _task) = scripted(|mut s| async move {
        up_to_starttls(&mut s).await;
        send(&mut s, b"220 2.0.0 go ahead\r\n").await;
        read_client_hello(&mut s).await;
        send(&mut s, b"500 5.5.1 this is not TLS at all\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(matches!(err, SmtpError::Handshake { .. }), "{err:?}");
    assert_eq!(err.reason().as_str(), "tls_handshake_failed");
    assert_eq!(err.starttls_offered(), Some(true));
}

#[tokio::test]
async fn reset_mid_handshake_fails_handshake() {
    let (addr, _task) = scripted(|mut s| async move {
        up_to_starttls(&mut s).await;
        send(&mut s, b"220 2.0.0 go ahead\r\n").await;
        read_client_hello(&mut s).await;
        // Zero linger turns the close into a RST.
        s.get_ref().set_zero_linger().expect("linger");
        drop(s);
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(matches!(err, SmtpError::Handshake { .. }), "{err:?}");
    assert_eq!(err.reason().as_str(), "tls_handshake_failed");
}

#[tokio::test]
async fn plaintext_injected_after_starttls_reply_is_refused() {
    let (addr, _task) = scripted(|mut s| async move {
        up_to_starttls(&mut s).await;
        // One write, so the injected reply travels with the 220.
        send(
            &mut s,
            b"220 2.0.0 go ahead\r\n250 2.0.0 injected before TLS\r\n",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;

    let (err, _) = probe_err(addr, Duration::from_secs(5)).await;

    assert!(
        matches!(&err, SmtpError::Protocol { stage: SmtpStage::Starttls, detail } if detail.contains("after the 220")),
        "{err:?}"
    );
    assert_eq!(err.reason().as_str(), "smtp_protocol_error");
    assert_eq!(err.starttls_offered(), Some(true));
}
