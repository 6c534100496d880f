//! In-process DNS servers on loopback for the integration tests.
//!
//! Two fixtures, both on `127.0.0.1:<ephemeral>` with UDP and TCP on the same port, stopped when
//! dropped:
//!
//! - [`DnsFixture`]: an authoritative hickory-server for zones given as zone-file text, signed
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY};
use hickory_proto::dnssec::{DnssecSigner, Nsec3HashAlgorithm, SigningKey};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{LowerName, Name, RData, RecordType, RrKey};
use hickory_proto::serialize::txt::Parser;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// How long the fixture's RRSIGs are valid unless set with [`FixtureBuilder::signature_validity`].
pub const DEFAULT_SIGNATURE_VALIDITY: Duration = Duration::from_secs(7 * 86_400);

struct ZoneSpec {
    origin: String,
    text: String,
    signed: bool,
}

struct Tamper {
    owner: String,
    rtype: RecordType,
    rdata: RData,
}

/// Configures a [`DnsFixture`]: zones, signing, tampering.
pub struct FixtureBuilder {
    zones: Vec<ZoneSpec>,
    validity: Duration,
    tampers: Vec<Tamper>,
    nsec3: bool,
    /// NSEC3 extra iterations and opt-out flag ([`FixtureBuilder::nsec3_params`]).
    nsec3_params: (u16, bool),
    /// RRsets re-signed with expired signatures ([`FixtureBuilder::expire`]).
    expired: Vec<(String, RecordType)>,
}

impl FixtureBuilder {
    /// Adds a zone to sign and serve. `origin` and every name in `text` are fully qualified
    /// (trailing dot); `text` is zone-file syntax and must hold the SOA of `origin`.
    pub fn zone(mut self, origin: &str, text: &str) -> Self {
        self.zones.push(ZoneSpec {
            origin: origin.into(),
            text: text.into(),
            signed: true,
        });
        self
    }

    /// Adds a zone served without any DNSSEC records.
    pub fn unsigned_zone(mut self, origin: &str, text: &str) -> Self {
        self.zones.push(ZoneSpec {
            origin: origin.into(),
            text: text.into(),
            signed: false,
        });
        self
    }

    /// Sets how long signatures stay valid from now (inception is the signing time).
    pub fn signature_validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// Denies existence with NSEC3 (SHA-1, no salt, no extra iterations unless
    /// [`FixtureBuilder::nsec3_params`]) instead of NSEC. hickory's validator asserts (debug
    /// builds) on NXDOMAIN proofs in an NSEC3-signed root zone: sign zones below the root with it.
    pub fn nsec3(mut self) -> Self {
        self.nsec3 = true;
        self
    }

    /// NSEC3 (implies [`FixtureBuilder::nsec3`]) with `iterations` extra hash iterations and the
    /// opt-out flag on every NSEC3 record when `opt_out` (hickory-server flags the whole chain,
    /// so every span is an opt-out span), for RFC 9276 iteration limits and RFC 5155 opt-out.
    pub fn nsec3_params(mut self, iterations: u16, opt_out: bool) -> Self {
        self.nsec3 = true;
        self.nsec3_params = (iterations, opt_out);
        self
    }

    /// After signing, signs the RRset `owner`/`rtype` again with the zone's key and signatures
    /// that expired a day ago (inception eight days ago), replacing its RRSIGs: a correctly signed
    /// RRset whose signatures have expired, beside RRsets that are still valid.
    pub fn expire(mut self, owner: &str, rtype: RecordType) -> Self {
        self.expired.push((owner.into(), rtype));
        self
    }

    /// After signing, replaces the RDATA of every record of `owner`/`rtype` by `rdata` while
    /// keeping the old RRSIGs: the served RRset is then "tampered data", bogus to a validator.
    pub fn tamper(mut self, owner: &str, rtype: RecordType, rdata: RData) -> Self {
        self.tampers.push(Tamper {
            owner: owner.into(),
            rtype,
            rdata,
        });
        self
    }

    /// Parses, signs and serves the zones. Panics on bad zone text (a broken test, not a bug).
    pub async fn start(self) -> DnsFixture {
        let mut zones: Vec<(LowerName, Arc<dyn ZoneHandler>)> = Vec::new();
        let mut dnskeys = Vec::new();
        let mut signature_expiration = None;

        for spec in &self.zones {
            let origin = Name::from_ascii(&spec.origin).expect("zone origin");
            let (origin, records) = Parser::new(spec.text.as_str(), None, Some(origin))
                .parse()
                .expect("zone text parses");
            let nx_proof = spec.signed.then(|| {
                if self.nsec3 {
                    NxProofKind::Nsec3 {
                        algorithm: Nsec3HashAlgorithm::SHA1,
                        salt: Arc::from([]),
                        iterations: self.nsec3_params.0,
                        opt_out: self.nsec3_params.1,
                    }
                } else {
                    NxProofKind::Nsec
                }
            });
            let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
                nx_proof,
            )
            .expect("zone is consistent");

            if spec.signed {
                let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("key generation");
                let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("key decodes");
                let public = key.to_public_key().expect("public key");
                let dnskey = DNSKEY::from_key(&public);
                let signer =
                    DnssecSigner::new(dnskey, Box::new(key), origin.clone(), self.validity);
                handler
                    .add_zone_signing_key_mut(signer)
                    .expect("signing key added");
                handler.secure_zone_mut().expect("zone signed");
                let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("key decodes");
                expire_signatures(handler.records_get_mut(), &origin, &self.expired, &key);

                let records = handler.records_get_mut();
                let apex_keys = records
                    .get(&RrKey::new(LowerName::new(&origin), RecordType::DNSKEY))
                    .expect("signed zone has DNSKEYs");
                dnskeys.extend(apex_keys.records_without_rrsigs().map(|r| r.to_string()));
                let soa = records
                    .get(&RrKey::new(LowerName::new(&origin), RecordType::SOA))
                    .expect("zone has SOA");
                for sig in soa.rrsigs() {
                    if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &sig.data {
                        let expiration = sig.input().sig_expiration.get();
                        signature_expiration = Some(expiration);
                    }
                }
            }

            let records = handler.records_get_mut();
            for tamper in &self.tampers {
                let owner = Name::from_ascii(&tamper.owner).expect("tamper owner");
                if !owner.zone_of(&origin) && !origin.zone_of(&owner) {
                    continue;
                }
                let key = RrKey::new(LowerName::new(&owner), tamper.rtype);
                if let Some(rrset) = records.get_mut(&key) {
                    let mut changed = (**rrset).clone();
                    let forged = changed
                        .records_without_rrsigs()
                        .map(|r| {
                            let mut r = r.clone();
                            r.data = tamper.rdata.clone();
                            r
                        })
                        .collect();
                    changed.set_records(forged);
                    *rrset = Arc::new(changed);
                }
            }

            zones.push((LowerName::new(&origin), Arc::new(handler)));
        }
        let router = Router::new(&zones);

        let (udp, tcp, addr) = bind_udp_and_tcp().await;
        let mut server = Server::new(router);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);

        DnsFixture {
            addr,
            dnskeys,
            signature_expiration,
            server,
        }
    }
}

/// Re-signs the RRsets of `expired` that belong to the zone `origin` with signatures valid from
/// eight days ago until yesterday (see [`FixtureBuilder::expire`]).
fn expire_signatures(
    records: &mut std::collections::BTreeMap<RrKey, Arc<hickory_proto::rr::RecordSet>>,
    origin: &Name,
    expired: &[(String, RecordType)],
    key: &Ed25519SigningKey,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as u32;
    for (owner, rtype) in expired {
        let owner = Name::from_ascii(owner).expect("expire owner");
        if !origin.zone_of(&owner) {
            continue;
        }
        let Some(rrset) = records.get_mut(&RrKey::new(LowerName::new(&owner), *rtype)) else {
            panic!("no {rtype} RRset at {owner} to expire");
        };
        let mut changed = (**rrset).clone();
        let rrsigs = changed
            .rrsigs()
            .iter()
            .map(|rrsig| {
                let RData::DNSSEC(DNSSECRData::RRSIG(old)) = &rrsig.data else {
                    return rrsig.clone();
                };
                let mut input = old.input().clone();
                input.sig_inception = hickory_proto::rr::SerialNumber::new(now - 8 * 86_400);
                input.sig_expiration = hickory_proto::rr::SerialNumber::new(now - 86_400);
                let tbs = hickory_proto::dnssec::TBS::from_input(
                    &owner,
                    rrsig.dns_class,
                    &input,
                    changed.records_without_rrsigs(),
                )
                .expect("to-be-signed data");
                let sig = key.sign(&tbs).expect("signature");
                let rdata = hickory_proto::dnssec::rdata::RRSIG::from_sig(input, sig);
                let mut record = rrsig.clone();
                record.data = RData::DNSSEC(DNSSECRData::RRSIG(rdata));
                record
            })
            .collect();
        changed.set_rrsigs(rrsigs);
        *rrset = Arc::new(changed);
    }
}

/// Sends DS queries for a zone's apex to the zone above it, as a real parent server would: one
/// hickory `Catalog` answers every name from the deepest zone it holds, which for a DS query at a
/// zone cut is the child, whose unsigned "no DS here" would break the chain of trust.
pub struct Router {
    all: Catalog,
    above: HashMap<LowerName, Catalog>,
}

impl Router {
    fn new(zones: &[(LowerName, Arc<dyn ZoneHandler>)]) -> Self {
        let catalog_of = |skip: Option<&LowerName>| {
            let mut catalog = Catalog::new();
            for (origin, handler) in zones {
                if Some(origin) != skip {
                    catalog.upsert(origin.clone(), vec![Arc::clone(handler)]);
                }
            }
            catalog
        };
        let above = zones
            .iter()
            .filter(|(origin, _)| !origin.is_root())
            .map(|(origin, _)| (origin.clone(), catalog_of(Some(origin))))
            .collect();
        Self {
            all: catalog_of(None),
            above,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Router {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let parent = request.request_info().ok().and_then(|info| {
            (info.query.query_type() == RecordType::DS)
                .then(|| self.above.get(info.query.name()))
                .flatten()
        });
        parent
            .unwrap_or(&self.all)
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// A running authoritative server for signed (or unsigned) zones.
pub struct DnsFixture {
    addr: SocketAddr,
    dnskeys: Vec<String>,
    signature_expiration: Option<u32>,
    server: Server<Router>,
}

impl DnsFixture {
    /// A fixture for one or more zones, see [`FixtureBuilder`].
    pub fn builder() -> FixtureBuilder {
        FixtureBuilder {
            zones: Vec::new(),
            validity: DEFAULT_SIGNATURE_VALIDITY,
            tampers: Vec::new(),
            nsec3: false,
            nsec3_params: (0, false),
            expired: Vec::new(),
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

    /// UDP and TCP address of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The DNSKEY records of the signed zones, as zone-file lines.
    pub fn dnskey_lines(&self) -> &[String] {
        &self.dnskeys
    }

    /// Writes the DNSKEY lines to `dir/trust-anchors.txt` and returns the path, for
    /// `DnsSettings::trust_anchor_file`.
    pub fn trust_anchor_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("trust-anchors.txt");
        let mut text = self.dnskeys.join("\n");
        text.push('\n');
        std::fs::write(&path, text).expect("write trust anchors");
        path
    }

    /// Validate-mode settings against this fixture: its keys as trust anchors (written into
    /// `dir`), a 3 s timeout.
    pub fn validate_settings(&self, dir: &Path) -> dane_exporter::dns::DnsSettings {
        dane_exporter::dns::DnsSettings {
            mode: dane_exporter::dns::DnssecMode::Validate,
            nameservers: vec![self.addr],
            trust_anchor_file: Some(self.trust_anchor_file(dir)),
            timeout: Duration::from_secs(3),
        }
    }

    /// The RRSIG expiration the signer set (Unix seconds), the same for every RRSIG of the
    /// fixture since all zones are signed in one go. `None` when nothing is signed.
    pub fn signature_expiration(&self) -> Option<i64> {
        self.signature_expiration.map(i64::from)
    }
}

impl Drop for DnsFixture {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
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
        let (udp, tcp, addr) = bind_udp_and_tcp().await;
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

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1. The port the kernel picks
/// for UDP may be taken for TCP (a connection of another test in TIME_WAIT), so pick again then.
async fn bind_udp_and_tcp() -> (UdpSocket, TcpListener, SocketAddr) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let addr = udp.local_addr().expect("UDP address");
        match TcpListener::bind(addr).await {
            Ok(tcp) => return (udp, tcp, addr),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("bind TCP on {addr}: {e}"),
        }
    }
    panic!("no port of 127.0.0.1 free for both UDP and TCP after 50 tries");
}
