//! Basic auth for every route, against the bcrypt hashes of the web config's `basic_auth_users`.
//!
//! bcrypt is slow on purpose (tens to hundreds of milliseconds), and Prometheus sends the same
//! credentials on every scrape, so a successful check is cached under a SHA-256 of user and
//! password (never the password itself), as exporter-toolkit does. The cache is bounded: when full
//! it is emptied, which only costs one bcrypt run per active user. Checks run on the blocking pool,
//! at most [`MAX_PARALLEL_BCRYPT`] at a time, so that a flood of wrong passwords costs bounded CPU
//! and never stalls the async workers.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hyper::header::HeaderValue;
use tokio::sync::Semaphore;

/// How many distinct successful (user, password) pairs are remembered.
const CACHE_SIZE: usize = 256;
/// Concurrent bcrypt checks (the machine has few cores; more would only queue in the OS).
const MAX_PARALLEL_BCRYPT: usize = 2;
/// Longest `Authorization` value looked at; real credentials are far shorter.
const MAX_HEADER_LEN: usize = 4096;

type CacheKey = [u8; 32];

/// The configured users and the cache of successful checks.
pub(crate) struct BasicAuth {
    users: BTreeMap<String, String>,
    cache: Mutex<HashSet<CacheKey>>,
    bcrypt_slots: Semaphore,
}

impl BasicAuth {
    /// `None` when no users are configured: authentication is off.
    pub(crate) fn new(users: &BTreeMap<String, String>) -> Option<Arc<BasicAuth>> {
        if users.is_empty() {
            return None;
        }
        Some(Arc::new(BasicAuth {
            users: users.clone(),
            cache: Mutex::new(HashSet::new()),
            bcrypt_slots: Semaphore::new(MAX_PARALLEL_BCRYPT),
        }))
    }

    /// Whether the `Authorization` header carries valid credentials.
    pub(crate) async fn check(self: &Arc<Self>, header: Option<&HeaderValue>) -> bool {
        let Some((user, password)) = header.and_then(parse_basic) else {
            return false;
        };
        let key = cache_key(&user, &password);
        if self.cache.lock().is_ok_and(|c| c.contains(&key)) {
            return true;
        }
        // An unknown user still costs one bcrypt run (against some configured hash) so that the
        // response time does not tell which user names exist.
        let known = self.users.get(&user);
        let Some(hash) = known.or_else(|| self.users.values().next()).cloned() else {
            return false;
        };
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        let verified = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let ok = verified && known.is_some();
        if ok {
            if let Ok(mut cache) = self.cache.lock() {
                if cache.len() >= CACHE_SIZE {
                    cache.clear();
                }
                cache.insert(key);
            }
        }
        ok
    }
}

/// Length-prefixed user, then password: no two pairs share an input.
fn cache_key(user: &str, password: &str) -> CacheKey {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&(user.len() as u64).to_be_bytes());
    ctx.update(user.as_bytes());
    ctx.update(password.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

/// `Basic BASE64(user:password)` -> (user, password); `None` for anything malformed.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let bytes = value.as_bytes();
    if bytes.len() > MAX_HEADER_LEN {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_credentials() {
        let v = HeaderValue::from_static("Basic YWxpY2U6czNjcjp0");
        assert_eq!(
            parse_basic(&v),
            Some(("alice".to_string(), "s3cr:t".to_string()))
        );
        for bad in [
            "Bearer YWxpY2U6eA==",
            "Basic !!!",
            "Basic YWxpY2U=",
            "Basic",
        ] {
            assert_eq!(parse_basic(&HeaderValue::from_static(bad)), None, "{bad}");
        }
    }

    #[test]
    fn cache_keys_do_not_collide_on_split() {
        assert_ne!(cache_key("ab", "c"), cache_key("a", "bc"));
    }

    #[tokio::test]
    async fn checks_and_caches() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let users = BTreeMap::from([("alice".to_string(), hash)]);
        let auth = BasicAuth::new(&users).unwrap();
        let header = |u: &str, p: &str| {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            HeaderValue::from_str(&format!("Basic {enc}")).unwrap()
        };
        assert!(auth.check(Some(&header("alice", "pw"))).await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
        assert!(auth.check(Some(&header("alice", "pw"))).await);
        assert!(!auth.check(Some(&header("alice", "nope"))).await);
        assert!(!auth.check(Some(&header("bob", "pw"))).await);
        assert!(!auth.check(None).await);
        assert_eq!(auth.cache.lock().unwrap().len(), 1);
    }
}
