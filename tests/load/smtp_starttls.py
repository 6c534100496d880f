#!/usr/bin/env python3
"""Minimal STARTTLS SMTP listener for the load test: 220, EHLO (advertises STARTTLS), STARTTLS,
TLS handshake, then 250 to anything and 221 to QUIT. Never accepts mail. Usage:
smtp_starttls.py CERT KEY ADDR:PORT [ADDR:PORT...]"""
import socket
import socketserver
import ssl
import sys
import threading


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def handle(self):
        try:
            self.dialogue()
        except OSError:  # resets and TLS errors: the probe hung up, nothing to report
            pass

    def dialogue(self):
        sock = self.request
        f = sock.makefile("rwb")
        f.write(b"220 load.test ESMTP\r\n")
        f.flush()
        tls = None
        while True:
            line = f.readline(4096)
            if not line:
                return
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                ext = b"" if tls else b"250-STARTTLS\r\n"
                f.write(b"250-load.test\r\n" + ext + b"250 8BITMIME\r\n")
            elif verb == b"STARTTLS" and tls is None:
                f.write(b"220 go ahead\r\n")
                f.flush()
                try:
                    tls = CTX.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                f = tls.makefile("rwb")
                continue
            elif verb == b"QUIT":
                f.write(b"221 bye\r\n")
                f.flush()
                return
            else:
                f.write(b"250 ok\r\n")
            f.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
CTX.load_cert_chain(sys.argv[1], sys.argv[2])
for spec in sys.argv[3:]:
    host, port = spec.rsplit(":", 1)
    srv = Server((host, int(port)), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
threading.Event().wait()
