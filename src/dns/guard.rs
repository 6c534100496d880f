//! Runs one lookup under a hard deadline, with panics caught, so that neither a hang nor a panic
//! in the DNS code (hickory's validator has asserted on hostile NSEC3 data) can reach the probe.
//!
//! Both backends hand their lookup future here; what comes back is always a `Result` the probe can
//! report: a panic becomes the caller's chosen [`LookupError`], the deadline a
//! [`LookupError::Timeout`]. The lookup runs inside the caller's task (`catch_unwind`), not in a
//! task of its own: a spawned task per lookup woke the other worker thread four times per probe,
//! and the thread switches were a tenth of the exporter's CPU (docs/performance.md).
//! Dropping the future (deadline, or the probe itself dropped) cancels the lookup.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use crate::core::LookupError;

/// Longest panic message kept, in characters.
const MAX_PANIC_MESSAGE: usize = 200;

/// Runs `lookup`, allowing it `deadline` in total. A panic inside becomes `on_panic(message)`.
pub(super) async fn guarded<T, F>(
    deadline: Duration,
    on_panic: fn(String) -> LookupError,
    lookup: F,
) -> Result<T, LookupError>
where
    F: Future<Output = Result<T, LookupError>>,
{
    // Unwind safety: a panicking lookup's state is dropped with it; what it shares with other
    // lookups (hickory's caches) is what a panicking spawned task would have left behind too.
    match tokio::time::timeout(deadline, AssertUnwindSafe(lookup).catch_unwind()).await {
        Ok(Ok(result)) => result,
        Ok(Err(payload)) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_owned());
            // Panic messages can be long and multi-line (assert_eq! prints both sides): keep one
            // bounded line for the report and the log.
            let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            if let Some((cut, _)) = message.char_indices().nth(MAX_PANIC_MESSAGE) {
                message.truncate(cut);
            }
            tracing::error!(%message, "DNS lookup panicked; reported as a failed lookup");
            Err(on_panic(format!("internal error in DNS code: {message}")))
        }
        Err(_elapsed) => Err(LookupError::Timeout {
            millis: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bogus(detail: String) -> LookupError {
        LookupError::Bogus { detail }
    }

    #[tokio::test]
    async fn passes_results_through() {
        let got = guarded(Duration::from_secs(1), bogus, async {
            Ok::<_, LookupError>(7)
        })
        .await;
        assert_eq!(got, Ok(7));
    }

    #[tokio::test]
    async fn panic_becomes_the_chosen_error() {
        let got: Result<u8, _> = guarded(Duration::from_secs(1), bogus, async {
            panic!("assertion failed in nsec3\n  left: x\n right: x");
        })
        .await;
        assert!(
            matches!(&got, Err(LookupError::Bogus { detail })
                if detail.ends_with("assertion failed in nsec3 left: x right: x")),
            "{got:?}"
        );
    }

    #[tokio::test]
    async fn hang_becomes_timeout() {
        let started = std::time::Instant::now();
        let got: Result<u8, _> = guarded(Duration::from_millis(50), bogus, async {
            std::future::pending::<()>().await;
            Ok(1)
        })
        .await;
        assert_eq!(got, Err(LookupError::Timeout { millis: 50 }));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
