//! `validate` mode: hickory-resolver validates every RRset here, against our trust anchors.
//!
//! Queries go to the configured nameservers (or those of `/etc/resolv.conf`) through
//! hickory-resolver with DNSSEC validation on. Trust anchors are the IANA root KSKs built into
//! hickory, or the DNSKEY lines of [`DnsSettings::trust_anchor_file`] (a private root in tests and
//! lab setups). hickory marks each record with a proof; `validate/interpret.rs` reduces the
//! proofs of the records an answer is built from to one [`DnssecStatus`] (the weakest wins) and
//! turns denials and errors into [`RecordSet`] kinds and [`LookupError`]s. Record extraction is
//! shared with the other backend (`answer.rs`).
//!
//! hickory's validator runs on hostile data and has asserted on some of it, so each lookup runs
//! as its own task (`guard.rs`): a panic there is an `Indeterminate` lookup, not a dead exporter.
//!
//! Caching: hickory's response cache stays on, bounded, and honours TTLs. The exporter re-probes
//! every few minutes; an answer cached within its TTL is exactly what a real MTA sees, and the
//! cached DNSKEY/DS RRsets spare the nameserver a full chain walk on every probe.
//!
//! # Where hickory's verdict is not unbound's
//!
//! The reference is unbound 1.17 as Postfix sees it (trust-resolver mode). hickory-net 0.26.3
//! differs on shapes found in the wild, and this module corrects it without patching hickory:
//!
//! - *Denial records beside a positive answer.* hickory checks every secure NSEC/NSEC3 of the
//!   authority section against the query name, so an answer synthesised from a wildcard with NSEC
//!   (`*.example` answering `x.example`: the NSEC owner is the wildcard itself, which hickory
//!   wants "covered") and any answer that comes with a stray denial record (unbound's CNAME answers
//!   under qname minimisation, hickory-server's NSEC3 answers) come back bogus. The RRsets
//!   themselves validate; what is missing is the right reading of the authority section. So on a
//!   bogus answer the same question is asked once more through a [`DnssecDnsHandle`] of our own
//!   (same servers, anchors and limits, no response cache), which hands back the response with
//!   hickory's per-RRset proofs instead of the bare `DnssecBogus` the resolver's cache layer makes
//!   of it, and `validate/proofs.rs` judges it as unbound does (RFC 4035 5.3.4: only a wildcard
//!   expansion needs a denial, of its next closer name). hickory still verifies every signature;
//!   a failed one stays bogus. A CNAME chain split over several responses is then validated one
//!   link at a time ([`validate_links`]).
//! - *NSEC3 opt-out.* An NXDOMAIN, wildcard NODATA or wildcard answer whose next closer name lies
//!   in an opt-out span is insecure for unbound (RFC 5155 9.2) and secure for hickory: the records
//!   hickory hands over are enough to see it, and the status is lowered to insecure.
//! - *NSEC3 iterations.* hickory's limits (insecure above 100, bogus above 500) become unbound's
//!   (insecure above 150, never bogus for the count alone: RFC 9276 3.2).
//! - *Algorithms hickory cannot verify.* A zone whose DS RRset names only such algorithms is
//!   insecure (RFC 4035 5.2); hickory does that already, also for unassigned numbers. Ed448 (16)
//!   is one of them with the ring backend: such zones are insecure here, while unbound (OpenSSL)
//!   validates them secure. No Ed448 verifier is wired in: it would take a validation path of our
//!   own for whole zones (DNSKEY against DS, every RRSIG), not a second opinion.
//!
//! Each correction starts from hickory's own proofs, so it can only make a verdict more exact: a
//! second opinion asks at most once per name and link (bounded by the CNAME chain limit), and the
//! proof code is bounded by one message and one name's labels (`validate/proofs.rs`).
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_net::dnssec::DnssecDnsHandle;
use hickory_net::xfer::{DnsHandle, FirstAnswer, RetryDnsHandle};
use hickory_proto::dnssec::TrustAnchors;
use hickory_proto::op::{DnsRequestOptions, Query};
use hickory_proto::rr::{LowerName, Name, RData, RecordType as WireType};
use hickory_proto::serialize::txt::trust_anchor::{Entry, Parser as AnchorParser};
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig, TokioResolver};

use super::answer::{self, Denial};
use super::settings::{DnsSettings, DnsSetupError};
use super::{guard, nameservers};
use crate::core::{DnssecStatus, LookupError, RecordSet, RecordType, Response};

mod interpret;
mod proofs;

use interpret::{interpret, status_of};

/// Entries of hickory's response cache. A probe touches a handful of names per domain, plus the
/// DNSKEY/DS RRsets of their zones; this holds hundreds of domains without growing unbounded.
const CACHE_ENTRIES: u64 = 4096;

/// hickory's validator without the resolver's cache around it: what a second opinion asks.
type RawHandle = DnssecDnsHandle<RetryDnsHandle<NameServerPool<TokioRuntimeProvider>>>;

/// The validating backend. Cheap to clone into a lookup task.
#[derive(Clone)]
pub(super) struct Validator {
    // Boxed behind an Arc: the resolver is large and each lookup task holds a handle.
    resolver: Arc<TokioResolver>,
    /// Same servers, anchors and limits as `resolver`; answers with per-RRset proofs.
    raw: Arc<RawHandle>,
    timeout: Duration,
}

impl Validator {
    pub(super) fn new(settings: &DnsSettings) -> Result<Self, DnsSetupError> {
        if settings.timeout.is_zero() {
            return Err(DnsSetupError::Resolver(
                "lookup timeout must not be zero".into(),
            ));
        }
        let anchors = Arc::new(match &settings.trust_anchor_file {
            Some(path) => load_trust_anchors(path)?,
            None => TrustAnchors::default(),
        });
        let servers: Vec<NameServerConfig> = nameservers::nameservers(settings)?
            .into_iter()
            .map(name_server)
            .collect();
        let mut options = ResolverOpts::default();
        // One validated lookup is several queries (answer, DNSKEYs, DSes); each gets half the
        // budget so a lost datagram is retried once. The guard enforces the overall timeout.
        options.timeout = settings.timeout / 2;
        options.attempts = 2;
        options.cache_size = CACHE_ENTRIES;
        // /etc/hosts must not answer for a mail host: it has no DNSSEC status.
        options.use_hosts_file = ResolveHosts::Never;
        options.preserve_intermediates = true;
        options.edns0 = true;
        options.validate = true;
        // unbound 1.17: NSEC3 proofs above 150 iterations are insecure, whatever the count.
        let limits = (Some(proofs::NSEC3_ITERATION_LIMIT), Some(u16::MAX));

        let resolver = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(servers.clone()),
            TokioRuntimeProvider::default(),
        )
        .with_options(options.clone())
        .with_trust_anchor(Arc::clone(&anchors))
        .nsec3_iteration_limits(limits.0, limits.1)
        .build()
        .map_err(|e| DnsSetupError::Resolver(e.to_string()))?;

        let tls = TlsConfig::new().map_err(|e| DnsSetupError::Resolver(e.to_string()))?;
        let attempts = options.attempts;
        let context = Arc::new(PoolContext::new(options, tls));
        let pool = NameServerPool::from_config(servers, context, TokioRuntimeProvider::default());
        let raw = DnssecDnsHandle::with_trust_anchor(RetryDnsHandle::new(pool, attempts), anchors)
            .nsec3_iteration_limits(limits.0, limits.1);
        Ok(Self {
            resolver: Arc::new(resolver),
            raw: Arc::new(raw),
            timeout: settings.timeout,
        })
    }

    /// One RRset of `rtype` at `qname`, each record turned into a `T` by `convert`; the typed
    /// lookups and the query name checks live on [`super::DnsClient`].
    pub(super) async fn lookup<T: Send + 'static>(
        &self,
        qname: Name,
        rtype: RecordType,
        convert: fn(&RData) -> Option<T>,
    ) -> Result<Response<T>, LookupError> {
        let this = self.clone();
        let qtype = answer::wire_type(rtype);
        let on_panic = |detail| LookupError::Indeterminate { detail };
        guard::guarded(self.timeout, on_panic, async move {
            let result = this.lookup_name(&qname, qtype, convert).await;
            if !matches!(result, Err(LookupError::Bogus { .. })) {
                return result;
            }
            match validate_links(&this, &qname, qtype, convert).await {
                Some(rescued) => rescued,
                None => result,
            }
        })
        .await
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// One question through the resolver; a bogus verdict gets the second opinion of
    /// [`Self::rejudge`].
    async fn lookup_name<T>(
        &self,
        qname: &Name,
        qtype: WireType,
        convert: fn(&RData) -> Option<T>,
    ) -> Result<Response<T>, LookupError> {
        let outcome = self.resolver.lookup(qname.clone(), qtype).await;
        let result = interpret(outcome, qname, qtype, convert, self.millis());
        if !matches!(result, Err(LookupError::Bogus { .. })) {
            return result;
        }
        self.rejudge(qname, qtype, convert).await.unwrap_or(result)
    }

    /// Second opinion on a positive answer hickory called bogus because of its denial records
    /// (see the module doc): the question again through [`RawHandle`], whose error still holds
    /// the response with hickory's proof of every RRset, judged by [`proofs::positive`].
    ///
    /// `None` when that does not give a valid positive answer: the bogus verdict stands.
    async fn rejudge<T>(
        &self,
        qname: &Name,
        qtype: WireType,
        convert: fn(&RData) -> Option<T>,
    ) -> Option<Result<Response<T>, LookupError>> {
        let mut options = DnsRequestOptions::default();
        options.use_edns = true;
        options.edns_set_dnssec_ok = true;
        let query = Query::query(qname.clone(), qtype);
        let outcome = self.raw.lookup(query, options).first_answer().await;
        let Err(NetError::Dns(DnsError::Nsec { response, .. })) = outcome else {
            return None;
        };
        let proof = proofs::positive(qname, qtype, &response.answers, &response.authorities)?;
        let assembled = answer::assemble(
            qname,
            qtype,
            &response.answers,
            &response.authorities,
            Denial::NoData,
            convert,
        )
        .ok()?;
        if !matches!(assembled.set, RecordSet::Records(_)) {
            return None;
        }
        tracing::debug!(
            name = %answer::name_text(qname),
            ?proof,
            "hickory called a positive answer bogus over its denial records; judged on its RRsets"
        );
        Some(status_of(proof).map(|status| assembled.into_response(status)))
    }
}

/// Second opinion on a bogus answer: validates a CNAME chain one link at a time.
///
/// hickory 0.26 checks every secure NSEC/NSEC3 in the authority section of a response against
/// the *query* name. When a resolver adds a denial record to a positive CNAME answer (unbound with
/// qname minimisation does, and so does hickory-server for CNAMEs to wildcards), the proof is
/// checked against the alias, where it "proves" the CNAME does not exist, and the whole answer is
/// called bogus. [`Validator::rejudge`] settles that when the whole chain is in one response; a
/// chain the resolver assembled from several is handled here: each RRset is validated on its own,
/// the CNAME RRset at the alias (query type CNAME, which no resolver chases) and then the target.
/// That is as strong as validating the combined answer, because a chain is only as good as its
/// weakest link, which is what this returns.
///
/// `None` when the query name holds no CNAME that validates: the original verdict stands.
async fn validate_links<T>(
    validator: &Validator,
    qname: &Name,
    qtype: WireType,
    convert: fn(&RData) -> Option<T>,
) -> Option<Result<Response<T>, LookupError>> {
    let mut current = qname.clone();
    let mut chain: Vec<String> = Vec::new();
    let mut statuses: Vec<DnssecStatus> = Vec::new();
    let mut expirations: Vec<i64> = Vec::new();
    let mut ttls: Vec<u32> = Vec::new();

    for _ in 0..answer::MAX_CNAME_CHAIN {
        let link = validator
            .lookup_name(&current, WireType::CNAME, cname_target)
            .await
            .ok()?;
        let target = match &link.set {
            RecordSet::Records(targets) => match targets.as_slice() {
                // RFC 2181 10.1: one CNAME per name; several is not an alias we can follow.
                [target] => target.clone(),
                _ => return None,
            },
            _ => return None,
        };
        let target_text = answer::name_text(&target);
        if target_text == answer::name_text(qname) || chain.contains(&target_text) {
            return Some(Err(LookupError::Malformed {
                detail: format!("CNAME loop at {target_text}"),
            }));
        }
        chain.push(target_text);
        statuses.push(link.status);
        expirations.extend(link.signature_expiration);
        ttls.extend(link.ttl);

        match validator.lookup_name(&target, qtype, convert).await {
            Ok(rest) => {
                tracing::warn!(
                    name = %answer::name_text(qname),
                    "hickory called a CNAME answer bogus, but each link validates on its own"
                );
                let status = if statuses.iter().all(|s| *s == DnssecStatus::Secure) {
                    rest.status
                } else {
                    DnssecStatus::Insecure
                };
                chain.extend(rest.cname_chain);
                return Some(Ok(Response {
                    set: rest.set,
                    status,
                    cname_chain: chain,
                    signature_expiration: expirations
                        .into_iter()
                        .chain(rest.signature_expiration)
                        .min(),
                    ttl: ttls.into_iter().chain(rest.ttl).min(),
                    negative_ttl: rest.negative_ttl,
                }));
            }
            // The target may be an alias hitting the same problem: walk on.
            Err(LookupError::Bogus { .. }) => current = target,
            Err(other) => return Some(Err(other)),
        }
    }
    Some(Err(LookupError::Malformed {
        detail: format!("CNAME chain longer than {}", answer::MAX_CNAME_CHAIN),
    }))
}

fn cname_target(data: &RData) -> Option<Name> {
    match data {
        RData::CNAME(target) => Some(target.0.clone()),
        _ => None,
    }
}

fn name_server(address: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = address.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = address.port();
    NameServerConfig::new(address.ip(), true, vec![udp, tcp])
}

/// Reads a trust-anchor file of DNSKEY zone-file lines. Parsed here rather than with
/// `TrustAnchors::from_file` to count the keys: a file with none would silently make every
/// answer bogus, which is a configuration error to report at start-up.
pub(super) fn load_trust_anchors(path: &Path) -> Result<TrustAnchors, DnsSetupError> {
    let problem = |detail: String| DnsSetupError::TrustAnchor {
        path: path.to_path_buf(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    let entries = AnchorParser::new(text.as_str())
        .parse()
        .map_err(|e| problem(format!("not a list of DNSKEY records: {e}")))?;
    let mut anchors = TrustAnchors::empty();
    let mut count = 0usize;
    for entry in entries {
        #[allow(unreachable_patterns)] // `Entry` is non-exhaustive: DS may come one day.
        match entry {
            Entry::DNSKEY(record) => {
                let key = record.data();
                if key.revoke() {
                    continue;
                }
                anchors.insert_with_name(key.public_key(), LowerName::from(record.name()));
                count += 1;
            }
            _ => return Err(problem("only DNSKEY records are supported".into())),
        }
    }
    if count == 0 {
        return Err(problem("holds no usable (unrevoked) DNSKEY record".into()));
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_anchor_file_problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anchors.txt");

        let missing = load_trust_anchors(&path).err().unwrap();
        assert!(missing.to_string().contains("anchors.txt"), "{missing}");

        std::fs::write(&path, "; only a comment\n").unwrap();
        let empty = load_trust_anchors(&path).err().unwrap();
        assert!(empty.to_string().contains("no usable"), "{empty}");

        std::fs::write(&path, ". 3600 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n").unwrap();
        let ds = load_trust_anchors(&path).err().unwrap();
        assert!(matches!(ds, DnsSetupError::TrustAnchor { .. }), "{ds}");
    }
}
