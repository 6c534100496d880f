#!/usr/bin/env python3
"""Writes the world of the benchmark's outbound-at-scale rounds (tests/bench/run.sh).

N recipient domains over H MX hosts with a Zipf-like share: host j (0-based) carries a share
proportional to 1 / (j + 1) ** S, so with H = 2000 and S = 1.15 the top 10 hosts carry about half
the domains and the top one about a fifth, as a few large providers do. Each domain gets its host
by the inverse of that distribution at a low-discrepancy point ((k * golden ratio) mod 1), so the
assignment is deterministic and every host gets about its share. Every host has one IPv4 address,
10.55.(j // 250).(j % 250 + 1); hosts with j >= 10 and j % DEAD_EVERY == 10 are black-holed (the
benchmark drops SYNs to them): about 3% of the addresses, none of the ten largest.

TTLs as providers publish them: MX 3600 s, A 300 s, TLSA 3600 s, SOA MINIMUM (the negative TTL
of the AAAA NODATA every host answers) 300 s.

Usage: zipf_world.py N H S DEAD_EVERY SPKI_SHA256_HEX OUTDIR
Writes OUTDIR/zipf.test.zone, OUTDIR/zipf-N.txt (the domain list), OUTDIR/zipf-addresses.txt
(one address per host, host order) and OUTDIR/zipf-dead.txt (the black-holed addresses); prints
one key=value line: top10_share, top1_share, dead_hosts, dead_domains, hosts_used.
"""

import bisect
import math
import os
import sys


def address(j):
    return f"10.55.{j // 250}.{j % 250 + 1}"


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    n, hosts, s, dead_every = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    spki, out = sys.argv[5], sys.argv[6]
    weights = [1.0 / (j + 1) ** s for j in range(hosts)]
    total = sum(weights)
    cumulative = []
    acc = 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    dead = {j for j in range(hosts) if j >= 10 and j % dead_every == 10}
    phi = (math.sqrt(5) - 1) / 2
    used = set()
    dead_domains = 0
    with open(os.path.join(out, "zipf.test.zone"), "w") as zone, open(
        os.path.join(out, f"zipf-{n}.txt"), "w"
    ) as listing:
        zone.write("$ORIGIN zipf.test.\n$TTL 3600\n")
        zone.write("@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 10.54.0.53\n")
        for j in range(hosts):
            zone.write(f"h{j} 300 A {address(j)}\n_25._tcp.h{j} 3600 TLSA 3 1 1 {spki}\n")
        listing.write(f"# {n} recipient domains over {hosts} MX hosts, Zipf s={s}\n")
        for k in range(1, n + 1):
            u = (k * phi) % 1.0
            j = min(bisect.bisect_left(cumulative, u), hosts - 1)
            used.add(j)
            dead_domains += j in dead
            zone.write(f"d{k} 3600 MX 10 h{j}\n")
            listing.write(f"d{k}.zipf.test\n")
    with open(os.path.join(out, "zipf-addresses.txt"), "w") as f:
        f.write("".join(address(j) + "\n" for j in range(hosts)))
    with open(os.path.join(out, "zipf-dead.txt"), "w") as f:
        f.write("".join(address(j) + "\n" for j in sorted(dead)))
    print(
        f"top10_share={sum(weights[:10]) / total:.3f} top1_share={weights[0] / total:.3f} "
        f"dead_hosts={len(dead)} dead_domains={dead_domains} hosts_used={len(used)}"
    )


if __name__ == "__main__":
    main()
