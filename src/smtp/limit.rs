//! A cap on the SMTP connections open at once to one server address, across every probe that
//! shares a [`HostLimits`]: a provider's MX host serving thousands of listed domains sees a few
//! connections from the exporter, not as many as the scheduler runs probes, and a slow or dead
//! one holds no more than the cap of them.
//!
//! The MX check and the key-algorithm check take a [`HostPermit`] before they connect and hold it
//! until the session is over; the scheduler's runner owns one `HostLimits` for all targets, the
//! `/probe` runner another. The key is the address and port connected to (the port is 25 in
//! production), the unit a server's own connection limits count: many MX names of one provider
//! often share addresses. The map holds an entry only while a connection to that address is open
//! or waited for, so it is bounded by the probes in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections open at once to one address unless configured otherwise. A sender such as
/// Postfix starts at 5 per destination (`initial_destination_concurrency`); a monitor needs fewer.
pub const DEFAULT_HOST_CONCURRENCY: usize = 4;

/// Above this many entries, entries nobody holds (their waiter gave up) are swept away.
const SWEEP_ABOVE: usize = 4096;

/// The per-address caps shared by a set of probes.
pub struct HostLimits {
    cap: usize,
    hosts: Mutex<HashMap<SocketAddr, Arc<Semaphore>>>,
}

/// Leave to hold a connection to one address; given back when dropped.
pub struct HostPermit<'a> {
    limits: &'a HostLimits,
    address: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
}

impl HostLimits {
    /// At most `cap` connections (at least 1) at once to any one address.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Semaphore>>> {
        // Nothing panics while holding the lock; if it ever did, the map is still whole.
        self.hosts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until fewer than the cap of connections to `address` are open, and takes one.
    pub async fn acquire(&self, address: SocketAddr) -> HostPermit<'_> {
        let semaphore = {
            let mut hosts = self.lock();
            if hosts.len() > SWEEP_ABOVE {
                hosts.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
            }
            Arc::clone(
                hosts
                    .entry(address)
                    .or_insert_with(|| Arc::new(Semaphore::new(self.cap))),
            )
        };
        // The semaphore is never closed, so this only fails if that changes; a permit-less
        // connection is then better than none.
        let permit = semaphore.acquire_owned().await.ok();
        HostPermit {
            limits: self,
            address,
            permit,
        }
    }

    /// Addresses with a connection open or waited for (for tests: the map stays bounded).
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }
}

impl Default for HostLimits {
    fn default() -> Self {
        Self::new(DEFAULT_HOST_CONCURRENCY)
    }
}

impl Drop for HostPermit<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut hosts = self.limits.lock();
        // Only the map holds it: no connection open, nobody waiting.
        if hosts
            .get(&self.address)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
        {
            hosts.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Many tasks on one address never hold more than the cap at once; another address is not
    /// held up by them; the map is empty once they are done.
    #[tokio::test]
    async fn at_most_cap_per_address() {
        let limits = Arc::new(HostLimits::new(3));
        let open = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let busy: SocketAddr = "192.0.2.1:25".parse().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (limits, open, most) = (Arc::clone(&limits), Arc::clone(&open), Arc::clone(&most));
            tasks.spawn(async move {
                let _permit = limits.acquire(busy).await;
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let other = tokio::time::timeout(
            Duration::from_millis(5),
            limits.acquire("192.0.2.2:25".parse().unwrap()),
        )
        .await;
        assert!(other.is_ok(), "another address waits for nobody");
        drop(other);
        while tasks.join_next().await.is_some() {}
        assert_eq!(most.load(Ordering::SeqCst), 3);
        assert_eq!(limits.tracked(), 0);
    }
}
