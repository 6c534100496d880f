#!/usr/bin/env python3
"""Delays every IP packet between two network namespaces by a fixed time each way.

tests/bench/run.sh uses this where `tc qdisc ... netem` is unavailable (a kernel built without
CONFIG_NET_SCH_NETEM, as on our build VMs). It attaches to one TUN device in each namespace
(`ip tuntap add mode tun` made them, without packet information headers), reads every packet the
kernel routes into one device and writes it to the other device after DELAY_MS. That is what netem
does on an interface: SYN, SYN-ACK, data, ACKs and UDP datagrams all arrive DELAY_MS later, so a
round trip costs 2 * DELAY_MS. The delay is constant, so a FIFO per direction keeps the order.

Usage: delay_relay.py NETNS_A TUN_A NETNS_B TUN_B DELAY_MS   (as root; runs until killed)
"""

import ctypes
import fcntl
import os
import struct
import sys
import threading
import time
from collections import deque

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def open_tun(netns, name):
    """Opens TUN device `name` inside network namespace `netns` (this thread moves there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/run/netns/{netns}") as ns:
        if libc.setns(ns.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def pump(src, dst, delay):
    """Moves packets from fd `src` to fd `dst`, each `delay` seconds after it was read."""
    queue = deque()
    ready = threading.Condition()

    def writer():
        while True:
            with ready:
                while not queue:
                    ready.wait()
                due, packet = queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                os.write(dst, packet)
            except OSError:
                pass  # the far side may be down for a moment; a lost packet is what a link does

    threading.Thread(target=writer, daemon=True).start()
    while True:
        packet = os.read(src, 65536)
        with ready:
            queue.append((time.monotonic() + delay, packet))
            ready.notify()


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    ns_a, tun_a, ns_b, tun_b, delay_ms = sys.argv[1:]
    delay = float(delay_ms) / 1000.0
    a = open_tun(ns_a, tun_a)
    b = open_tun(ns_b, tun_b)
    threading.Thread(target=pump, args=(a, b, delay), daemon=True).start()
    threading.Thread(target=pump, args=(b, a, delay), daemon=True).start()
    print("relay ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
