#!/usr/bin/env python3
"""Tiny TCP listeners for the stack's patience and reachability scenarios (tests/stack/up.sh).

Usage: relay.py SPEC...
  silent:ADDR:PORT                          accept TCP, read and discard, never send a byte
                                            (a server that times out before its banner)
  delay:ADDR:PORT:BACKEND:BPORT[:SECONDS]   relay to BACKEND:BPORT; the server's bytes reach the
                                            client only SECONDS (default: $STACK_GREET_DELAY, else
                                            3) after the client connected: a greet-pausing server.
                                            Client bytes are forwarded at once.

IPv4 addresses only. Runs until SIGTERM/SIGINT; up.sh starts it in the background and writes its
PID to RUNDIR/relay/relay.pid, down.sh stops it by that PID. Every accepted connection is logged
to stdout (up.sh sends it to RUNDIR/relay/relay.log).
"""
import asyncio
import os
import signal
import sys
import time


def log(*words):
    print(time.strftime("%H:%M:%S"), *words, flush=True)


async def silent(reader, writer):
    peer = writer.get_extra_info("peername")
    log("silent: accepted", peer)
    try:
        while await reader.read(4096):
            pass
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
    log("silent: closed", peer)


async def pump(reader, writer, hold_until=None):
    try:
        first = True
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if first and hold_until is not None:
                wait = hold_until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            first = False
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


def delay_handler(backend, bport, seconds):
    async def handle(reader, writer):
        start = time.monotonic()
        peer = writer.get_extra_info("peername")
        log(f"delay: accepted {peer}, holding the server's first bytes {seconds}s")
        try:
            breader, bwriter = await asyncio.open_connection(backend, bport)
        except OSError as e:
            log("delay: backend", backend, bport, "unreachable:", e)
            writer.close()
            return
        await asyncio.gather(
            pump(reader, bwriter),
            pump(breader, writer, hold_until=start + seconds),
        )
        log("delay: closed", peer)

    return handle


async def main(specs):
    servers = []
    default_delay = float(os.environ.get("STACK_GREET_DELAY", "3"))
    for spec in specs:
        parts = spec.split(":")
        if parts[0] == "silent" and len(parts) == 3:
            srv = await asyncio.start_server(silent, parts[1], int(parts[2]), reuse_address=True)
        elif parts[0] == "delay" and len(parts) in (5, 6):
            seconds = float(parts[5]) if len(parts) == 6 else default_delay
            handler = delay_handler(parts[3], int(parts[4]), seconds)
            srv = await asyncio.start_server(handler, parts[1], int(parts[2]), reuse_address=True)
        else:
            sys.exit(f"relay.py: bad spec {spec!r} (see the usage in {sys.argv[0]})")
        log("listening", spec)
        servers.append(srv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
    log("stopped")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1:]))
