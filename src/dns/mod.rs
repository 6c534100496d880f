//! DNS lookups with their DNSSEC status: the facts RFC 7672 section 2 decides on.
//!
//! The checks (`crate::checks`) ask this module for the MX, TLSA, A and AAAA RRsets of a domain and
//! its hosts. Each lookup comes back as an [`Answer`]: records (or a denial of existence) together
//! with whether DNSSEC made them *secure*, or a typed [`LookupError`] when nothing trustworthy could
//! be learned. Two ways of knowing, chosen by [`DnssecMode`]:
//!
//! - [`DnssecMode::TrustResolver`] (`trust_resolver.rs`): like Postfix, ask a validating resolver
//!   with the DO bit and trust its AD bit; SERVFAIL is a failure whose cause comes from the
//!   Extended DNS Error option (`crate::core::ede`) when the resolver sends one. Its UDP sockets to the
//!   resolver are pooled and reused (`udp_pool.rs`).
//! - [`DnssecMode::Validate`] (`validate.rs`): hickory validates every RRset itself against trust
//!   anchors (the IANA root KSK, or a file of DNSKEY records).
//!
//! `cache.rs` is the exporter's own cache of answers by name and type, which the scheduler's
//! probes share (a provider's MX host is asked once per TTL, not once per hosted domain).
//! `exchange.rs` holds the one UDP/TCP query-and-answer both backends and the authoritative
//! questions (`authoritative.rs`) use; `host.rs` the lookups a DANE client makes for one host
//! (addresses, then TLSA, RFC 7672 2.2.2); `settings.rs` and `client.rs` the setup and the typed
//! lookups.
//!
//! `health.rs` keeps the health of every resolver asked (what each query showed, and a canary
//! asked at start, every interval and on suspicion, `canary.rs`), so that a resolver that does not
//! validate or does not answer is the exporter's problem and never read as the domain's.
//!
//! Both collect the earliest RRSIG expiration of what they return, so that a zone that stops being
//! re-signed is seen days before it turns bogus. Names are handled as lower-case text without the
//! trailing dot (`mx.example.com`); the backends add the dot on the wire.

mod answer;
pub mod authoritative;
mod cache;
mod canary;
mod client;
mod exchange;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod health;
mod host;
mod nameservers;
mod settings;
mod trust_resolver;
mod udp_pool;
mod validate;

pub use cache::{cache_hits, CacheLimits};
pub use client::{resolver_addresses, DnsClient};
pub use health::{
    Blindness, CanarySettings, Resolvers, ServerReport, ServerSight, Sight, QUERY_RESULTS,
};
pub use host::{lookup_host, HostAddress, HostLookups, TlsaDecision};
pub use settings::{DnsSettings, DnsSetupError, DnssecMode};
