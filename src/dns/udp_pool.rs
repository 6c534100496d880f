//! Reused, connected UDP sockets to one configured resolver, for `trust_resolver.rs`.
//!
//! Why: a fresh socket per query costs socket, bind, connect, an epoll registration and its
//! removal, and close on top of the send and the receive; with 4 lookups per DANE check that
//! was a third of the check's system calls (docs/performance.md). A
//! lookup here takes an idle socket (or opens one), does its one exchange on it alone, and
//! gives it back. With one query outstanding per socket the answer needs no dispatcher task:
//! the lookup that sent the query reads the socket itself.
//!
//! What a fresh socket bought, and how it is kept:
//! - *Unpredictable source port* (RFC 5452 9.2), against off-path spoofing. Trusting AD at all
//!   already requires a trusted path to the resolver (RFC 7672 2.1.1: loopback or equivalent),
//!   which leaves no off-path attacker; still, a socket is retired after [`Limits::max_queries`]
//!   queries and [`Limits::max_age`], so the port keeps changing, and the query id stays random
//!   per query. Queries to remote authoritative servers (`authoritative.rs`), whose paths nobody
//!   vouches for, keep a fresh socket each (`exchange::udp_exchange`).
//! - *No late answers.* A socket comes back to the pool only after an exchange that ended with
//!   the answer to its query, and not truncated (the TCP retry follows, and the rule stays
//!   "back only when complete"). A socket whose exchange timed out, failed, or was dropped
//!   with the lookup is closed, so a late answer to it cannot be read by the next lookup.
//! - *No stray datagrams taken for answers.* Anything queued on a pooled socket (a duplicate
//!   answer, a spoof from the resolver's address) is read before the new answer and skipped:
//!   only a datagram with the query's random id and its question is an answer
//!   (`exchange::answers_request`), and the read goes on until the deadline.
//! - *No stale socket errors.* A socket only returns when no query of ours is outstanding on it,
//!   so no ICMP error should be pending; if one is anyway, or the socket is unusable for
//!   another reason, the lookup retries once on a fresh socket instead of failing over.
//!
//! The idle sockets sit in a `std::sync::Mutex` locked only to pop or push (never across an
//! await); sockets to close are dropped after the lock is released.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::exchange::{connected_udp, encode, udp_send_receive, AttemptError};

/// When pooled sockets are retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Limits {
    /// Idle sockets kept at most; a socket given back beyond that is closed.
    pub(super) max_idle: usize,
    /// Queries one socket carries before it is closed.
    pub(super) max_queries: u32,
    /// Time from opening after which a socket is closed (when given back or found idle).
    pub(super) max_age: Duration,
}

impl Limits {
    /// Fixed, not configurable: nothing an operator knows makes other values better.
    /// - 64 queries and 10 s: the port changes at least every 10 s and every 64 queries (a
    ///   busy exporter does hundreds per second), while the cost of a new socket is spread
    ///   over up to 64 queries.
    /// - 128 idle: the pool never holds more sockets than were in flight at once to that server,
    ///   so this only bounds what a burst leaves open: twice the default `concurrency` of 64
    ///   probes (a probe asks A and AAAA at once), an eighth of the usual soft limit of 1,024
    ///   open files. Beyond it sockets are closed after use, as before the pool.
    pub(super) const DEFAULT: Self = Self {
        max_idle: 128,
        max_queries: 64,
        max_age: Duration::from_secs(10),
    };

    /// Whether `lease` has had its queries or its time.
    fn spent<S>(&self, lease: &Lease<S>, now: Instant) -> bool {
        lease.queries >= self.max_queries
            || now.saturating_duration_since(lease.opened) >= self.max_age
    }
}

/// A socket with what its retirement depends on.
struct Lease<S> {
    socket: S,
    /// When it was opened.
    opened: Instant,
    /// Queries sent on it so far.
    queries: u32,
}

impl<S> Lease<S> {
    fn new(socket: S, opened: Instant) -> Self {
        Self {
            socket,
            opened,
            queries: 0,
        }
    }
}

/// The idle sockets, most recently given back last. Pure bookkeeping (generic so that tests can
/// drive it with plain values and chosen instants).
struct Idle<S> {
    limits: Limits,
    sockets: VecDeque<Lease<S>>,
}

/// What [`Idle::take`] found: a socket to use, if any, and spent ones to close.
struct Taken<S> {
    lease: Option<Lease<S>>,
    spent: Vec<Lease<S>>,
}

impl<S> Idle<S> {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            sockets: VecDeque::new(),
        }
    }

    /// The most recently given back socket that is not spent. Taking from the back keeps the
    /// few sockets a light load needs in use; the front holds the sockets idle longest, which
    /// are swept out here once old: a socket idle for `max_age` is older than that, and so is
    /// every one before it, so no socket outlives `max_age` idle by more than one lookup.
    fn take(&mut self, now: Instant) -> Taken<S> {
        let mut spent = Vec::new();
        while self
            .sockets
            .front()
            .is_some_and(|lease| self.limits.spent(lease, now))
        {
            spent.extend(self.sockets.pop_front());
        }
        while let Some(lease) = self.sockets.pop_back() {
            if self.limits.spent(&lease, now) {
                spent.push(lease);
            } else {
                return Taken {
                    lease: Some(lease),
                    spent,
                };
            }
        }
        Taken { lease: None, spent }
    }

    /// Keeps `lease` for the next lookup, or hands it back to be closed when it is spent or the
    /// pool is full.
    fn give_back(&mut self, lease: Lease<S>, now: Instant) -> Option<Lease<S>> {
        if self.limits.spent(&lease, now) || self.sockets.len() >= self.limits.max_idle {
            return Some(lease);
        }
        self.sockets.push_back(lease);
        None
    }
}

/// The pooled sockets to one nameserver.
pub(super) struct UdpPool {
    server: SocketAddr,
    idle: Mutex<Idle<UdpSocket>>,
}

impl UdpPool {
    pub(super) fn new(server: SocketAddr, limits: Limits) -> Self {
        Self {
            server,
            idle: Mutex::new(Idle::new(limits)),
        }
    }

    pub(super) fn server(&self) -> SocketAddr {
        self.server
    }

    /// The idle sockets. The data behind the lock is consistent after every statement, so a
    /// panic elsewhere while it was held (poisoning) does not make it unusable.
    fn idle(&self) -> MutexGuard<'_, Idle<UdpSocket>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` to the server and waits for its answer until `deadline`, on a pooled
    /// socket when one is idle. The socket goes back to the pool only with a complete answer.
    pub(super) async fn exchange(
        &self,
        request: &Message,
        deadline: Instant,
    ) -> Result<Message, AttemptError> {
        let wire = encode(request)?;
        let taken = self.idle().take(Instant::now());
        // Closed outside the lock: dropping a socket is two system calls.
        drop(taken.spent);
        if let Some(mut lease) = taken.lease {
            lease.queries = lease.queries.saturating_add(1);
            match udp_send_receive(&lease.socket, self.server, &wire, request, deadline).await {
                Ok(response) => {
                    self.finish(lease, &response);
                    return Ok(response);
                }
                // Could be the socket rather than the server (an error left pending on it):
                // one more go on a fresh socket, within the same deadline, before the caller
                // gives up on this server.
                Err(AttemptError::Network(_)) => drop(lease),
                Err(e) => return Err(e),
            }
        }
        let socket = connected_udp(self.server, deadline).await?;
        let mut lease = Lease::new(socket, Instant::now());
        lease.queries = 1;
        let response =
            udp_send_receive(&lease.socket, self.server, &wire, request, deadline).await?;
        self.finish(lease, &response);
        Ok(response)
    }

    /// After an exchange that got its answer: the socket is given back unless the answer was
    /// truncated (the TCP retry follows; keeping such a socket buys nothing on that rare path).
    fn finish(&self, lease: Lease<UdpSocket>, response: &Message) {
        if response.metadata.truncation {
            return;
        }
        let retired = self.idle().give_back(lease, Instant::now());
        // Closed here, after the guard above is gone.
        drop(retired);
    }

    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.idle().sockets.len()
    }
}

#[cfg(test)]
#[path = "udp_pool_tests.rs"]
mod tests;
