//! Outbound at scale (issue 18): what lets one exporter watch 100,000 recipient domains hosted
//! by a few providers, observed, not assumed.
//!
//! - the DNS cache: a second domain on the same MX host asks no A, AAAA or TLSA again within the
//!   TTL, the DNSSEC status comes back with the cached answer, an expired TTL asks again (the
//!   resolver is scripted, so every question it gets is counted); the STARTTLS session is shared
//!   the same way;
//! - the per-address connection cap: domains whose MX names share one slow address never have
//!   more than the cap of connections open there (counted at the listener), and a black-holed
//!   address (SYNs dropped: a listener whose backlog is full) costs its connect timeout and holds
//!   up no other host;
//! - the summary shape and the aggregates in a real store, checked by `promtool check metrics`;
//! - `domains_file` lists in the exporter binary: summary series, aggregates, the DNS and SMTP
//!   counters, a reload that changes the list, a bad line refused with its file and line;
//! - `--shard`: two replicas with one configuration expose every target exactly once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dane_exporter::config::Target;
use dane_exporter::core::{Direction, DnssecStatus, SmtpError, SmtpStage, Verdict};
use dane_exporter::report::DomainReport;
use dane_exporter::scheduler::{ProbeRunner, ProberRunner};
use dane_exporter::store::Store;
use dane_exporter::target::MetricsShape;
use futures_util::future::join_all;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, SOA, TLSA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::support::dns_server::{reply_to, ScriptedServer};
use crate::support::exporter::{promtool_check, Exporter, Metrics};
use crate::support::smtp_server::{self_signed, FixtureConfig, SmtpFixture};

// --- A scripted validating resolver that counts what it is asked -------------------------------

/// Records of the scripted zone, by name and type; everything else is a secure NODATA (with an
/// SOA, whose MINIMUM is the negative TTL) or, for names under no known domain, NXDOMAIN.
#[derive(Default)]
struct Zone {
    records: HashMap<(String, RecordType), Vec<RData>>,
    ttl: u32,
    negative_ttl: u32,
}

impl Zone {
    fn add(&mut self, owner: &str, data: RData) {
        self.records
            .entry((owner.to_string(), data.record_type()))
            .or_default()
            .push(data);
    }

    /// `domain` MX `host`.
    fn mx(&mut self, domain: &str, host: &str) {
        self.add(domain, RData::MX(MX::new(10, name(host))));
    }

    /// `host` A `address`, and TLSA `3 1 1 spki_sha256` at `_port._tcp.host`.
    fn host(&mut self, host: &str, address: Ipv4Addr, port: u16, spki_sha256: &[u8]) {
        self.add(host, RData::A(A(address)));
        let tlsa = TLSA::new(3.into(), 1.into(), 1.into(), spki_sha256.to_vec());
        self.add(&format!("_{port}._tcp.{host}"), RData::TLSA(tlsa));
    }
}

fn name(text: &str) -> Name {
    Name::from_ascii(format!("{text}.")).expect("name")
}

/// A resolver answering from `zone` with AD, and the questions it got, in order.
struct Resolver {
    server: ScriptedServer,
    asked: Arc<Mutex<Vec<(String, RecordType)>>>,
}

impl Resolver {
    async fn start(zone: Zone) -> Resolver {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        let server = ScriptedServer::start(move |query: &Message, _| {
            let q = query.queries.first()?;
            let qname = q.name().to_ascii().trim_end_matches('.').to_lowercase();
            log.lock().unwrap().push((qname.clone(), q.query_type()));
            let mut reply = reply_to(query);
            reply.metadata.authentic_data = true;
            match zone.records.get(&(qname, q.query_type())) {
                Some(records) => {
                    for data in records {
                        reply.add_answer(Record::from_rdata(
                            q.name().clone(),
                            zone.ttl,
                            data.clone(),
                        ));
                    }
                }
                None => {
                    let soa = SOA::new(
                        name("ns.test"),
                        name("h.test"),
                        1,
                        3600,
                        600,
                        86_400,
                        zone.negative_ttl,
                    );
                    reply.add_authority(Record::from_rdata(name("test"), 3600, RData::SOA(soa)));
                }
            }
            reply.metadata.response_code = ResponseCode::NoError;
            Some(reply)
        })
        .await;
        Resolver { server, asked }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The questions since the last call, sorted (lookups of one host run concurrently).
    fn take(&self) -> Vec<(String, RecordType)> {
        sorted(std::mem::take(&mut *self.asked.lock().unwrap()))
    }
}

/// An outbound target of `domain` asking `resolver`, its MX hosts on `port`.
fn target(domain: &str, resolver: SocketAddr, port: u16) -> Target {
    let mut target = Target::new(domain, Direction::Outbound);
    target.dns.nameservers = vec![resolver];
    target.dns.timeout = Duration::from_secs(3);
    target.smtp.port = port;
    target.smtp.step_timeout = Duration::from_secs(3);
    target.smtp.reply_timeout = Duration::from_secs(3);
    target.key_algorithms = false;
    target
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn q(name: &str, rtype: RecordType) -> (String, RecordType) {
    (name.to_string(), rtype)
}

fn sorted(mut questions: Vec<(String, RecordType)>) -> Vec<(String, RecordType)> {
    questions.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    questions
}

// --- The DNS cache ---------------------------------------------------------------------------

/// Three domains on one MX host, probed one after the other through the scheduler's runner: the
/// first asks MX, A, AAAA and TLSA; the second only its MX, and its report still says the cached
/// RRsets are secure; after the 1 s TTL the third asks the host's RRsets again. One STARTTLS
/// session serves all three.
#[tokio::test]
async fn a_shared_mx_host_is_asked_once_per_ttl() {
    let cert = self_signed(&["mx.shared.test"]);
    let mail = SmtpFixture::start(FixtureConfig::new(cert.clone())).await;
    let mut zone = Zone {
        ttl: 1,
        negative_ttl: 1,
        ..Zone::default()
    };
    for d in ["d1.shared.test", "d2.shared.test", "d3.shared.test"] {
        zone.mx(d, "mx.shared.test");
    }
    zone.host(
        "mx.shared.test",
        Ipv4Addr::LOCALHOST,
        mail.port(),
        &sha256(cert.leaf_spki()),
    );
    let resolver = Resolver::start(zone).await;
    let targets: Vec<Target> = ["d1.shared.test", "d2.shared.test", "d3.shared.test"]
        .iter()
        .map(|d| target(d, resolver.addr(), mail.port()))
        .collect();
    let runner = ProberRunner::new(&targets, Some(Duration::from_secs(60))).unwrap();
    let tlsa = format!("_{}._tcp.mx.shared.test", mail.port());

    let first = runner.probe(&targets[0]).await;
    assert_eq!(first.verdict, Verdict::Pass, "{first:#?}");
    assert_eq!(
        resolver.take(),
        sorted(vec![
            q("d1.shared.test", RecordType::MX),
            q("mx.shared.test", RecordType::A),
            q("mx.shared.test", RecordType::AAAA),
            q(&tlsa, RecordType::TLSA),
        ])
    );

    let second = runner.probe(&targets[1]).await;
    assert_eq!(second.verdict, Verdict::Pass, "{second:#?}");
    assert_eq!(resolver.take(), vec![q("d2.shared.test", RecordType::MX)]);
    let host = &second.mx.hosts[0];
    for lookup in host.address_lookups.iter().chain(&host.tlsa_lookups) {
        assert_eq!(lookup.dnssec, DnssecStatus::Secure, "{lookup:?}");
    }
    assert_eq!(host.tlsa_records.len(), 1);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    let third = runner.probe(&targets[2]).await;
    assert_eq!(third.verdict, Verdict::Pass, "{third:#?}");
    assert_eq!(
        resolver.take(),
        sorted(vec![
            q("d3.shared.test", RecordType::MX),
            q("mx.shared.test", RecordType::A),
            q("mx.shared.test", RecordType::AAAA),
            q(&tlsa, RecordType::TLSA),
        ]),
        "an expired answer is asked again"
    );
    assert_eq!(
        mail.sessions().len(),
        1,
        "one STARTTLS session for three domains"
    );

    // The same three reports as the store keeps them for a list in the summary shape: a few
    // series per domain, the aggregates over them, and promtool finds nothing to complain about.
    let store = Store::new();
    let listed: Vec<Target> = targets
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.metrics = MetricsShape::Summary;
            t.labels = Arc::new(BTreeMap::from([(
                "list".to_string(),
                "recipients".to_string(),
            )]));
            t
        })
        .collect();
    store.set_targets(&listed);
    for (t, report) in listed.iter().zip([&first, &second, &third]) {
        store.put(t, report);
    }
    let text: String = store.exposition(Vec::new(), usize::MAX).collect();
    promtool_check(&text);
    let per_domain = text
        .lines()
        .filter(|l| l.contains("domain=\"d2.shared.test\""))
        .count();
    assert_eq!(per_domain, 3, "success, verdict, timestamp:\n{text}");
    let group = r#"direction="outbound",list="recipients""#;
    for line in [
        format!(r#"dane_domains{{{group},verdict="pass"}} 3"#),
        format!(r#"dane_domains{{{group},verdict="fail"}} 0"#),
        format!(r#"dane_mx_host_domains{{{group},mx="mx.shared.test"}} 3"#),
        format!(r#"dane_mx_host_failing_domains{{{group},mx="mx.shared.test"}} 0"#),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

// --- The per-address cap and dead addresses ----------------------------------------------------

/// Accepts on `listener`, holds each connection `hold`, then refuses it with a 554 greeting;
/// counts connections open at once.
fn slow_listener(listener: TcpListener, hold: Duration) -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (open, most, total) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (o, m, t) = (Arc::clone(&open), Arc::clone(&most), Arc::clone(&total));
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let (o, m) = (Arc::clone(&o), Arc::clone(&m));
            t.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                o.fetch_sub(1, Ordering::SeqCst);
                let _ = tcp.write_all(b"554 5.3.2 busy\r\n").await;
            });
        }
    });
    (most, total)
}

/// Eight domains, each with an MX name of its own, all on one slow address (so no session can
/// be shared): with a cap of 2 the listener never sees more than 2 connections at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn domains_on_one_slow_address_share_its_cap() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (most, total) = slow_listener(listener, Duration::from_millis(250));
    let mut zone = Zone {
        ttl: 60,
        negative_ttl: 60,
        ..Zone::default()
    };
    let domains: Vec<String> = (1..=8).map(|i| format!("c{i}.cap.test")).collect();
    for (i, domain) in domains.iter().enumerate() {
        let host = format!("mx{i}.cap.test");
        zone.mx(domain, &host);
        zone.host(&host, Ipv4Addr::LOCALHOST, port, &[7; 32]);
    }
    let resolver = Resolver::start(zone).await;
    let targets: Vec<Target> = domains
        .iter()
        .map(|d| target(d, resolver.addr(), port))
        .collect();
    let runner = ProberRunner::new(&targets, Some(Duration::from_secs(60)))
        .unwrap()
        .with_host_concurrency(2);
    let started = Instant::now();
    let reports = join_all(targets.iter().map(|t| runner.probe(t))).await;
    for report in &reports {
        assert_eq!(report.verdict, Verdict::Fail, "{report:#?}");
    }
    assert_eq!(total.load(Ordering::SeqCst), 8, "one connection per domain");
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "never more than the cap at once"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(4 * 250),
        "they queued"
    );
}

/// A listener whose accept queue is full drops every further SYN, as a black-holed address
/// does: connects to it hang until the connect timeout.
async fn black_hole() -> (SocketAddr, TcpListener, TcpStream) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Backlog 0 holds one connection; it fills the queue (never accepted).
    let filler = TcpStream::connect(addr).await.unwrap();
    (addr, listener, filler)
}

/// Three domains on a black-holed address (MX names of their own, cap 1) and one on a live
/// host, probed at once: each dead endpoint fails with a connect timeout after its 1 s step
/// timeout, not the 30 s probe deadline; the live domain is done before the first dead one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_address_costs_its_connect_timeout_and_holds_up_no_other_host() {
    let (dead, _listener, _filler) = black_hole().await;
    let cert = self_signed(&["mx.live.test"]);
    let mail = SmtpFixture::start(FixtureConfig::new(cert.clone())).await;
    let mut zone = Zone {
        ttl: 60,
        negative_ttl: 60,
        ..Zone::default()
    };
    zone.mx("live.test", "mx.live.test");
    zone.host(
        "mx.live.test",
        Ipv4Addr::LOCALHOST,
        mail.port(),
        &sha256(cert.leaf_spki()),
    );
    let dead_domains: Vec<String> = (1..=3).map(|i| format!("dead{i}.test")).collect();
    for (i, domain) in dead_domains.iter().enumerate() {
        let host = format!("mx{i}.{domain}");
        zone.mx(domain, &host);
        zone.host(&host, Ipv4Addr::LOCALHOST, dead.port(), &[7; 32]);
    }
    let resolver = Resolver::start(zone).await;
    let mut targets: Vec<Target> = dead_domains
        .iter()
        .map(|d| {
            let mut t = target(d, resolver.addr(), dead.port());
            t.smtp.step_timeout = Duration::from_secs(1);
            t
        })
        .collect();
    targets.push(target("live.test", resolver.addr(), mail.port()));
    let runner = ProberRunner::new(&targets, Some(Duration::from_secs(60)))
        .unwrap()
        .with_host_concurrency(1);
    let started = Instant::now();
    let done: Vec<(DomainReport, Duration)> = join_all(targets.iter().map(|t| async {
        let report = runner.probe(t).await;
        (report, started.elapsed())
    }))
    .await;
    let (live, live_at) = done.last().unwrap();
    assert_eq!(live.verdict, Verdict::Pass, "{live:#?}");
    let mut dead_at: Vec<Duration> = done[..3].iter().map(|(_, at)| *at).collect();
    dead_at.sort();
    assert!(*live_at < dead_at[0], "live {live_at:?}, dead {dead_at:?}");
    for (report, _) in &done[..3] {
        let endpoint = &report.mx.hosts[0].endpoints[0];
        assert!(
            matches!(
                endpoint.session.error(),
                Some(SmtpError::Timeout {
                    stage: SmtpStage::Connect
                })
            ),
            "{endpoint:#?}"
        );
        assert!(
            (0.9..2.5).contains(&endpoint.duration_seconds),
            "bounded by the connect timeout: {}",
            endpoint.duration_seconds
        );
    }
    // One at a time on the dead address: the last one waited for the two before it.
    assert!(dead_at[2] >= Duration::from_millis(2900), "{dead_at:?}");
    assert!(dead_at[2] < Duration::from_secs(8), "{dead_at:?}");
}

// --- Lists, the summary shape and shards in the exporter binary --------------------------------

/// A world of `domains` on one MX host served by an in-process STARTTLS fixture, and a config
/// head (global section) pointing at it.
struct ListWorld {
    _mail: SmtpFixture,
    resolver: Resolver,
    head: String,
}

async fn list_world(domains: &[String]) -> ListWorld {
    let cert = self_signed(&["mx.list.test"]);
    let mail = SmtpFixture::start(FixtureConfig::new(cert.clone())).await;
    let mut zone = Zone {
        ttl: 60,
        negative_ttl: 60,
        ..Zone::default()
    };
    for domain in domains
        .iter()
        .map(String::as_str)
        .chain(["single.list.test"])
    {
        zone.mx(domain, "mx.list.test");
    }
    zone.host(
        "mx.list.test",
        Ipv4Addr::LOCALHOST,
        mail.port(),
        &sha256(cert.leaf_spki()),
    );
    let resolver = Resolver::start(zone).await;
    // The bogus half of the resolver canary is off: its name is not in the test zone.
    let head = format!(
        "global:\n  interval: 10s\n  timeout: 10s\n  step_timeout: 3s\n  authoritative_checks: none\n  canary_bogus_name: \"\"\n  smtp_port: {}\n  nameservers: [\"{}\"]\n",
        mail.port(),
        resolver.addr()
    );
    ListWorld {
        _mail: mail,
        resolver,
        head,
    }
}

fn domains_in(m: &Metrics, metric: &str) -> BTreeSet<String> {
    m.text
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter_map(|l| {
            let rest = l.split("domain=\"").nth(1)?;
            Some(rest.split('"').next()?.to_string())
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// An exporter reading its outbound domains from a list: each gets the summary series only,
/// the aggregates count them, the DNS and SMTP counters show one shared host, the status page
/// keeps no full report of a passing listed domain; a reload that
/// changes the list changes the targets; a bad line is refused with its file and line, and the
/// running list stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_list_in_the_summary_shape_and_its_reload() {
    let domains: Vec<String> = (1..=6).map(|i| format!("r{i}.list.test")).collect();
    let world = list_world(&domains).await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("recipients.txt");
    write(
        &list,
        &format!("# recipients\n{}\n", domains[..5].join("\n")),
    );
    let config = dir.path().join("dane_exporter.yml");
    write(
        &config,
        &format!(
            "{}outbound:\n  - domain: single.list.test\n  - domains_file: recipients.txt\n    labels: {{list: recipients}}\n",
            world.head
        ),
    );
    let all = domains.clone();
    tokio::task::spawn_blocking(move || {
        let exporter = Exporter::start(&config);
        let m = exporter.metrics();
        promtool_check(&m.text);
        let listed: BTreeSet<String> = all[..5].iter().cloned().collect();
        let mut expected = listed.clone();
        expected.insert("single.list.test".to_string());
        assert_eq!(domains_in(&m, "dane_probe_verdict"), expected);
        // Full shape for the single entry, summary for the list.
        assert!(domains_in(&m, "dane_tlsa_match").contains("single.list.test"));
        assert!(domains_in(&m, "dane_tlsa_match").is_disjoint(&listed));
        for domain in &listed {
            let series = m
                .text
                .lines()
                .filter(|l| !l.starts_with('#') && l.contains(&format!("domain=\"{domain}\"")))
                .count();
            assert_eq!(series, 3, "{domain}:\n{}", m.text);
        }
        let group = [("direction", "outbound"), ("list", "recipients")];
        let with = |extra: (&'static str, &'static str)| {
            let mut labels = group.to_vec();
            labels.push(extra);
            labels
        };
        assert_eq!(m.value("dane_domains", &with(("verdict", "pass"))), 5.0);
        assert_eq!(
            m.value("dane_mx_host_domains", &with(("mx", "mx.list.test"))),
            5.0
        );
        assert!(
            m.text
                .lines()
                .any(|l| l == r#"dane_domains{direction="outbound",verdict="pass"} 1"#),
            "the single entry is a group of its own:\n{}",
            m.text
        );
        // Six domains on one host, four lookups a probe: each domain's MX (by the time of the
        // scrape an early domain may have had its second probe), the host's A, AAAA and TLSA
        // once per cache lifetime (half the 10 s interval, while the starts spread over the
        // whole interval: at most three times); one STARTTLS session per lifetime. The queries
        // also count the resolver canary's SOA of the root (at start, and once per interval).
        let probes: f64 = m.values("dane_exporter_probes_total", &[]).iter().sum();
        assert!((6.0..=12.0).contains(&probes), "{probes} probes");
        let queries: f64 = m
            .values("dane_exporter_dns_queries_total", &[])
            .iter()
            .sum();
        let noerror = m.value("dane_exporter_dns_queries_total", &[("result", "noerror")]);
        assert_eq!(queries, noerror, "no query failed");
        let hits = m.value("dane_exporter_dns_cache_hits_total", &[]);
        let canary = queries + hits - 4.0 * probes;
        assert!(
            (1.0..=2.0).contains(&canary),
            "{queries} queries + {hits} cache hits for {probes} probes"
        );
        assert!(
            queries <= probes + 3.0 * 3.0 + canary,
            "{queries} queries for {probes} probes"
        );
        let sessions: f64 = m
            .values("dane_exporter_smtp_sessions_total", &[])
            .iter()
            .sum();
        let ok = m.value("dane_exporter_smtp_sessions_total", &[("result", "ok")]);
        assert_eq!(sessions, ok, "every session succeeded");
        assert!((1.0..=3.0).contains(&sessions), "{sessions} sessions");

        // The status page lists every domain; the full report is kept for the single entry,
        // not for a passing domain of the summary-shaped list.
        let (status, body) = exporter.request("GET", "/");
        assert_eq!(status, 200, "{body}");
        assert!(expected.iter().all(|d| body.contains(d.as_str())), "{body}");
        let (status, body) = exporter.request("GET", "/status/outbound/single.list.test");
        assert_eq!(status, 200, "{body}");
        let (status, body) = exporter.request("GET", "/status/outbound/r1.list.test");
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("is not kept"), "{body}");

        // The list changes: r1 goes, r6 comes.
        write(&list, &all[1..6].join("\n"));
        exporter.signal("HUP");
        let now: BTreeSet<String> = all[1..6]
            .iter()
            .cloned()
            .chain(["single.list.test".to_string()])
            .collect();
        exporter.wait_for(Duration::from_secs(15), "the new list", |e| {
            domains_in(&e.metrics(), "dane_probe_verdict") == now
        });

        // A bad line: refused, named by file and line; the running list stays.
        write(&list, &format!("{}\nnot a domain\n", all[1..6].join("\n")));
        let (status, body) = exporter.request("POST", "/-/reload");
        assert_eq!(status, 500, "{body}");
        let at = format!("{}:6: invalid domain \"not a domain\"", list.display());
        assert!(body.contains(&at), "{body}");
        let m = exporter.metrics();
        assert_eq!(
            m.value("dane_exporter_config_last_reload_successful", &[]),
            0.0
        );
        assert_eq!(domains_in(&m, "dane_probe_verdict"), now);
    })
    .await
    .unwrap();
    drop(world.resolver);
}

/// Two replicas of one configuration, shards 0/2 and 1/2: together they expose every target
/// exactly once, and each is ready once its own share is probed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_cover_every_target_once() {
    let domains: Vec<String> = (1..=24).map(|i| format!("s{i}.list.test")).collect();
    let world = list_world(&domains).await;
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("all.txt"), &domains.join("\n"));
    let config = dir.path().join("dane_exporter.yml");
    write(
        &config,
        &format!(
            "{}outbound:\n  - domains_file: all.txt\ninbound:\n  - domain: s1.list.test\n",
            world.head
        ),
    );
    tokio::task::spawn_blocking(move || {
        let shards: Vec<Exporter> = ["0/2", "1/2"]
            .iter()
            .map(|shard| Exporter::start_with(&config, &[&format!("--shard={shard}")]))
            .collect();
        let seen: Vec<BTreeSet<(String, String)>> = shards
            .iter()
            .map(|e| {
                let m = e.metrics();
                promtool_check(&m.text);
                m.series
                    .iter()
                    .filter(|(name, _, _)| name == "dane_probe_success")
                    .map(|(_, labels, _)| (labels["direction"].clone(), labels["domain"].clone()))
                    .collect()
            })
            .collect();
        assert!(seen[0].is_disjoint(&seen[1]), "{seen:?}");
        let union: BTreeSet<(String, String)> = seen[0].union(&seen[1]).cloned().collect();
        let mut expected: BTreeSet<(String, String)> = domains
            .iter()
            .map(|d| ("outbound".to_string(), d.clone()))
            .collect();
        expected.insert(("inbound".to_string(), "s1.list.test".to_string()));
        assert_eq!(union, expected);
        assert!(
            seen.iter().all(|s| s.len() >= 6),
            "both shards have a fair share: {seen:?}"
        );
    })
    .await
    .unwrap();
    drop(world.resolver);
}
