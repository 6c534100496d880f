//! `validate` mode against the zone shapes where hickory 0.26's own verdict differs from
//! unbound 1.17's (trust-resolver mode): wildcards with NSEC and NSEC3, NSEC3 opt-out, NSEC3
//! iteration counts, a DS of an unassigned algorithm, and one bad address family beside a good
//! one. In-process hickory-server fixtures; each table line is one RRset and the state unbound
//! gives it (the real-stack counterpart is `stack_parity.rs` beside this file).

use std::time::Duration;

use dane_exporter::core::{Answer, DnssecStatus, RecordSet, RecordType, TlsaRecord};
use dane_exporter::dns::{DnsClient, DnsSettings, DnssecMode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{RData, RecordType as WireType};

use super::{ROOT_ZONE, TLSA_HEX};
use crate::support::dns_server::{DnsFixture, FixtureBuilder};

/// What one lookup came back as, in the words of the tables: `"records secure"`, `"nxdomain
/// insecure"`, `"nodata secure"`, or the failure's DNSSEC state (`"bogus"`, `"indeterminate"`).
fn outcome<T>(answer: &Answer<T>) -> String {
    match &answer.result {
        Ok(response) => {
            let set = match &response.set {
                RecordSet::Records(_) => "records",
                RecordSet::NxDomain => "nxdomain",
                RecordSet::NoData => "nodata",
            };
            format!("{set} {}", status(response.status))
        }
        Err(_) => status(answer.dnssec_status()).to_string(),
    }
}

fn status(status: DnssecStatus) -> &'static str {
    match status {
        DnssecStatus::Secure => "secure",
        DnssecStatus::Insecure => "insecure",
        DnssecStatus::Bogus => "bogus",
        DnssecStatus::Indeterminate => "indeterminate",
    }
}

/// One lookup of `rtype` ("MX", "A", "AAAA", "TLSA", "TXT") at `name`: its outcome, earliest
/// RRSIG expiration and TTL.
pub(super) async fn ask(
    client: &DnsClient,
    rtype: &str,
    name: &str,
) -> (String, Option<i64>, Option<u32>) {
    fn parts<T>(answer: Answer<T>) -> (String, Option<i64>, Option<u32>) {
        let (expiration, ttl) = match &answer.result {
            Ok(r) => (r.signature_expiration, r.ttl),
            Err(_) => (None, None),
        };
        (outcome(&answer), expiration, ttl)
    }
    match rtype {
        "MX" => parts(client.lookup_mx(name).await),
        "TLSA" => parts(client.lookup_tlsa(name).await),
        "TXT" => parts(client.lookup_txt(name).await),
        "A" => parts(client.lookup_addresses(name, RecordType::A).await),
        "AAAA" => parts(client.lookup_addresses(name, RecordType::Aaaa).await),
        other => panic!("no lookup for {other}"),
    }
}

/// One table line: type, name, expected outcome.
type Line = (&'static str, &'static str, &'static str);

/// Runs a table (type, name, expected outcome) against `client`; every mismatch is collected.
/// Signed answers must carry the fixture's RRSIG expiration, records a TTL.
async fn check_table(
    label: &str,
    client: &DnsClient,
    fixture: &DnsFixture,
    table: &[Line],
) -> Vec<String> {
    let mut problems = Vec::new();
    for &(rtype, name, want) in table {
        let (got, expiration, ttl) = ask(client, rtype, name).await;
        if got != want {
            problems.push(format!("[{label}] {rtype} {name}: want {want}, got {got}"));
            continue;
        }
        let secure = got.ends_with("secure") && !got.ends_with("insecure");
        if secure && expiration != fixture.signature_expiration() {
            problems.push(format!(
                "[{label}] {rtype} {name}: expiration {expiration:?}"
            ));
        }
        if got.starts_with("records") && !ttl.is_some_and(|t| t > 0 && t <= 300) {
            problems.push(format!("[{label}] {rtype} {name}: ttl {ttl:?}"));
        }
    }
    problems
}

/// A validate-mode client for `fixture`, trusting the DNSKEYs of `anchor_owners` only (all of
/// the fixture's when empty).
fn client_for(fixture: &DnsFixture, dir: &std::path::Path, anchor_owners: &[&str]) -> DnsClient {
    let mut settings = fixture.validate_settings(dir);
    if !anchor_owners.is_empty() {
        let lines: Vec<&String> = fixture
            .dnskey_lines()
            .iter()
            .filter(|line| {
                let owner = line.split_whitespace().next().unwrap_or_default();
                anchor_owners.iter().any(|o| o.eq_ignore_ascii_case(owner))
            })
            .collect();
        assert!(!lines.is_empty(), "no DNSKEY of {anchor_owners:?}");
        let path = dir.join("anchors-subset.txt");
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        settings.trust_anchor_file = Some(path);
    }
    DnsClient::new(&settings).unwrap()
}

/// Wildcards under the private root (NSEC): `*.w` holds MX and A, `*._tcp.wild` a TLSA, and
/// `_25._tcp.cwild` is a CNAME to a name the TLSA wildcard answers.
const WILDCARDS: &str = r#"
*.w.example.test.           300 IN MX    10 mx.example.test.
*.w.example.test.           300 IN A     127.0.0.16
"#;

#[tokio::test]
async fn validate_wildcard_answers_with_nsec_are_secure() {
    let fixture = DnsFixture::builder()
        .zone(".", &format!("{ROOT_ZONE}{WILDCARDS}"))
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&fixture, dir.path(), &[]);
    #[rustfmt::skip]
    let table = [
        // One label expanded: hickory alone says bogus here.
        ("MX", "any.w.example.test", "records secure"),
        ("A", "any.w.example.test", "records secure"),
        ("TLSA", "_25._tcp.wild.example.test", "records secure"),
        ("TLSA", "_25._tcp.cwild.example.test", "records secure"),
        // Two labels expanded (hickory got these right already).
        ("A", "a.b.w.example.test", "records secure"),
        // Unexpanded answers and denials of the same zone are unchanged.
        ("MX", "example.test", "records secure"),
        ("TLSA", "_25._tcp.nodane.example.test", "nxdomain secure"),
    ];
    let problems = check_table("nsec", &client, &fixture, &table).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let cwild = client.lookup_tlsa("_25._tcp.cwild.example.test").await;
    let response = cwild.result.as_ref().unwrap();
    assert_eq!(response.cname_chain, vec!["_25._tcp.wild.example.test"]);
    assert_eq!(
        cwild.records(),
        &[TlsaRecord::new(3, 1, 1, hex::decode(TLSA_HEX).unwrap())]
    );
}

/// A zone below the root, signed with NSEC3 and anchored by its own key (NSEC3 in a root zone
/// trips an assertion in hickory's validator). hickory-server puts the matching NSEC3 beside every
/// positive answer, which hickory's validator alone calls bogus.
fn nsec3_zone(extra: &str) -> String {
    format!(
        r#"
example.test.              300 IN SOA   ns.test. hostmaster.test. 1 3600 600 86400 300
example.test.              300 IN NS    ns.test.
example.test.              300 IN MX    10 mx.example.test.
mx.example.test.           300 IN A     127.0.0.10
_25._tcp.mx.example.test.  300 IN TLSA  3 1 1 {TLSA_HEX}
*.w.example.test.          300 IN MX    10 mx.example.test.
*.w.example.test.          300 IN A     127.0.0.16
*._tcp.wild.example.test.  300 IN TLSA  3 1 1 {TLSA_HEX}
wild.example.test.         300 IN A     127.0.0.15
{extra}"#
    )
}

/// An unsigned child delegated from the NSEC3 zone without DS.
const CHILD_DELEGATION: &str = "child.example.test. 300 IN NS ns.test.\n";
const CHILD_ZONE: &str = r#"
child.example.test.    300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
child.example.test.    300 IN NS  ns.test.
child.example.test.    300 IN MX  10 mx.child.example.test.
mx.child.example.test. 300 IN A   127.0.0.20
"#;

async fn nsec3_fixture(params: FixtureBuilder) -> DnsFixture {
    params
        .zone("example.test.", &nsec3_zone(CHILD_DELEGATION))
        .unsigned_zone("child.example.test.", CHILD_ZONE)
        .start()
        .await
}

/// NSEC3 shapes, one fixture per parameter set, each RRset with unbound 1.17's state:
/// opt-out makes NXDOMAIN and wildcard answers (whose next closer name is in an opt-out span)
/// insecure (RFC 5155 9.2); more than 150 iterations make every NSEC3 proof insecure, never
/// bogus (RFC 9276 3.2; hickory alone: insecure above 100, bogus above 500); positive answers
/// need no NSEC3 at all.
#[tokio::test]
async fn validate_nsec3_opt_out_and_iterations_as_unbound() {
    #[rustfmt::skip]
    let cases: [(u16, bool, &[Line]); 5] = [
        (0, false, &[
            ("MX", "example.test", "records secure"),
            ("A", "mx.example.test", "records secure"),
            ("TLSA", "_25._tcp.mx.example.test", "records secure"),
            ("AAAA", "mx.example.test", "nodata secure"),
            ("A", "nope.example.test", "nxdomain secure"),
            ("A", "any.w.example.test", "records secure"),
            ("MX", "any.w.example.test", "records secure"),
            ("TLSA", "_25._tcp.wild.example.test", "records secure"),
            ("MX", "child.example.test", "records insecure"),
            ("A", "mx.child.example.test", "records insecure"),
        ]),
        (0, true, &[
            ("MX", "example.test", "records secure"),
            ("TLSA", "_25._tcp.mx.example.test", "records secure"),
            ("AAAA", "mx.example.test", "nodata secure"),
            ("A", "nope.example.test", "nxdomain insecure"),
            ("A", "any.w.example.test", "records insecure"),
            ("MX", "child.example.test", "records insecure"),
        ]),
        (150, false, &[
            ("MX", "example.test", "records secure"),
            ("AAAA", "mx.example.test", "nodata secure"),
            ("A", "nope.example.test", "nxdomain secure"),
            ("A", "any.w.example.test", "records secure"),
        ]),
        (151, false, &[
            ("MX", "example.test", "records secure"),
            ("TLSA", "_25._tcp.mx.example.test", "records secure"),
            ("AAAA", "mx.example.test", "nodata insecure"),
            ("A", "nope.example.test", "nxdomain insecure"),
            ("A", "any.w.example.test", "records insecure"),
        ]),
        (600, false, &[
            ("MX", "example.test", "records secure"),
            ("AAAA", "mx.example.test", "nodata insecure"),
            ("A", "nope.example.test", "nxdomain insecure"),
        ]),
    ];
    let mut problems = Vec::new();
    for (iterations, opt_out, table) in cases {
        let fixture = nsec3_fixture(DnsFixture::builder().nsec3_params(iterations, opt_out)).await;
        let dir = tempfile::tempdir().unwrap();
        let client = client_for(&fixture, dir.path(), &[]);
        let label = format!("nsec3 iterations {iterations} opt-out {opt_out}");
        problems.extend(check_table(&label, &client, &fixture, table).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A child signed with Ed25519 whose only DS in the parent names algorithm 200 (unassigned): no
/// supported algorithm leads into the zone, so it is insecure (RFC 4035 5.2), as in unbound.
#[tokio::test]
async fn validate_ds_of_an_unknown_algorithm_makes_an_insecure_zone() {
    let digest = "ab".repeat(32);
    let root = format!(
        "{ROOT_ZONE}alg.test. 300 IN NS ns.test.\nalg.test. 300 IN DS 4242 200 2 {digest}\n"
    );
    let child = format!(
        r#"
alg.test.     300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
alg.test.     300 IN NS  ns.test.
alg.test.     300 IN MX  10 mx.alg.test.
mx.alg.test.  300 IN A   127.0.0.77
_25._tcp.mx.alg.test. 300 IN TLSA 3 1 1 {TLSA_HEX}
"#
    );
    let fixture = DnsFixture::builder()
        .zone(".", &root)
        .zone("alg.test.", &child)
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    // Only the root is anchored: the way into alg.test. is the DS.
    let client = client_for(&fixture, dir.path(), &["."]);
    #[rustfmt::skip]
    let table = [
        ("MX", "alg.test", "records insecure"),
        ("A", "mx.alg.test", "records insecure"),
        ("TLSA", "_25._tcp.mx.alg.test", "records insecure"),
        ("AAAA", "mx.alg.test", "nodata insecure"),
        ("MX", "example.test", "records secure"),
    ];
    let problems = check_table("alg 200", &client, &fixture, &table).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A secure A RRset beside a tampered or an expired-signature AAAA RRset at the same name: each
/// lookup stands on its own (unbound: A with AD, AAAA SERVFAIL with EDE 6 or 7).
#[tokio::test]
async fn validate_bad_aaaa_beside_a_secure_a() {
    let zone = format!(
        "{ROOT_ZONE}{}",
        r#"
v6bad.example.test.           300 IN A    127.0.0.70
v6bad.example.test.           300 IN AAAA 2001:db8::70
_25._tcp.v6bad.example.test.  300 IN TLSA 3 1 1 8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1
v6old.example.test.           300 IN A    127.0.0.71
v6old.example.test.           300 IN AAAA 2001:db8::71
"#
    );
    let fixture = DnsFixture::builder()
        .zone(".", &zone)
        .tamper(
            "v6bad.example.test.",
            WireType::AAAA,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x7a)),
        )
        .expire("v6old.example.test.", WireType::AAAA)
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&fixture, dir.path(), &[]);
    #[rustfmt::skip]
    let table = [
        ("A", "v6bad.example.test", "records secure"),
        ("AAAA", "v6bad.example.test", "bogus"),
        ("TLSA", "_25._tcp.v6bad.example.test", "records secure"),
        ("A", "v6old.example.test", "records secure"),
        ("AAAA", "v6old.example.test", "bogus"),
        // Asked again (cached verdicts): still each on its own.
        ("A", "v6bad.example.test", "records secure"),
        ("AAAA", "v6old.example.test", "bogus"),
    ];
    let problems = check_table("aaaa", &client, &fixture, &table).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The second opinion on a bogus answer stays within the lookup's deadline and rescues nothing
/// that is really bogus: a tampered wildcard expansion is bogus however it is asked.
#[tokio::test]
async fn validate_tampered_wildcard_stays_bogus() {
    let fixture = DnsFixture::builder()
        .zone(".", &format!("{ROOT_ZONE}{WILDCARDS}"))
        .tamper(
            "*.w.example.test.",
            WireType::A,
            RData::A(hickory_proto::rr::rdata::A::new(10, 6, 6, 6)),
        )
        .start()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings: DnsSettings = fixture.validate_settings(dir.path());
    settings.timeout = Duration::from_secs(2);
    assert_eq!(settings.mode, DnssecMode::Validate);
    let client = DnsClient::new(&settings).unwrap();
    let started = std::time::Instant::now();
    let (got, _, _) = ask(&client, "A", "any.w.example.test").await;
    assert_eq!(got, "bogus");
    assert!(started.elapsed() < Duration::from_secs(3));
    let (mx, _, _) = ask(&client, "MX", "any.w.example.test").await;
    assert_eq!(mx, "records secure");
}
