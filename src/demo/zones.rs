//! An authoritative DNS server on loopback for DNSSEC-signed zones given as zone-file text: the
//! demo's private DNS, and the tests' signed-zone fixture (`tests/integration/support/`).
//!
//! [`ZoneSet`] collects the zones, how they are signed (online, Ed25519, NSEC unless NSEC3 is
//! asked for) and deliberate breakage (tampered RRsets, RRsets signed with another validity
//! window); [`ZoneSet::serve`] signs them and answers on `127.0.0.1:<free port>`, UDP and TCP on
//! the same port, until the [`ZoneServer`] is dropped. The signed zones' DNSKEYs are the trust
//! anchor a validating client needs ([`ZoneServer::dnskey_lines`]). A running server can replace
//! an RRset ([`ZoneServer::replace_rrset`]), re-signed with the zone's key: a record published
//! or withdrawn while clients watch.
//!
//! The shape that works with hickory's validator (measured, see the feasibility notes): a
//! private root `.` holding every record, or zones below it each anchored by its own key; NSEC,
//! not NSEC3, in the root (its validator asserts on NSEC3 NXDOMAIN proofs there); fully qualified
//! names; missing names only below names that exist (hickory-server sends no proof otherwise).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::{DnssecSigner, Nsec3HashAlgorithm, SigningKey, TBS};
use hickory_proto::rr::{LowerName, Name, RData, RecordSet, RecordType, RrKey, SerialNumber};
use hickory_proto::serialize::txt::Parser;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, ZoneHandler, ZoneType};
use hickory_server::Server;
use rustls::pki_types::PrivatePkcs8KeyDer;
use tokio::net::{TcpListener, UdpSocket};

use super::router::Router;
use crate::core::UnixSeconds;

/// How long signatures are valid unless set with [`ZoneSet::signature_validity`].
pub const DEFAULT_SIGNATURE_VALIDITY: Duration = Duration::from_secs(7 * 86_400);
/// How long a TCP client may stay connected without a complete query.
const TCP_IDLE: Duration = Duration::from_secs(5);

/// Why zones could not be served or changed.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The zone text does not parse, or the zone is inconsistent.
    #[error("zone {origin}: {detail}")]
    Zone {
        /// The zone's origin.
        origin: String,
        /// What the parser or the zone handler said.
        detail: String,
    },
    /// A name is not a valid DNS name.
    #[error("bad name {0:?}")]
    Name(String),
    /// Key generation or signing failed.
    #[error("signing: {0}")]
    Signing(String),
    /// No zone holds the name, or it has no such RRset to change.
    #[error("no {rtype} RRset at {owner}")]
    NoRrset {
        /// The owner name.
        owner: String,
        /// The type.
        rtype: RecordType,
    },
    /// The sockets could not be bound.
    #[error("binding 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
}

struct ZoneSpec {
    origin: String,
    text: String,
    signed: bool,
}

/// Signatures with another validity window than the zone's, for one RRset.
struct Window {
    owner: String,
    rtype: RecordType,
    inception: UnixSeconds,
    expiration: UnixSeconds,
}

struct Tamper {
    owner: String,
    rtype: RecordType,
    rdata: RData,
}

/// The zones to serve and how: see the module docs.
pub struct ZoneSet {
    zones: Vec<ZoneSpec>,
    validity: Duration,
    tampers: Vec<Tamper>,
    windows: Vec<Window>,
    /// NSEC3 instead of NSEC: extra iterations and the opt-out flag.
    nsec3: Option<(u16, bool)>,
}

impl Default for ZoneSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ZoneSet {
    /// No zones yet; signatures valid for [`DEFAULT_SIGNATURE_VALIDITY`].
    pub fn new() -> Self {
        Self {
            zones: Vec::new(),
            validity: DEFAULT_SIGNATURE_VALIDITY,
            tampers: Vec::new(),
            windows: Vec::new(),
            nsec3: None,
        }
    }

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

    /// Denies existence with NSEC3 (SHA-1, no salt) instead of NSEC, with `iterations` extra
    /// iterations and the opt-out flag on every NSEC3 record when `opt_out` (hickory-server flags
    /// the whole chain). Only for zones below the root (see the module docs).
    pub fn nsec3(mut self, iterations: u16, opt_out: bool) -> Self {
        self.nsec3 = Some((iterations, opt_out));
        self
    }

    /// After signing, signs the RRset `owner`/`rtype` again with the zone's key, valid from
    /// `inception` until `expiration` (Unix seconds): signatures that expire soon, or that have
    /// expired, beside RRsets that are still valid.
    pub fn sign_window(
        mut self,
        owner: &str,
        rtype: RecordType,
        inception: UnixSeconds,
        expiration: UnixSeconds,
    ) -> Self {
        self.windows.push(Window {
            owner: owner.into(),
            rtype,
            inception,
            expiration,
        });
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

    /// Parses, signs and serves the zones on a free port of 127.0.0.1.
    pub async fn serve(self) -> Result<ZoneServer, ZoneError> {
        let mut served: Vec<(LowerName, Arc<dyn ZoneHandler>)> = Vec::new();
        let mut live = Vec::new();
        let mut dnskeys = Vec::new();
        let mut signature_expiration = None;

        for spec in &self.zones {
            let zone_error = |detail: String| ZoneError::Zone {
                origin: spec.origin.clone(),
                detail,
            };
            let origin = name(&spec.origin)?;
            let (origin, records) = Parser::new(spec.text.as_str(), None, Some(origin))
                .parse()
                .map_err(|e| zone_error(e.to_string()))?;
            let nx_proof = spec.signed.then(|| match self.nsec3 {
                Some((iterations, opt_out)) => NxProofKind::Nsec3 {
                    algorithm: Nsec3HashAlgorithm::SHA1,
                    salt: Arc::from([]),
                    iterations,
                    opt_out,
                },
                None => NxProofKind::Nsec,
            });
            let mut handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
                origin.clone(),
                records,
                ZoneType::Primary,
                AxfrPolicy::Deny,
                nx_proof,
            )
            .map_err(zone_error)?;

            let key = if spec.signed {
                let signing =
                    |e: hickory_proto::dnssec::DnsSecError| ZoneError::Signing(e.to_string());
                let pkcs8 = Ed25519SigningKey::generate_pkcs8().map_err(signing)?;
                let key = Ed25519SigningKey::from_pkcs8(&pkcs8).map_err(signing)?;
                let dnskey = DNSKEY::from_key(&key.to_public_key().map_err(signing)?);
                let signer = DnssecSigner::new(
                    dnskey,
                    Box::new(Ed25519SigningKey::from_pkcs8(&pkcs8).map_err(signing)?),
                    origin.clone(),
                    self.validity,
                );
                handler.add_zone_signing_key_mut(signer).map_err(signing)?;
                handler.secure_zone_mut().map_err(signing)?;
                let records = handler.records_get_mut();
                for window in self.windows.iter().filter(|w| in_zone(&w.owner, &origin)) {
                    let owner = name(&window.owner)?;
                    resign(records, &owner, window.rtype, &key, |input| {
                        input.sig_inception = serial(window.inception);
                        input.sig_expiration = serial(window.expiration);
                    })?;
                }
                let apex = |rtype| records.get(&RrKey::new(LowerName::new(&origin), rtype));
                if let Some(keys) = apex(RecordType::DNSKEY) {
                    dnskeys.extend(keys.records_without_rrsigs().map(|r| r.to_string()));
                }
                if let Some(sig) = apex(RecordType::SOA).and_then(|soa| soa.rrsigs().first()) {
                    if let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &sig.data {
                        signature_expiration = Some(i64::from(sig.input().sig_expiration.get()));
                    }
                }
                Some(pkcs8.secret_pkcs8_der().to_vec())
            } else {
                None
            };

            let records = handler.records_get_mut();
            for tamper in &self.tampers {
                let owner = name(&tamper.owner)?;
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

            let handler = Arc::new(handler);
            served.push((
                LowerName::new(&origin),
                handler.clone() as Arc<dyn ZoneHandler>,
            ));
            live.push(LiveZone {
                origin,
                handler,
                key_pkcs8: key,
            });
        }
        let router = Router::new(&served);
        let (udp, tcp, addr) = bind_udp_and_tcp().await?;
        let mut server = Server::new(router);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 64);
        Ok(ZoneServer {
            addr,
            dnskeys,
            signature_expiration,
            server,
            zones: live,
        })
    }
}

/// A zone as served, with what a live change needs.
struct LiveZone {
    origin: Name,
    handler: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    /// The zone's signing key (Ed25519, PKCS#8 DER); `None` for an unsigned zone.
    key_pkcs8: Option<Vec<u8>>,
}

/// A running authoritative server; stops when dropped.
pub struct ZoneServer {
    addr: SocketAddr,
    dnskeys: Vec<String>,
    signature_expiration: Option<UnixSeconds>,
    server: Server<Router>,
    zones: Vec<LiveZone>,
}

impl ZoneServer {
    /// UDP and TCP address of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The DNSKEY records of the signed zones, as zone-file lines: the trust anchor
    /// (`trust_anchor_file`, `--trust-anchor`) of a validating client.
    pub fn dnskey_lines(&self) -> &[String] {
        &self.dnskeys
    }

    /// The RRSIG expiration the signer set (Unix seconds), the same for every RRSIG not given
    /// another window, since all zones are signed in one go. `None` when nothing is signed.
    pub fn signature_expiration(&self) -> Option<UnixSeconds> {
        self.signature_expiration
    }

    /// Replaces the RRset `owner`/`rtype` (which must exist) by records with these RDATA texts
    /// (`"3 1 1 ab12..."`), same TTL, re-signed with the zone's key and the old signatures'
    /// validity window. The set of types at the name stays the same, so its NSEC records stay
    /// right. At least one record: an RRset cannot become empty this way.
    pub async fn replace_rrset(
        &self,
        owner: &str,
        rtype: RecordType,
        rdata: &[String],
    ) -> Result<(), ZoneError> {
        let owner_name = name(owner)?;
        let missing = || ZoneError::NoRrset {
            owner: owner.to_string(),
            rtype,
        };
        let zone = self
            .zones
            .iter()
            .filter(|z| z.origin.zone_of(&owner_name))
            .max_by_key(|z| z.origin.num_labels())
            .ok_or_else(missing)?;
        if rdata.is_empty() {
            return Err(missing());
        }
        let mut records = zone.handler.records_mut().await;
        let key = RrKey::new(LowerName::new(&owner_name), rtype);
        let old = records.get(&key).ok_or_else(missing)?;
        let ttl = old.ttl();
        let text: String = rdata
            .iter()
            .map(|r| format!("{owner_name} {ttl} IN {rtype} {r}\n"))
            .collect();
        let (_, parsed) = Parser::new(text.as_str(), None, Some(zone.origin.clone()))
            .parse()
            .map_err(|e| ZoneError::Zone {
                origin: zone.origin.to_string(),
                detail: e.to_string(),
            })?;
        let fresh = parsed.get(&key).ok_or_else(missing)?;
        let mut changed = (**old).clone();
        changed.set_records(fresh.records_without_rrsigs().cloned().collect());
        records.insert(key, Arc::new(changed));
        if let Some(pkcs8) = &zone.key_pkcs8 {
            let der = PrivatePkcs8KeyDer::from(pkcs8.as_slice());
            let signing_key = Ed25519SigningKey::from_pkcs8(&der)
                .map_err(|e| ZoneError::Signing(e.to_string()))?;
            resign(&mut records, &owner_name, rtype, &signing_key, |_| {})?;
        }
        Ok(())
    }
}

impl Drop for ZoneServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}

/// Signs the RRset `owner`/`rtype` of `records` afresh with `key`: each RRSIG keeps its fields
/// except what `change` sets (the validity window), and covers the records as they are now.
fn resign(
    records: &mut BTreeMap<RrKey, Arc<RecordSet>>,
    owner: &Name,
    rtype: RecordType,
    key: &Ed25519SigningKey,
    change: impl Fn(&mut hickory_proto::dnssec::rdata::SigInput),
) -> Result<(), ZoneError> {
    let Some(rrset) = records.get_mut(&RrKey::new(LowerName::new(owner), rtype)) else {
        return Err(ZoneError::NoRrset {
            owner: owner.to_string(),
            rtype,
        });
    };
    let mut changed = (**rrset).clone();
    let mut rrsigs = Vec::new();
    for rrsig in changed.rrsigs() {
        let RData::DNSSEC(DNSSECRData::RRSIG(old)) = &rrsig.data else {
            rrsigs.push(rrsig.clone());
            continue;
        };
        let mut input = old.input().clone();
        change(&mut input);
        let tbs = TBS::from_input(
            owner,
            rrsig.dns_class,
            &input,
            changed.records_without_rrsigs(),
        )
        .map_err(|e| ZoneError::Signing(e.to_string()))?;
        let sig = key
            .sign(&tbs)
            .map_err(|e| ZoneError::Signing(e.to_string()))?;
        let mut record = rrsig.clone();
        record.data = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig)));
        rrsigs.push(record);
    }
    changed.set_rrsigs(rrsigs);
    *rrset = Arc::new(changed);
    Ok(())
}

fn name(text: &str) -> Result<Name, ZoneError> {
    Name::from_ascii(text).map_err(|_| ZoneError::Name(text.to_string()))
}

fn in_zone(owner: &str, origin: &Name) -> bool {
    Name::from_ascii(owner).is_ok_and(|owner| origin.zone_of(&owner))
}

/// RRSIG times are 32-bit serial numbers (RFC 4034 3.1.5); until 2106 plain Unix seconds.
fn serial(t: UnixSeconds) -> SerialNumber {
    SerialNumber::new(u32::try_from(t.max(0)).unwrap_or(u32::MAX))
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1. The port the kernel picks
/// for UDP may be taken for TCP (a connection in TIME_WAIT), so pick again then.
pub async fn bind_udp_and_tcp() -> Result<(UdpSocket, TcpListener, SocketAddr), ZoneError> {
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp, addr)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP"))
        .into())
}
