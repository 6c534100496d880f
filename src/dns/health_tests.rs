//! The resolvers' health: the state kept per nameserver, and the canary against scripted
//! resolvers on loopback (each test's own UDP socket; a closed port for "nothing listens").

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};

use super::*;
use crate::core::ede::EDE_OPTION_CODE;
use crate::dns::answer;

/// How a scripted resolver answers one query: (rcode, AD, answer records, EDE code), or silence.
type Script =
    dyn Fn(&Message) -> Option<(ResponseCode, bool, Vec<Record>, Option<u16>)> + Send + Sync;

/// A UDP resolver on 127.0.0.1 that answers as `script` says; counts the queries it got.
struct Scripted {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn scripted(script: Arc<Script>) -> Scripted {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&queries);
    let task = tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buffer).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buffer[..len]) else {
                continue;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let Some((rcode, ad, answers, ede)) = script(&query) else {
                continue;
            };
            let mut response = Message::response(query.metadata.id, OpCode::Query);
            response.metadata.response_code = rcode;
            response.metadata.authentic_data = ad;
            response.metadata.recursion_available = true;
            response.add_queries(query.queries.clone());
            for answer in answers {
                response.add_answer(answer);
            }
            if let Some(code) = ede {
                let mut edns = Edns::new();
                let mut data = code.to_be_bytes().to_vec();
                data.extend_from_slice(b"scripted");
                edns.options_mut()
                    .insert(EdnsOption::Unknown(EDE_OPTION_CODE, data));
                response.set_edns(edns);
            }
            if let Ok(wire) = response.to_vec() {
                let _ = socket.send_to(&wire, peer).await;
            }
        }
    });
    Scripted {
        addr,
        queries,
        task,
    }
}

fn soa(name: &Name) -> Record {
    Record::from_rdata(
        name.clone(),
        60,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.test.").unwrap(),
            Name::from_ascii("hostmaster.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            60,
        )),
    )
}

fn qname(query: &Message) -> String {
    query
        .queries
        .first()
        .map(|q| answer::name_text(q.name()))
        .unwrap_or_default()
}

fn qtype(query: &Message) -> Option<WireType> {
    query.queries.first().map(|q| q.query_type())
}

fn settings(bogus: Option<&str>) -> CanarySettings {
    CanarySettings {
        secure_name: ".".into(),
        bogus_name: bogus.map(String::from),
        timeout: Duration::from_millis(400),
    }
}

/// A DS record for the DS walk (the type is what counts; the data is never validated here).
fn ds(name: &Name) -> Record {
    use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
    use hickory_proto::dnssec::{Algorithm, DigestType};
    Record::from_rdata(
        name.clone(),
        60,
        RData::DNSSEC(DNSSECRData::DS(DS::new(
            1,
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            vec![0; 32],
        ))),
    )
}

#[tokio::test]
async fn a_validating_resolver_passes_both_canaries() {
    let resolver = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some(match qname(q).as_str() {
            "" => (ResponseCode::NoError, true, vec![soa(&name)], None),
            _ => (ResponseCode::ServFail, false, vec![], Some(6)),
        })
    }))
    .await;
    let outcome = canary::ask(resolver.addr, &settings(Some("bogus.test")), true).await;
    assert!(outcome.up);
    assert_eq!(outcome.validating, Some(true));
    assert_eq!(outcome.detail, None);
    assert_eq!(outcome.note, None);
    assert_eq!(outcome.results, vec!["noerror", "servfail"]);
}

#[tokio::test]
async fn a_resolver_without_ad_does_not_validate() {
    let resolver = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some((ResponseCode::NoError, false, vec![soa(&name)], None))
    }))
    .await;
    let outcome = canary::ask(resolver.addr, &settings(Some("bogus.test")), true).await;
    assert!(outcome.up);
    assert_eq!(outcome.validating, Some(false));
    assert!(
        outcome
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("without the AD bit"),
        "{outcome:?}"
    );
    // In validate mode the same server is only asked whether it answers.
    let outcome = canary::ask(resolver.addr, &settings(None), false).await;
    assert!(outcome.up);
    assert_eq!(outcome.validating, None);
}

#[tokio::test]
async fn a_permissive_resolver_fails_the_bogus_canary_only_under_a_ds() {
    // AD on the root; the bogus name answered with data and no AD; a DS exists with CD=1.
    let with_ds = Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some(match (qname(q).as_str(), qtype(q)) {
            ("", _) => (ResponseCode::NoError, true, vec![soa(&name)], None),
            ("bogus.test", Some(WireType::DS)) if q.metadata.checking_disabled => {
                (ResponseCode::NoError, false, vec![ds(&name)], None)
            }
            _ => (ResponseCode::NoError, false, vec![soa(&name)], None),
        })
    });
    let resolver = scripted(with_ds).await;
    let outcome = canary::ask(resolver.addr, &settings(Some("www.bogus.test")), true).await;
    assert_eq!(outcome.validating, Some(false), "{outcome:?}");
    assert!(
        outcome
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("does not reject bogus data"),
        "{outcome:?}"
    );
    // The walk went up from www.bogus.test to bogus.test.
    assert_eq!(
        outcome.results,
        vec!["noerror", "noerror", "noerror", "noerror"]
    );

    // Without any DS the name cannot test validation: a note, and the verdict stands.
    let without_ds = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some(match (qname(q).as_str(), qtype(q)) {
            ("", _) => (ResponseCode::NoError, true, vec![soa(&name)], None),
            (_, Some(WireType::DS)) => (ResponseCode::NoError, false, vec![], None),
            _ => (ResponseCode::NoError, false, vec![soa(&name)], None),
        })
    }))
    .await;
    let outcome = canary::ask(without_ds.addr, &settings(Some("bogus.test")), true).await;
    assert_eq!(outcome.validating, Some(true), "{outcome:?}");
    assert!(
        outcome.note.as_deref().unwrap_or("").contains("no DS"),
        "{outcome:?}"
    );

    // A bogus name that validates (repaired by its owner) decides nothing either.
    let repaired = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some((ResponseCode::NoError, true, vec![soa(&name)], None))
    }))
    .await;
    let outcome = canary::ask(repaired.addr, &settings(Some("bogus.test")), true).await;
    assert_eq!(outcome.validating, Some(true));
    assert!(
        outcome.note.as_deref().unwrap_or("").contains("validates"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn servfail_refused_silence_and_a_closed_port() {
    // SERVFAIL for the root with a DNSSEC reason: it cannot validate.
    let broken_anchor = scripted(Arc::new(|_: &Message| {
        Some((ResponseCode::ServFail, false, vec![], Some(9)))
    }))
    .await;
    let outcome = canary::ask(broken_anchor.addr, &settings(None), true).await;
    assert!(outcome.up);
    assert_eq!(outcome.validating, Some(false));
    // SERVFAIL without one: it cannot resolve anything.
    let offline = scripted(Arc::new(|_: &Message| {
        Some((ResponseCode::ServFail, false, vec![], Some(22)))
    }))
    .await;
    let outcome = canary::ask(offline.addr, &settings(None), true).await;
    assert!(!outcome.up, "{outcome:?}");
    // REFUSED: unavailable to us in trust-resolver mode, alive in validate mode.
    let refusing = scripted(Arc::new(|_: &Message| {
        Some((ResponseCode::Refused, false, vec![], None))
    }))
    .await;
    let outcome = canary::ask(refusing.addr, &settings(None), true).await;
    assert!(!outcome.up);
    assert!(outcome.detail.as_deref().unwrap_or("").contains("REFUSED"));
    assert!(canary::ask(refusing.addr, &settings(None), false).await.up);
    // Silence: down after the canary timeout.
    let silent = scripted(Arc::new(|_: &Message| None)).await;
    let began = Instant::now();
    let outcome = canary::ask(silent.addr, &settings(None), true).await;
    assert!(!outcome.up);
    assert_eq!(outcome.results, vec!["timeout"]);
    assert!(began.elapsed() >= Duration::from_millis(350));
    // Nothing listens: ICMP port unreachable fails at once, long before the timeout.
    let closed = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let began = Instant::now();
    let outcome = canary::ask(
        closed,
        &CanarySettings {
            timeout: Duration::from_secs(5),
            ..settings(None)
        },
        true,
    )
    .await;
    assert!(!outcome.up);
    assert_eq!(outcome.results, vec!["network_error"]);
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn checks_run_on_suspicion_only_and_decide_the_sight() {
    let resolver = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some((ResponseCode::NoError, false, vec![soa(&name)], None))
    }))
    .await;
    let resolvers = Resolvers::new(settings(None));
    resolvers.register(&[resolver.addr], true);
    let servers = [resolver.addr];
    assert_eq!(
        resolvers.sight(&servers, true).blindness(),
        None,
        "unknown is not blind"
    );

    // A probe that saw nothing suspicious does not ask.
    let since = Instant::now();
    resolvers.settle(&servers, since).await;
    assert_eq!(resolver.queries.load(Ordering::SeqCst), 0);

    // An answer signed but not validated: the probe asks the canary, which finds no AD.
    let mut signed = Message::response(1, OpCode::Query);
    signed.add_answer(Record::from_rdata(
        Name::from_ascii("mx.example.test.").unwrap(),
        60,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    signed.add_answer(Record::update0(
        Name::from_ascii("mx.example.test.").unwrap(),
        60,
        WireType::RRSIG,
    ));
    resolvers.observe(resolver.addr, Instant::now(), Observed::Response(&signed));
    resolvers.settle(&servers, since).await;
    assert_eq!(resolver.queries.load(Ordering::SeqCst), 1);
    let sight = resolvers.sight(&servers, true);
    assert!(matches!(
        sight.blindness(),
        Some(Blindness::NotValidating { .. })
    ));
    assert!(sight.fresh());
    // In validate mode the same state is not blindness: validation is done here.
    assert_eq!(resolvers.sight(&servers, false).blindness(), None);
    // A second probe with the same suspicion finds it checked and does not ask again.
    resolvers.observe(resolver.addr, Instant::now(), Observed::Response(&signed));
    resolvers.settle(&servers, since).await;
    assert_eq!(resolver.queries.load(Ordering::SeqCst), 1, "rate-limited");

    let report = resolvers.report();
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].validating, Some(false));
    let count = |result: &str| {
        report[0]
            .queries
            .iter()
            .find(|(r, _)| *r == result)
            .map(|(_, n)| *n)
    };
    assert_eq!(count("noerror"), Some(3), "two observed, one canary");
    assert_eq!(count("timeout"), Some(0), "every result is listed");
}

#[tokio::test]
async fn a_dead_resolver_is_confirmed_by_the_check_a_slow_answer_is_not() {
    let silent = scripted(Arc::new(|_: &Message| None)).await;
    let alive = scripted(Arc::new(|q: &Message| {
        let name = q.queries[0].name().clone();
        Some((ResponseCode::NoError, true, vec![soa(&name)], None))
    }))
    .await;
    let resolvers = Resolvers::new(settings(None));
    resolvers.register(&[silent.addr, alive.addr], true);
    let since = Instant::now();
    // Both missed a query (the domain's servers were slow, or the resolver is dead).
    for server in [silent.addr, alive.addr] {
        resolvers.observe(
            server,
            Instant::now(),
            Observed::Failed(&AttemptError::Timeout),
        );
    }
    resolvers.settle(&[silent.addr, alive.addr], since).await;
    let sight = resolvers.sight(&[silent.addr, alive.addr], true);
    assert_eq!(sight.servers[0].up, Some(false));
    assert_eq!(sight.servers[1].up, Some(true));
    assert_eq!(sight.blindness(), None, "one answers: the domain's problem");
    let only_silent = resolvers.sight(&[silent.addr], true);
    assert!(matches!(
        only_silent.blindness(),
        Some(Blindness::Unavailable { .. })
    ));
    // An answer later makes it up again at once, without a check.
    resolvers.observe(
        silent.addr,
        Instant::now(),
        Observed::Response(&Message::response(1, OpCode::Query)),
    );
    assert_eq!(
        resolvers.sight(&[silent.addr], true).servers[0].up,
        Some(true)
    );
}

#[tokio::test]
async fn a_passive_registry_never_asks() {
    let resolver = scripted(Arc::new(|_: &Message| None)).await;
    let resolvers = Resolvers::passive();
    resolvers.register(&[resolver.addr], true);
    let since = Instant::now();
    resolvers.observe(
        resolver.addr,
        Instant::now(),
        Observed::Failed(&AttemptError::Timeout),
    );
    resolvers.settle(&[resolver.addr], since).await;
    assert!(resolvers.check_all().await);
    assert_eq!(resolver.queries.load(Ordering::SeqCst), 0);
    assert_eq!(resolvers.sight(&[resolver.addr], true).blindness(), None);
}
