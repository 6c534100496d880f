//! A network namespace of the test's own, joined to this host by a veth pair: a monitoring host
//! whose SMTP egress the test can cut without touching anything outside the namespace.
//!
//! Inside, the loopback interface stays down, so nothing of this host's loopback is reachable
//! unless routed: the namespace reaches the host's side of the veth pair (`host_addr`, where a
//! copy of the stack's unbound listens) and, while [`Netns::route_listeners`] is on, the stack's
//! SMTP listeners (`127.0.1.0/24`, routed through the veth with `route_localnet` set on both
//! ends). Without that route every connect to them fails at once with ENETUNREACH: port 25
//! blocked, as in many clouds. Names and the /30 are unique per process and namespace; `Drop`
//! deletes both, and a watchdog does if the test process dies first.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};

static NEXT: AtomicU8 = AtomicU8::new(0);

/// The listeners' /24 (`SMTP_NET` of the stack).
const LISTENERS: &str = "127.0.1.0/24";

pub struct Netns {
    /// The namespace's name, for `ip netns exec`.
    pub name: String,
    /// The veth end on this host.
    host_if: String,
    /// The veth end in the namespace.
    ns_if: String,
    /// This host's address on the veth pair.
    pub host_addr: Ipv4Addr,
    /// The namespace's address.
    pub ns_addr: Ipv4Addr,
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e} (iproute2: tests/stack/install-deps.sh)"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    pub fn new() -> Netns {
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // 10.213-252.Y.4n/30: one /30 per namespace of this process (at most 64).
        let second = 213 + u8::try_from(pid % 40).unwrap_or(0);
        let third = u8::try_from((pid / 40) % 256).unwrap_or(0);
        let base = (n % 64) * 4;
        let (host_addr, ns_addr) = (
            Ipv4Addr::new(10, second, third, base + 1),
            Ipv4Addr::new(10, second, third, base + 2),
        );
        let tag = format!("{}{n}", pid % 100_000);
        let netns = Netns {
            name: format!("dane-egress-{tag}"),
            host_if: format!("dveh{tag}"),
            ns_if: format!("dven{tag}"),
            host_addr,
            ns_addr,
        };
        let (ns, h, v) = (&netns.name, &netns.host_if, &netns.ns_if);
        run(&["ip", "netns", "add", ns]);
        // From here on Drop cleans up, also after a failed step.
        run(&["ip", "link", "add", h, "type", "veth", "peer", "name", v]);
        run(&["ip", "link", "set", v, "netns", ns]);
        run(&["ip", "addr", "add", &format!("{host_addr}/30"), "dev", h]);
        run(&["ip", "link", "set", h, "up"]);
        run(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{ns_addr}/30"),
            "dev",
            v,
        ]);
        run(&["ip", "-n", ns, "link", "set", v, "up"]);
        // Loopback addresses may cross this pair only: both ends, nothing else of the host.
        run(&[
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{h}.route_localnet=1"),
        ]);
        run(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sysctl",
            "-qw",
            &format!("net.ipv4.conf.{v}.route_localnet=1"),
        ]);
        // Watchdog: gone with the test process, even if it was killed before Drop ran.
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null && ip netns list | grep -qw {ns}; do sleep 1; done; \
             ip link del {h} 2>/dev/null; ip netns del {ns} 2>/dev/null; true"
        );
        let _ = Command::new("setsid")
            .args(["bash", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        netns
    }

    /// Routes the stack's SMTP listeners through the veth pair (`on`), or removes that route:
    /// every connect to them then fails with ENETUNREACH.
    pub fn route_listeners(&self, on: bool) {
        let verb = if on { "add" } else { "del" };
        let gateway = self.host_addr.to_string();
        run(&[
            "ip",
            "-n",
            &self.name,
            "route",
            verb,
            LISTENERS,
            "via",
            &gateway,
            "dev",
            &self.ns_if,
        ]);
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
