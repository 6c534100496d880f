//! Unit tests of `dns/udp_pool.rs`.

use super::*;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

use hickory_proto::op::{OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};
use tokio::task::JoinHandle;

use super::super::answer;
use super::super::settings::DnsSettings;
use super::super::trust_resolver::AdResolver;
use crate::core::{RecordSet, RecordType};

// ---------------------------------------------------------------------------------------
// The bookkeeping alone, with chosen instants
// ---------------------------------------------------------------------------------------

const LIMITS: Limits = Limits {
    max_idle: 3,
    max_queries: 4,
    max_age: Duration::from_secs(10),
};

fn lease(name: &'static str, opened: Instant, queries: u32) -> Lease<&'static str> {
    Lease {
        socket: name,
        opened,
        queries,
    }
}

fn names(leases: &[Lease<&'static str>]) -> Vec<&'static str> {
    leases.iter().map(|l| l.socket).collect()
}

#[test]
fn retired_after_query_limit() {
    let t0 = Instant::now();
    let mut idle = Idle::new(LIMITS);
    assert!(idle.give_back(lease("a", t0, 3), t0).is_none());
    let back = idle.give_back(lease("b", t0, 4), t0);
    assert_eq!(back.map(|l| l.socket), Some("b"));
    assert_eq!(idle.take(t0).lease.map(|l| l.socket), Some("a"));
    assert!(idle.take(t0).lease.is_none());
}

#[test]
fn retired_after_age_limit() {
    let t0 = Instant::now();
    let mut idle = Idle::new(LIMITS);
    // Young enough when given back, spent by the time it is wanted again.
    assert!(idle
        .give_back(lease("a", t0, 1), t0 + Duration::from_secs(9))
        .is_none());
    let taken = idle.take(t0 + Duration::from_secs(10));
    assert!(taken.lease.is_none());
    assert_eq!(names(&taken.spent), ["a"]);
    // Already spent when given back.
    let back = idle.give_back(lease("b", t0, 1), t0 + Duration::from_secs(11));
    assert_eq!(back.map(|l| l.socket), Some("b"));
    assert!(idle.sockets.is_empty());
}

#[test]
fn full_pool_closes_the_extra_socket() {
    let t0 = Instant::now();
    let mut idle = Idle::new(LIMITS);
    for name in ["a", "b", "c"] {
        assert!(idle.give_back(lease(name, t0, 1), t0).is_none());
    }
    let back = idle.give_back(lease("d", t0, 1), t0);
    assert_eq!(back.map(|l| l.socket), Some("d"));
    assert_eq!(idle.sockets.len(), 3);
}

#[test]
fn takes_the_latest_and_sweeps_old_idle_ones() {
    let t0 = Instant::now();
    let mut idle = Idle::new(LIMITS);
    let s = Duration::from_secs;
    assert!(idle.give_back(lease("old", t0, 1), t0).is_none());
    assert!(idle
        .give_back(lease("mid", t0 + s(5), 1), t0 + s(5))
        .is_none());
    assert!(idle
        .give_back(lease("new", t0 + s(8), 1), t0 + s(8))
        .is_none());
    // At 12 s "old" is spent and swept from the front; "new" is the one handed out.
    let taken = idle.take(t0 + s(12));
    assert_eq!(taken.lease.map(|l| l.socket), Some("new"));
    assert_eq!(names(&taken.spent), ["old"]);
    assert_eq!(names(idle.sockets.make_contiguous()), ["mid"]);
}

// ---------------------------------------------------------------------------------------
// Real sockets against a scripted server on 127.0.0.1
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Script {
    /// Source address of every query received, in order.
    seen: Vec<SocketAddr>,
    /// Queries still to leave unanswered.
    silent: usize,
    /// Answers held back until this many are due, then sent newest first (0 or 1: at once).
    batch: usize,
}

struct Server {
    addr: SocketAddr,
    socket: Arc<UdpSocket>,
    script: Arc<std::sync::Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_on(addr: SocketAddr) -> Self {
        let socket = Arc::new(UdpSocket::bind(addr).await.unwrap());
        let addr = socket.local_addr().unwrap();
        let script = Arc::new(std::sync::Mutex::new(Script::default()));
        let task = tokio::spawn(serve(Arc::clone(&socket), Arc::clone(&script)));
        Self {
            addr,
            socket,
            script,
            task,
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }

    fn ports(&self) -> Vec<u16> {
        self.script().seen.iter().map(SocketAddr::port).collect()
    }

    /// Stops serving and frees the port.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        drop(self.socket);
    }
}

async fn serve(socket: Arc<UdpSocket>, script: Arc<std::sync::Mutex<Script>>) {
    let mut buffer = vec![0u8; 4096];
    let mut held = Vec::new();
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
            return;
        };
        let Ok(query) = Message::from_vec(&buffer[..len]) else {
            continue;
        };
        let batch = {
            let mut script = script.lock().unwrap();
            script.seen.push(from);
            if script.silent > 0 {
                script.silent -= 1;
                continue;
            }
            script.batch.max(1)
        };
        held.push((answer_to(&query, address_for(&query.queries[0])), from));
        if held.len() >= batch {
            for (response, to) in held.drain(..).rev() {
                socket.send_to(&response, to).await.unwrap();
            }
        }
    }
}

/// The address the server gives a name: 10.0.x.y for `hN` (N = 256x + y), else 192.0.2.1.
fn address_for(query: &Query) -> Ipv4Addr {
    let first = query.name().iter().next().unwrap_or_default();
    match std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix('h'))
        .and_then(|n| n.parse::<u16>().ok())
    {
        Some(n) => {
            let [x, y] = n.to_be_bytes();
            Ipv4Addr::new(10, 0, x, y)
        }
        None => Ipv4Addr::new(192, 0, 2, 1),
    }
}

fn answer_to(query: &Message, address: Ipv4Addr) -> Vec<u8> {
    let mut response = Message::response(query.metadata.id, OpCode::Query);
    response.metadata.authentic_data = true;
    response.add_queries(query.queries.clone());
    let name = query.queries[0].name().clone();
    response.add_answer(Record::from_rdata(name, 60, RData::A(A(address))));
    response.to_vec().unwrap()
}

fn request(name: &str) -> Message {
    let mut request = Message::query();
    request.metadata.recursion_desired = true;
    request.add_query(Query::query(answer::query_name(name).unwrap(), WireType::A));
    request
}

fn address_in(response: &Message) -> Ipv4Addr {
    match response.answers.as_slice() {
        [record] => match &record.data {
            RData::A(a) => a.0,
            other => panic!("not an A record: {other:?}"),
        },
        other => panic!("expected one answer, got {other:?}"),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(2)
}

fn distinct(ports: &[u16]) -> usize {
    ports.iter().collect::<HashSet<_>>().len()
}

#[tokio::test]
async fn sequential_lookups_reuse_sockets() {
    let server = Server::start().await;
    let resolver = AdResolver::new(
        &DnsSettings {
            nameservers: vec![server.addr],
            timeout: Duration::from_secs(2),
            ..DnsSettings::default()
        },
        std::sync::Arc::new(crate::dns::Resolvers::passive()),
    )
    .unwrap();
    for _ in 0..100 {
        let qname: Name = answer::query_name("mx.example.test").unwrap();
        let response = resolver
            .lookup(qname, RecordType::A, answer::ip_address)
            .await
            .unwrap();
        assert_eq!(
            response.set,
            RecordSet::Records(vec![Ipv4Addr::new(192, 0, 2, 1).into()])
        );
    }
    let ports = server.ports();
    assert_eq!(ports.len(), 100);
    // 64 queries on the first socket, the other 36 on a second one.
    assert_eq!(distinct(&ports), 2, "{ports:?}");
    assert!(ports[..64].iter().all(|p| *p == ports[0]));
    assert_ne!(ports[64], ports[0]);
    server.stop().await;
}

#[tokio::test]
async fn sockets_retire_after_their_queries_and_their_age() {
    let server = Server::start().await;
    let pool = UdpPool::new(
        server.addr,
        Limits {
            max_idle: 8,
            max_queries: 3,
            max_age: Duration::from_secs(10),
        },
    );
    for _ in 0..9 {
        pool.exchange(&request("a.example.test"), soon())
            .await
            .unwrap();
    }
    let ports = server.ports();
    assert_eq!(distinct(&ports), 3, "{ports:?}");
    for three in ports.chunks(3) {
        assert!(three.iter().all(|p| *p == three[0]), "{ports:?}");
    }

    let server = {
        server.stop().await;
        Server::start().await
    };
    let pool = UdpPool::new(
        server.addr,
        Limits {
            max_idle: 8,
            max_queries: 1000,
            max_age: Duration::from_millis(300),
        },
    );
    for _ in 0..2 {
        pool.exchange(&request("a.example.test"), soon())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    pool.exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    let ports = server.ports();
    assert_eq!(ports[0], ports[1]);
    assert_ne!(ports[2], ports[0]);
    server.stop().await;
}

#[tokio::test]
async fn socket_of_a_timed_out_try_is_not_reused() {
    let server = Server::start().await;
    let pool = UdpPool::new(server.addr, Limits::DEFAULT);
    pool.exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    assert_eq!(pool.idle_count(), 1);
    server.script().silent = 1;
    let short = Instant::now() + Duration::from_millis(200);
    let outcome = pool.exchange(&request("a.example.test"), short).await;
    assert!(matches!(outcome, Err(AttemptError::Timeout)));
    assert_eq!(pool.idle_count(), 0, "the timed-out socket went back");
    pool.exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    let ports = server.ports();
    assert_eq!(ports.len(), 3);
    assert_eq!(
        ports[1], ports[0],
        "the pooled socket carried the silent query"
    );
    assert_ne!(ports[2], ports[1], "{ports:?}");

    // Through the resolver: the retry after a silent try goes out from another port.
    let resolver = AdResolver::new(
        &DnsSettings {
            nameservers: vec![server.addr],
            timeout: Duration::from_millis(1000),
            ..DnsSettings::default()
        },
        std::sync::Arc::new(crate::dns::Resolvers::passive()),
    )
    .unwrap();
    let qname = || answer::query_name("b.example.test").unwrap();
    resolver
        .lookup(qname(), RecordType::A, answer::ip_address)
        .await
        .unwrap();
    server.script().silent = 1;
    resolver
        .lookup(qname(), RecordType::A, answer::ip_address)
        .await
        .unwrap();
    let ports = server.ports();
    let [warm, silent, retry] = ports[3..] else {
        panic!("expected 3 more queries: {ports:?}")
    };
    assert_eq!(silent, warm);
    assert_ne!(retry, silent);
    server.stop().await;
}

#[tokio::test]
async fn stray_datagrams_on_a_pooled_socket_are_skipped() {
    let server = Server::start().await;
    let pool = UdpPool::new(server.addr, Limits::DEFAULT);
    pool.exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    let pooled = server.script().seen[0];

    // Queued on the idle socket before the next query: an answer to the same question with
    // another id and another address, an answer with the next query's id to another
    // question, and a datagram that is no DNS message.
    let next = request("a.example.test");
    let mut wrong_id = next.clone();
    wrong_id.metadata.id ^= 0x5a5a;
    let mut wrong_question = next.clone();
    wrong_question.queries = vec![Query::query(
        answer::query_name("b.example.test").unwrap(),
        WireType::A,
    )];
    let spoofed = Ipv4Addr::new(192, 0, 2, 66);
    for datagram in [
        answer_to(&wrong_id, spoofed),
        answer_to(&wrong_question, spoofed),
        vec![0xff],
    ] {
        server.socket.send_to(&datagram, pooled).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;

    let response = pool.exchange(&next, soon()).await.unwrap();
    assert_eq!(address_in(&response), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(response.metadata.id, next.metadata.id);
    assert_eq!(
        server.script().seen[1],
        pooled,
        "the query went out on the socket holding the strays"
    );
    assert_eq!(pool.idle_count(), 1);
    server.stop().await;
}

/// Answers are received into one buffer per thread (`trust_resolver.rs`): a large answer
/// (beyond the advertised EDNS size, which a resolver may still send) arrives whole, and a
/// short answer after it is read without any of the earlier bytes.
#[tokio::test]
async fn large_then_small_answer_through_the_thread_buffer() {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let server = tokio::spawn({
        let socket = Arc::clone(&socket);
        async move {
            let mut buffer = vec![0u8; 4096];
            for records in [400u16, 1] {
                let (len, from) = socket.recv_from(&mut buffer).await.unwrap();
                let query = Message::from_vec(&buffer[..len]).unwrap();
                let mut response = Message::response(query.metadata.id, OpCode::Query);
                response.metadata.authentic_data = true;
                response.add_queries(query.queries.clone());
                let name = query.queries[0].name().clone();
                for n in 0..records {
                    let [x, y] = n.to_be_bytes();
                    let a = RData::A(A(Ipv4Addr::new(10, 1, x, y)));
                    response.add_answer(Record::from_rdata(name.clone(), 60, a));
                }
                let wire = response.to_vec().unwrap();
                assert!(records == 1 || wire.len() > 4096, "{} bytes", wire.len());
                socket.send_to(&wire, from).await.unwrap();
            }
        }
    });
    let pool = UdpPool::new(addr, Limits::DEFAULT);
    let large = pool.exchange(&request("a.example.test"), soon()).await;
    assert_eq!(large.unwrap().answers.len(), 400);
    let small = pool.exchange(&request("b.example.test"), soon()).await;
    assert_eq!(address_in(&small.unwrap()), Ipv4Addr::new(10, 1, 0, 0));
    server.await.unwrap();
}

#[tokio::test]
async fn concurrent_lookups_get_their_own_answers() {
    let server = Server::start().await;
    // The server answers only when all 64 queries are in, newest first.
    server.script().batch = 64;
    let pool = Arc::new(UdpPool::new(server.addr, Limits::DEFAULT));
    let lookups: Vec<_> = (0..64u16)
        .map(|n| {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                let response = pool
                    .exchange(&request(&format!("h{n}.example.test")), soon())
                    .await
                    .unwrap();
                (n, address_in(&response))
            })
        })
        .collect();
    for lookup in lookups {
        let (n, address) = lookup.await.unwrap();
        let [x, y] = n.to_be_bytes();
        assert_eq!(address, Ipv4Addr::new(10, 0, x, y));
    }
    // One socket per query in flight, all of them kept afterwards.
    assert_eq!(distinct(&server.ports()), 64);
    assert_eq!(pool.idle_count(), 64);

    // Then, one at a time, they are reused.
    server.script().batch = 1;
    for n in 0..10u16 {
        let response = pool
            .exchange(&request(&format!("h{n}.example.test")), soon())
            .await
            .unwrap();
        assert_eq!(address_in(&response), Ipv4Addr::new(10, 0, 0, n as u8));
    }
    assert_eq!(distinct(&server.ports()), 64);
    server.stop().await;
}

#[tokio::test]
async fn an_error_pending_on_a_pooled_socket_falls_back_to_a_fresh_one() {
    let server = Server::start().await;
    let addr = server.addr;
    let pool = UdpPool::new(addr, Limits::DEFAULT);
    pool.exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    server.stop().await;

    // A datagram to the now closed port earns an ICMP port unreachable, left pending on the
    // pooled socket as ECONNREFUSED.
    let taken = pool.idle().take(Instant::now());
    let lease = taken.lease.unwrap();
    lease.socket.send(b"x").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(pool.idle().give_back(lease, Instant::now()).is_none());

    let server = Server::start_on(addr).await;
    let response = pool
        .exchange(&request("a.example.test"), soon())
        .await
        .unwrap();
    assert_eq!(address_in(&response), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(pool.idle_count(), 1);
    server.stop().await;
}
