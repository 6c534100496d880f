//! In-process DNS servers on loopback for the integration tests.
//!
//! Two fixtures, both on `127.0.0.1:<ephemeral>` with UDP and TCP on the same port, stopped when
//! dropped:
//!
//! - [`DnsFixture`]: the demo's zone server (`dane_exporter::demo::zones`, one copy for both): an
//!   authoritative hickory-server for zones given as zone-file text, signed
//!   online (Ed25519, NSEC) unless asked otherwise. Its DNSKEYs are the trust anchor for
//!   `validate` mode ([`DnsFixture::trust_anchor_file`]). The recommended shape is a private root:
//!   one zone with origin `.` holding every record the test needs (`example.test.`,
//!   `mx.example.test.`, ...), so the chain of trust is a single anchored key. Answers from it never
//!   carry AD (it is not a validating resolver), so in `trust-resolver` mode they are `Insecure`.
//! - [`ScriptedServer`]: answers each query with whatever a test closure builds, to play a
//!   validating resolver (AD bit, SERVFAIL with an Extended DNS Error, REFUSED, truncation, silence)
//!   that hickory-server cannot be.
//!
//! What the feasibility notes found, and this fixture therefore does: NSEC by default, NSEC3 only
//! in zones below the root (hickory's validator panics on NXDOMAIN proofs of an NSEC3-signed root
//! zone; hickory-server adds the matching NSEC3 to positive answers, which hickory's validator
//! calls bogus and `validate` mode re-judges as unbound does); fully qualified names in zone text;
//! missing names only below names that exist (hickory-server sends no proof at all for
//! `_25._tcp.nope.example.` when `nope.example.` is missing too, nor for a wildcard NODATA:
//! both NXDOMAIN without NSEC, bogus to any validator).
//!
//! Example:
//!
//! ```ignore
//! let dns = dns_server::DnsFixture::builder()
//!     .zone(".", ROOT_ZONE_TEXT)
//!     .start()
//!     .await;
//! let settings = DnsSettings {
//!     mode: DnssecMode::Validate,
//!     nameservers: vec![dns.addr()],
//!     trust_anchor_file: Some(dns.trust_anchor_file(tmp.path())),
//!     ..DnsSettings::default()
//! };
//! ```
#![allow(dead_code)] // Each test module uses a different part of the fixture.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dane_exporter::demo::zones::{self, ZoneServer, ZoneSet};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// How long the fixture's RRSIGs are valid unless set with [`FixtureBuilder::signature_validity`].
pub const DEFAULT_SIGNATURE_VALIDITY: Duration = zones::DEFAULT_SIGNATURE_VALIDITY;

/// Configures a [`DnsFixture`]: the library's [`ZoneSet`] with the tests' shorthands, panicking
/// where a test would be broken.
pub struct FixtureBuilder {
    zones: ZoneSet,
    nsec3: Option<(u16, bool)>,
}

impl FixtureBuilder {
    /// Adds a zone to sign and serve. `origin` and every name in `text` are fully qualified
    /// (trailing dot); `text` is zone-file syntax and must hold the SOA of `origin`.
    pub fn zone(mut self, origin: &str, text: &str) -> Self {
        self.zones = self.zones.zone(origin, text);
        self
    }

    /// Adds a zone served without any DNSSEC records.
    pub fn unsigned_zone(mut self, origin: &str, text: &str) -> Self {
        self.zones = self.zones.unsigned_zone(origin, text);
        self
    }

    /// Sets how long signatures stay valid from now (inception is the signing time).
    pub fn signature_validity(mut self, validity: Duration) -> Self {
        self.zones = self.zones.signature_validity(validity);
        self
    }

    /// Denies existence with NSEC3 (SHA-1, no salt, no extra iterations unless
    /// [`FixtureBuilder::nsec3_params`]) instead of NSEC. hickory's validator asserts (debug
    /// builds) on NXDOMAIN proofs in an NSEC3-signed root zone: sign zones below the root with it.
    pub fn nsec3(mut self) -> Self {
        self.nsec3 = Some(self.nsec3.unwrap_or((0, false)));
        self
    }

    /// NSEC3 (implies [`FixtureBuilder::nsec3`]) with `iterations` extra hash iterations and the
    /// opt-out flag on every NSEC3 record when `opt_out`, for RFC 9276 iteration limits and
    /// RFC 5155 opt-out.
    pub fn nsec3_params(mut self, iterations: u16, opt_out: bool) -> Self {
        self.nsec3 = Some((iterations, opt_out));
        self
    }

    /// After signing, signs the RRset `owner`/`rtype` again with the zone's key and signatures
    /// that expired a day ago (inception eight days ago), replacing its RRSIGs: a correctly signed
    /// RRset whose signatures have expired, beside RRsets that are still valid.
    pub fn expire(mut self, owner: &str, rtype: RecordType) -> Self {
        let now = dane_exporter::core::unix_now();
        self.zones = self
            .zones
            .sign_window(owner, rtype, now - 8 * 86_400, now - 86_400);
        self
    }

    /// After signing, replaces the RDATA of every record of `owner`/`rtype` by `rdata` while
    /// keeping the old RRSIGs: the served RRset is then "tampered data", bogus to a validator.
    pub fn tamper(mut self, owner: &str, rtype: RecordType, rdata: RData) -> Self {
        self.zones = self.zones.tamper(owner, rtype, rdata);
        self
    }

    /// Parses, signs and serves the zones. Panics on bad zone text (a broken test, not a bug).
    pub async fn start(self) -> DnsFixture {
        let zones = match self.nsec3 {
            Some((iterations, opt_out)) => self.zones.nsec3(iterations, opt_out),
            None => self.zones,
        };
        DnsFixture {
            server: zones.serve().await.expect("zones sign and serve"),
        }
    }
}

/// A running authoritative server for signed (or unsigned) zones: the library's
/// [`ZoneServer`] (its methods through `Deref`) with the tests' helpers.
pub struct DnsFixture {
    server: ZoneServer,
}

impl std::ops::Deref for DnsFixture {
    type Target = ZoneServer;
    fn deref(&self) -> &ZoneServer {
        &self.server
    }
}

impl DnsFixture {
    /// A fixture for one or more zones, see [`FixtureBuilder`].
    pub fn builder() -> FixtureBuilder {
        FixtureBuilder {
            zones: ZoneSet::new(),
            nsec3: None,
        }
    }

    /// Serves one zone, signed (Ed25519, NSEC, [`DEFAULT_SIGNATURE_VALIDITY`]).
    pub async fn start(zone_text: &str, origin: &str) -> DnsFixture {
        Self::builder().zone(origin, zone_text).start().await
    }

    /// Serves one zone without DNSSEC.
    pub async fn start_unsigned(zone_text: &str, origin: &str) -> DnsFixture {
        Self::builder()
            .unsigned_zone(origin, zone_text)
            .start()
            .await
    }

    /// Writes the DNSKEY lines to `dir/trust-anchors.txt` and returns the path, for
    /// `DnsSettings::trust_anchor_file`.
    pub fn trust_anchor_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("trust-anchors.txt");
        let mut text = self.dnskey_lines().join("\n");
        text.push('\n');
        std::fs::write(&path, text).expect("write trust anchors");
        path
    }

    /// Validate-mode settings against this fixture: its keys as trust anchors (written into
    /// `dir`), a 3 s timeout.
    pub fn validate_settings(&self, dir: &Path) -> dane_exporter::dns::DnsSettings {
        dane_exporter::dns::DnsSettings {
            mode: dane_exporter::dns::DnssecMode::Validate,
            nameservers: vec![self.addr()],
            trust_anchor_file: Some(self.trust_anchor_file(dir)),
            timeout: Duration::from_secs(3),
        }
    }
}

/// The transport a [`ScriptedServer`] query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A length-prefixed TCP message.
    Tcp,
}

type Script = dyn Fn(&Message, Transport) -> Option<Message> + Send + Sync;

/// A DNS server that answers what a test script says, to play a validating resolver.
///
/// The script gets each decoded query and the transport, and returns the response (`None`:
/// stay silent). The server copies the query id into the response and marks it a response;
/// everything else (AD, rcode, TC, EDNS options, records) is the script's.
pub struct ScriptedServer {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Starts the server on `127.0.0.1:<ephemeral>`, UDP and TCP.
    pub async fn start(
        script: impl Fn(&Message, Transport) -> Option<Message> + Send + Sync + 'static,
    ) -> ScriptedServer {
        let script: Arc<Script> = Arc::new(script);
        let (udp, tcp, addr) = zones::bind_udp_and_tcp().await.expect("bind 127.0.0.1");
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));

        let udp_task = {
            let script = Arc::clone(&script);
            let count = Arc::clone(&udp_queries);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 65_535];
                while let Ok((len, peer)) = udp.recv_from(&mut buffer).await {
                    let Ok(query) = Message::from_vec(&buffer[..len]) else {
                        continue;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    if let Some(reply) = script(&query, Transport::Udp) {
                        let wire = finish(&query, reply);
                        let _ = udp.send_to(&wire, peer).await;
                    }
                }
            })
        };
        let tcp_task = {
            let script = Arc::clone(&script);
            let count = Arc::clone(&tcp_queries);
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = tcp.accept().await {
                    let script = Arc::clone(&script);
                    let count = Arc::clone(&count);
                    tokio::spawn(async move {
                        let mut prefix = [0u8; 2];
                        if stream.read_exact(&mut prefix).await.is_err() {
                            return;
                        }
                        let mut body = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
                        if stream.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        let Ok(query) = Message::from_vec(&body) else {
                            return;
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        if let Some(reply) = script(&query, Transport::Tcp) {
                            let wire = finish(&query, reply);
                            let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
                            framed.extend_from_slice(&wire);
                            let _ = stream.write_all(&framed).await;
                        } else {
                            // Silent: hold the connection open, as a stuck server would, until
                            // the client gives up and closes it.
                            let _ = stream.read(&mut [0u8; 1]).await;
                        }
                    });
                }
            })
        };
        ScriptedServer {
            addr,
            udp_queries,
            tcp_queries,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// UDP and TCP address of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received over UDP so far.
    pub fn udp_queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst)
    }

    /// Queries received over TCP so far.
    pub fn tcp_queries(&self) -> usize {
        self.tcp_queries.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Makes `reply` a response to `query`: same id, the question echoed when the script left it
/// out, and encodes it.
fn finish(query: &Message, mut reply: Message) -> Vec<u8> {
    reply.metadata.id = query.metadata.id;
    reply.metadata.message_type = MessageType::Response;
    if reply.queries.is_empty() {
        reply.add_queries(query.queries.clone());
    }
    reply.to_vec().expect("scripted reply encodes")
}

/// Asks `server` one question over UDP with DO set and a large payload, and returns the decoded
/// response: for tests that replay or doctor what the fixture serves.
pub async fn query(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut request = Message::query();
    request.add_query(hickory_proto::op::Query::query(
        Name::from_ascii(name).expect("query name"),
        rtype,
    ));
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(4096);
    request.set_edns(edns);
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
    socket
        .send_to(&request.to_vec().expect("query encodes"), server)
        .await
        .expect("send query");
    let mut buffer = vec![0u8; 65_535];
    let len = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buffer))
        .await
        .expect("fixture answers within 2 s")
        .expect("receive answer");
    Message::from_vec(&buffer[..len]).expect("answer decodes")
}

/// A NOERROR response skeleton for `query`, for scripts to fill in.
pub fn reply_to(query: &Message) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(query.queries.clone());
    reply
}
