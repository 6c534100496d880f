//! STARTTLS sessions shared between domains whose MX hosts coincide: a hosting provider's MX host
//! serves thousands of domains, and within a TTL one address, port and SNI is probed once.
//! Concurrent askers wait for the same session instead of opening their own.
//!
//! The MX check and the key-algorithm check ask through [`SessionCache::session`] and
//! [`SessionCache::restricted`]; the scheduler's runner owns one cache for all targets, with the
//! TTL its probe interval gives. Expiry, the size bound and the coalescing are `moka`'s.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use moka::future::Cache;

use crate::core::{KeyAlgorithm, RestrictedError, SmtpError, TlsSession};

/// The outcome of one STARTTLS session and how long it took (seconds).
pub type SessionOutcome = (Result<TlsSession, SmtpError>, f64);

/// The outcome of one session restricted to a key algorithm, and how long it took.
type RestrictedOutcome = (Result<TlsSession, RestrictedError>, f64);

/// Most sessions held per kind. A session is a chain of a few KB; beyond this many distinct MX
/// addresses within one TTL the oldest are evicted and probed again when asked for.
const MAX_SESSIONS: u64 = 100_000;

/// Shared sessions by address, port and SNI.
pub struct SessionCache {
    sessions: Cache<(SocketAddr, String), SessionOutcome>,
    /// Sessions restricted to one key algorithm, kept apart because their failures carry "not
    /// offered".
    restricted: Cache<(SocketAddr, String, KeyAlgorithm), RestrictedOutcome>,
}

impl SessionCache {
    /// A cache whose sessions are reused for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            sessions: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(MAX_SESSIONS)
                .build(),
            restricted: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(MAX_SESSIONS)
                .build(),
        }
    }

    /// The session with `socket` for `sni`: a shared one, or `probe`'s.
    pub async fn session<F>(&self, socket: SocketAddr, sni: &str, probe: F) -> SessionOutcome
    where
        F: Future<Output = SessionOutcome>,
    {
        self.sessions
            .get_with((socket, sni.to_string()), probe)
            .await
    }

    /// Like [`SessionCache::session`], for a session restricted to `algorithm`.
    pub async fn restricted<F>(
        &self,
        socket: SocketAddr,
        sni: &str,
        algorithm: KeyAlgorithm,
        probe: F,
    ) -> (Result<TlsSession, RestrictedError>, f64)
    where
        F: Future<Output = (Result<TlsSession, RestrictedError>, f64)>,
    {
        self.restricted
            .get_with((socket, sni.to_string(), algorithm), probe)
            .await
    }

    /// Number of unrestricted sessions held, once expired ones are gone (for tests and metrics).
    pub async fn len(&self) -> u64 {
        self.sessions.run_pending_tasks().await;
        self.sessions.entry_count()
    }

    /// True when no unrestricted session is held.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    fn key(i: u32) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 25)
    }

    fn failed() -> SessionOutcome {
        (Err(SmtpError::StarttlsNotOffered), 0.0)
    }

    /// Concurrent askers of one endpoint get one session; live sessions stay however many MX
    /// hosts there are; expired ones are probed again and do not pile up.
    #[tokio::test]
    async fn sessions_are_shared_within_the_ttl_and_expire_after_it() {
        let probes = Arc::new(AtomicUsize::new(0));
        let probe = || {
            let probes = Arc::clone(&probes);
            async move {
                probes.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                failed()
            }
        };
        let live = SessionCache::new(Duration::from_secs(3600));
        let (a, b) = tokio::join!(
            live.session(key(1), "mx.example", probe()),
            live.session(key(1), "mx.example", probe())
        );
        assert_eq!((a.0, b.0), (failed().0, failed().0));
        assert_eq!(probes.load(Ordering::SeqCst), 1);
        let _ = live.session(key(1), "other.example", probe()).await;
        assert_eq!(
            probes.load(Ordering::SeqCst),
            2,
            "the SNI is part of the key"
        );
        for i in 0..3000 {
            let _ = live.session(key(i), "mx", async { failed() }).await;
        }
        assert_eq!(live.len().await, 3002);

        let expiring = SessionCache::new(Duration::from_millis(50));
        for i in 0..100 {
            let _ = expiring.session(key(i), "mx", async { failed() }).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(expiring.len().await, 0);
        probes.store(0, Ordering::SeqCst);
        let _ = expiring.session(key(1), "mx", probe()).await;
        assert_eq!(
            probes.load(Ordering::SeqCst),
            1,
            "an expired session is probed again"
        );
    }
}
