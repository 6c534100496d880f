//! `trust-resolver` mode: ask a validating resolver and trust its AD bit, as Postfix does.
//!
//! Queries go to the configured nameservers (or those of `/etc/resolv.conf`, see
//! `nameservers.rs`) with RD=1, AD=1 and the EDNS DO bit, over UDP with a TCP retry when the
//! answer is truncated. hickory-proto builds and parses the messages; the sockets are plain tokio
//! ones so that every read is bounded and every await sits under the lookup's deadline. The
//! response becomes a [`Response`] (via `answer.rs`) whose status is `Secure` exactly when the
//! resolver set AD, or a [`LookupError`] carrying the resolver's Extended DNS Error (`ede.rs`).
//!
//! Trusting AD is only sound when the path to the resolver is trusted (loopback, RFC 7672 2.1.1);
//! that is the operator's choice of nameserver, not something this module can check.
//!
//! UDP queries to the configured resolvers reuse connected sockets from a small pool per
//! nameserver (`udp_pool.rs`): a fresh socket per query cost 8 system calls of the 78 a check made
//! (socket, bind, connect, epoll registration and removal, close), 4 lookups a check. Reuse gives
//! up some source-port randomness (RFC 5452), which only defends against off-path spoofing; the
//! trusted path that trusting AD already requires leaves no off-path attacker to defend against,
//! and the pool still moves to a new port every 64 queries and 10 seconds, and keeps a random id
//! per query. [`udp_exchange`], a fresh socket per query, stays for `authoritative.rs`, which asks
//! remote authoritative servers over untrusted paths.
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType as WireType};
use tokio::time::Instant;

use super::answer::{self, Denial};
use super::exchange::{build_query, extended_error, tcp_exchange, AttemptError};
use super::health::{Observed, Resolvers};
use super::settings::{DnsSettings, DnsSetupError};
use super::udp_pool::{Limits, UdpPool};
use super::{guard, nameservers};
use crate::core::{DnssecStatus, LookupError, RecordType, Response};

/// UDP tries per nameserver: the first and one retry.
const UDP_TRIES: u32 = 2;

/// The AD-trusting backend. Cheap to clone into a lookup task.
#[derive(Clone)]
pub(super) struct AdResolver {
    inner: Arc<Inner>,
}

struct Inner {
    /// One pool of connected UDP sockets per nameserver, in the order they are asked.
    pools: Vec<UdpPool>,
    timeout: Duration,
    /// Where every try is recorded (`health.rs`): answers, failures, unvalidated signatures.
    resolvers: Arc<Resolvers>,
}

impl AdResolver {
    pub(super) fn new(
        settings: &DnsSettings,
        resolvers: Arc<Resolvers>,
    ) -> Result<Self, DnsSetupError> {
        let nameservers = nameservers::nameservers(settings)?;
        if settings.timeout.is_zero() {
            return Err(DnsSetupError::Resolver(
                "lookup timeout must not be zero".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                pools: nameservers
                    .into_iter()
                    .map(|server| UdpPool::new(server, Limits::DEFAULT))
                    .collect(),
                timeout: settings.timeout,
                resolvers,
            }),
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
        let inner = Arc::clone(&self.inner);
        // The inner code keeps to the deadline itself; the guard's extra margin only catches a
        // bug there, and turns a panic on hostile data into a failed lookup.
        let hard_limit = inner.timeout + Duration::from_millis(250);
        guarded_resolve(inner, qname, rtype, convert, hard_limit).await
    }
}

async fn guarded_resolve<T: Send + 'static>(
    inner: Arc<Inner>,
    qname: Name,
    rtype: RecordType,
    convert: fn(&RData) -> Option<T>,
    hard_limit: Duration,
) -> Result<Response<T>, LookupError> {
    let on_panic = |detail| LookupError::Indeterminate { detail };
    guard::guarded(hard_limit, on_panic, async move {
        let message = inner.exchange(&qname, answer::wire_type(rtype)).await?;
        interpret(&message, &qname, answer::wire_type(rtype), convert)
    })
    .await
}

impl Inner {
    fn millis(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks the nameservers in order until one answers. The overall timeout is split evenly over
    /// all tries so that a dead first server still leaves time for the others. A server that
    /// answers REFUSED is one that will not serve us: the next one is asked, and the refusal is
    /// the answer only when every server refused or failed. Every try is recorded in the
    /// resolvers' health (`health.rs`).
    async fn exchange(&self, qname: &Name, qtype: WireType) -> Result<Message, LookupError> {
        let deadline = Instant::now() + self.timeout;
        let tries = u32::try_from(self.pools.len())
            .unwrap_or(u32::MAX)
            .saturating_mul(UDP_TRIES)
            .max(1);
        let per_try = self.timeout / tries;
        let mut last_error = AttemptError::Timeout;
        let mut refused = None;

        for pool in &self.pools {
            let server = pool.server();
            for _ in 0..UDP_TRIES {
                if Instant::now() >= deadline {
                    break;
                }
                let try_deadline = (Instant::now() + per_try).min(deadline);
                let request = build_query(qname, qtype);
                let sent = std::time::Instant::now();
                // A try that times out leaves its socket closed (see `udp_pool.rs`): the retry
                // goes out from another port, where a late answer to this one cannot land.
                let (result, over_tcp) = match pool.exchange(&request, try_deadline).await {
                    // TCP gets whatever time is left: the answer exists, it is only big.
                    Ok(response) if response.metadata.truncation => {
                        (tcp_exchange(server, &request, deadline).await, true)
                    }
                    other => (other, false),
                };
                let observed = match &result {
                    Ok(response) => Observed::Response(response),
                    Err(error) => Observed::Failed(error),
                };
                self.resolvers.observe(server, sent, observed);
                match result {
                    Ok(response) if response.metadata.response_code == ResponseCode::Refused => {
                        refused = Some(response);
                        break;
                    }
                    Ok(response) => return Ok(response),
                    // TCP had all the time left: nothing more to try at this server.
                    Err(e) if over_tcp => {
                        last_error = e;
                        break;
                    }
                    Err(AttemptError::Timeout) => last_error = AttemptError::Timeout,
                    // A network error will not heal within a second; move to the next server.
                    Err(e) => {
                        last_error = e;
                        break;
                    }
                }
            }
        }
        if let Some(response) = refused {
            return Ok(response);
        }
        Err(match last_error {
            AttemptError::Timeout => LookupError::Timeout {
                millis: self.millis(),
            },
            AttemptError::Network(detail) => LookupError::Network { detail },
            AttemptError::Malformed(detail) => LookupError::Malformed { detail },
        })
    }
}

/// Turns a response into the lookup's outcome; the AD bit alone decides the status.
fn interpret<T>(
    message: &Message,
    qname: &Name,
    qtype: WireType,
    convert: fn(&RData) -> Option<T>,
) -> Result<Response<T>, LookupError> {
    let denial = match message.metadata.response_code {
        ResponseCode::NoError => Denial::NoData,
        ResponseCode::NXDomain => Denial::NxDomain,
        ResponseCode::ServFail => {
            return Err(LookupError::ServFail {
                ede: extended_error(message),
            })
        }
        ResponseCode::Refused => {
            return Err(LookupError::Refused {
                ede: extended_error(message),
            })
        }
        other => {
            return Err(LookupError::Rcode {
                rcode: other.to_string(),
            })
        }
    };
    let status = if message.metadata.authentic_data {
        DnssecStatus::Secure
    } else {
        DnssecStatus::Insecure
    };
    let assembled = answer::assemble(
        qname,
        qtype,
        &message.answers,
        &message.authorities,
        denial,
        convert,
    )?;
    Ok(assembled.into_response(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ede::{ExtendedDnsError, EDE_OPTION_CODE};
    use crate::core::RecordSet;
    use crate::dns::exchange::answers_request;
    use crate::dns::exchange::EDNS_PAYLOAD;
    use hickory_proto::op::OpCode;
    use hickory_proto::op::{Edns, Query};
    use hickory_proto::rr::rdata::opt::EdnsCode;
    use hickory_proto::rr::rdata::opt::EdnsOption;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::Record;

    fn response_to(request: &Message, rcode: ResponseCode) -> Message {
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.response_code = rcode;
        response.add_queries(request.queries.clone());
        response
    }

    fn qname() -> Name {
        answer::query_name("mx.example.test").unwrap()
    }

    #[test]
    fn query_asks_for_dnssec() {
        let q = build_query(&qname(), WireType::TLSA);
        assert!(q.metadata.recursion_desired);
        assert!(q.metadata.authentic_data);
        let edns = q.edns.as_ref().unwrap();
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), EDNS_PAYLOAD);
    }

    #[test]
    fn servfail_carries_ede() {
        let request = build_query(&qname(), WireType::A);
        let mut response = response_to(&request, ResponseCode::ServFail);
        let mut edns = Edns::new();
        edns.options_mut().insert(EdnsOption::Unknown(
            EDE_OPTION_CODE,
            b"\x00\x07expired".to_vec(),
        ));
        response.set_edns(edns);
        // Through the wire and back, as hickory decodes it.
        let decoded = Message::from_vec(&response.to_vec().unwrap()).unwrap();
        assert!(decoded
            .edns
            .as_ref()
            .unwrap()
            .option(EdnsCode::Unknown(EDE_OPTION_CODE))
            .is_some());
        let err = interpret(&decoded, &qname(), WireType::A, answer::ip_address).unwrap_err();
        assert_eq!(
            err,
            LookupError::ServFail {
                ede: Some(ExtendedDnsError {
                    code: 7,
                    text: Some("expired".into())
                })
            }
        );
    }

    #[test]
    fn rcodes_map_to_outcomes() {
        let request = build_query(&qname(), WireType::A);
        let outcome = |rcode| {
            let response = response_to(&request, rcode);
            interpret(&response, &qname(), WireType::A, answer::ip_address)
        };
        assert_eq!(
            outcome(ResponseCode::NXDomain).unwrap().set,
            RecordSet::NxDomain
        );
        assert_eq!(
            outcome(ResponseCode::NoError).unwrap().set,
            RecordSet::NoData
        );
        assert_eq!(
            outcome(ResponseCode::Refused),
            Err(LookupError::Refused { ede: None })
        );
        assert!(matches!(
            outcome(ResponseCode::FormErr),
            Err(LookupError::Rcode { .. })
        ));
    }

    #[test]
    fn ad_bit_decides_status() {
        let request = build_query(&qname(), WireType::A);
        let mut response = response_to(&request, ResponseCode::NoError);
        response.add_answer(Record::from_rdata(
            qname(),
            60,
            RData::A(A::new(127, 0, 0, 1)),
        ));
        let insecure = interpret(&response, &qname(), WireType::A, answer::ip_address).unwrap();
        assert_eq!(insecure.status, DnssecStatus::Insecure);
        response.metadata.authentic_data = true;
        let secure = interpret(&response, &qname(), WireType::A, answer::ip_address).unwrap();
        assert_eq!(secure.status, DnssecStatus::Secure);
        assert_eq!(secure.ttl, Some(60));
    }

    #[test]
    fn mismatched_responses_are_ignored() {
        let request = build_query(&qname(), WireType::A);
        let mut other_id = response_to(&request, ResponseCode::NoError);
        other_id.metadata.id = request.metadata.id.wrapping_add(1);
        assert!(!answers_request(&request, &other_id));
        let mut other_question = Message::response(request.metadata.id, OpCode::Query);
        other_question.add_query(Query::query(qname(), WireType::MX));
        assert!(!answers_request(&request, &other_question));
        assert!(answers_request(
            &request,
            &response_to(&request, ResponseCode::NoError)
        ));
    }
}
