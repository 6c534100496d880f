//! One DNS query to one server and its answer, over UDP or TCP: the exchange both the resolver
//! backend (`trust_resolver.rs`, through `udp_pool.rs`), the resolver canary (`canary.rs`) and
//! the authoritative questions (`authoritative.rs`) make; and the recursive query with DO the
//! first two send, with the Extended DNS Error read from its answer.
//!
//! Every read is bounded (a datagram by its size, a TCP answer by its two-byte length) and every
//! await ends at the caller's deadline. An answer counts only when it answers the query (same id,
//! same question): anything else is a late answer to an earlier try, a spoof or noise, and is
//! skipped.

use std::cell::RefCell;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType as WireType};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

use super::answer;
use crate::core::ede::{ExtendedDnsError, EDE_OPTION_CODE};

/// EDNS UDP payload size advertised: the DNS Flag Day 2020 value, small enough to avoid IP
/// fragmentation; larger answers come over TCP.
pub(super) const EDNS_PAYLOAD: u16 = 1232;

/// Largest datagram read. A DNS message over UDP cannot be larger.
const MAX_UDP: usize = 65_535;

/// A recursive query with DO set; AD=1 asks the resolver to tell whether it validated (RFC 6840
/// 5.7) even to a client that is not known to understand DNSSEC.
pub(super) fn build_query(qname: &Name, qtype: WireType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.metadata.authentic_data = true;
    message.add_query(Query::query(qname.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
}

/// The first Extended DNS Error that parses. RFC 8914 allows several; the first is the
/// resolver's main reason in every implementation seen.
pub(super) fn extended_error(message: &Message) -> Option<ExtendedDnsError> {
    let edns = message.edns.as_ref()?;
    edns.options()
        .as_ref()
        .iter()
        .find_map(|(_, option)| match option {
            EdnsOption::Unknown(EDE_OPTION_CODE, data) => ExtendedDnsError::parse(data).ok(),
            _ => None,
        })
}

/// One failed attempt, kept to report the most telling failure when every attempt failed.
#[derive(Debug)]
pub(super) enum AttemptError {
    /// No answer before the deadline.
    Timeout,
    /// A socket error.
    Network(String),
    /// An answer that cannot be used.
    Malformed(String),
}

impl AttemptError {
    /// A socket error while doing `what` with `server` ("send to", "connect TCP", ...).
    pub(super) fn network(what: &str, server: SocketAddr, error: std::io::Error) -> Self {
        AttemptError::Network(format!("{what} {server}: {error}"))
    }
}

/// The query in wire form.
pub(super) fn encode(request: &Message) -> Result<Vec<u8>, AttemptError> {
    request
        .to_vec()
        .map_err(|e| AttemptError::Malformed(format!("cannot encode query: {e}")))
}

/// Checks that `response` answers `request`: same id, a response, the same question. A datagram
/// failing this is ignored, not an error, as it may be a late answer to an earlier try or an
/// off-path spoof.
pub(super) fn answers_request(request: &Message, response: &Message) -> bool {
    response.metadata.id == request.metadata.id
        && response.metadata.message_type == MessageType::Response
        && response.metadata.op_code == OpCode::Query
        && (response.queries.is_empty() && response.metadata.response_code != ResponseCode::NoError
            || match (request.queries.as_slice(), response.queries.as_slice()) {
                ([q], [r]) => {
                    r.query_type() == q.query_type()
                        && answer::name_text(r.name()) == answer::name_text(q.name())
                }
                _ => false,
            })
}

/// One query on a fresh socket, closed afterwards: a new source port for every query. Kept for
/// `authoritative.rs`, which asks remote authoritative servers over paths nobody vouches for,
/// where the unpredictable port is half of the defence against off-path spoofing (RFC 5452 9.2).
/// Queries to the configured resolver go through `udp_pool.rs` instead.
pub(super) async fn udp_exchange(
    server: SocketAddr,
    request: &Message,
    deadline: Instant,
) -> Result<Message, AttemptError> {
    let wire = encode(request)?;
    let socket = connected_udp(server, deadline).await?;
    udp_send_receive(&socket, server, &wire, request, deadline).await
}

/// A UDP socket on an ephemeral port, connected to `server`.
pub(super) async fn connected_udp(
    server: SocketAddr,
    deadline: Instant,
) -> Result<UdpSocket, AttemptError> {
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let net = |what: &str, e| AttemptError::network(what, server, e);
    // Both complete at once (no name to resolve, a UDP connect only picks the route), but stay
    // under the deadline like every other await here.
    let socket = timeout_at(deadline, UdpSocket::bind(bind))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("bind for", e))?;
    // Connecting filters out datagrams from any other address and turns ICMP port unreachable
    // into an error instead of a wait for the timeout.
    timeout_at(deadline, socket.connect(server))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("connect UDP", e))?;
    Ok(socket)
}

/// Sends `wire` (the encoded `request`) on `socket`, connected to `server`, and reads datagrams
/// until one answers `request` or `deadline` passes. Datagrams that do not answer it (another
/// id or question: a late answer to an earlier query on a reused socket, or a spoof) are skipped,
/// so whatever was queued on the socket before the query cannot be taken for its answer.
pub(super) async fn udp_send_receive(
    socket: &UdpSocket,
    server: SocketAddr,
    wire: &[u8],
    request: &Message,
    deadline: Instant,
) -> Result<Message, AttemptError> {
    let net = |what: &str, e| AttemptError::network(what, server, e);
    timeout_at(deadline, socket.send(wire))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("send to", e))?;

    loop {
        // An ICMP error (port or host unreachable) marks the socket in error without making it
        // readable: waiting for readability alone would wait for the deadline. Waiting for
        // either, the error is read at once and the server given up on without delay.
        let ready = timeout_at(deadline, socket.ready(Interest::READABLE | Interest::ERROR))
            .await
            .map_err(|_| AttemptError::Timeout)?
            .map_err(|e| net("receive from", e))?;
        if ready.is_error() {
            match socket.take_error() {
                Ok(Some(e)) | Err(e) => return Err(net("receive from", e)),
                // Stale (the error was read already): cleared, or the next wait would return at
                // once. An operation that "would block" is how tokio clears a readiness.
                Ok(None) => {
                    let _ = socket.try_io(Interest::ERROR, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                }
            }
        }
        let taken = with_datagram_buffer(|buffer| match socket.try_recv(buffer) {
            Ok(len) => Ok(buffer
                .get(..len)
                .map(|datagram| judge(datagram, request, server))),
            // Readiness was stale (another datagram was taken, or a spurious wake-up): wait again.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        });
        match taken.map_err(|e| net("receive from", e))? {
            Some(Datagram::Answer(response)) => return Ok(response),
            Some(Datagram::Malformed(detail)) => return Err(AttemptError::Malformed(detail)),
            Some(Datagram::Other) | None => continue,
        }
    }
}

/// What one received datagram is to the query waiting for it.
enum Datagram {
    /// The answer to it.
    Answer(Message),
    /// It carries the query's id but does not decode.
    Malformed(String),
    /// Something else: a late answer to an earlier query on a reused socket, a spoof, noise.
    Other,
}

fn judge(datagram: &[u8], request: &Message, server: SocketAddr) -> Datagram {
    match Message::from_vec(datagram) {
        Ok(response) if answers_request(request, &response) => Datagram::Answer(response),
        Ok(_) => Datagram::Other,
        // Only a datagram with our id is worth failing over; anything else is noise.
        Err(e) if datagram.get(..2) == Some(&request.metadata.id.to_be_bytes()[..]) => {
            Datagram::Malformed(format!("undecodable response from {server}: {e}"))
        }
        Err(_) => Datagram::Other,
    }
}

thread_local! {
    /// This thread's receive buffer for UDP answers, room for the largest datagram. A buffer per
    /// query was a 64 KiB malloc and free each time; a free that large makes glibc consolidate
    /// its free lists (`malloc_consolidate`, `unlink_chunk` in the profile, docs/performance.md).
    /// Only ever borrowed by synchronous code between two awaits, so no task holds it while
    /// another runs on the thread.
    static DATAGRAM_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's datagram buffer (`MAX_UDP` bytes), or on a fresh one should the
/// thread's be borrowed already (it cannot be: `f` never awaits, and nothing in it nests a call).
fn with_datagram_buffer<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    DATAGRAM_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < MAX_UDP {
                buffer.resize(MAX_UDP, 0);
            }
            f(&mut buffer)
        }
        Err(_) => f(&mut vec![0; MAX_UDP]),
    })
}

pub(super) async fn tcp_exchange(
    server: SocketAddr,
    request: &Message,
    deadline: Instant,
) -> Result<Message, AttemptError> {
    let wire = encode(request)?;
    let net = |what: &str, e| AttemptError::network(what, server, e);
    let within = |f| timeout_at(deadline, f);
    let len = u16::try_from(wire.len())
        .map_err(|_| AttemptError::Malformed("query longer than 65535 bytes".into()))?;

    let mut stream = within(TcpStream::connect(server))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("connect TCP", e))?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&wire);
    timeout_at(deadline, stream.write_all(&framed))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("send over TCP to", e))?;

    // The two-byte length prefix bounds the read at 64 KiB whatever the server does.
    let mut prefix = [0u8; 2];
    timeout_at(deadline, stream.read_exact(&mut prefix))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("read TCP length from", e))?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    timeout_at(deadline, stream.read_exact(&mut body))
        .await
        .map_err(|_| AttemptError::Timeout)?
        .map_err(|e| net("read TCP response from", e))?;
    let response = Message::from_vec(&body).map_err(|e| {
        AttemptError::Malformed(format!("undecodable TCP response from {server}: {e}"))
    })?;
    if !answers_request(request, &response) {
        return Err(AttemptError::Malformed(format!(
            "TCP response from {server} does not match the query"
        )));
    }
    Ok(response)
}
