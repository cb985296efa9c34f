# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Test peer for the xtap end-to-end tests: a thread-per-request HTTP server
that, for GET /relay?url=U, fetches U (http://127.0.0.1 or [::1] only) and
answers with its status. Usage: python3 relay.py PORT [BIND [HOST...]]: BIND
defaults to 127.0.0.1; each HOST (an address of a network namespace the test
made) may also be fetched; https:// URLs are verified against the
certificate in $RELAY_CA."""
import http.server
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        target = urllib.parse.parse_qs(u.query).get("url", [""])[0]
        t = urllib.parse.urlsplit(target)
        if u.path != "/relay" or t.scheme not in ("http", "https") or t.hostname not in ALLOWED:
            self.answer(400, b"relay: url must be http://127.0.0.1...\n")
            return
        try:
            with urllib.request.urlopen(target, timeout=10, context=TLS) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except OSError as e:
            self.answer(502, ("relay: %s\n" % e).encode())
            return
        self.answer(status, b"relayed %d %d\n" % (status, len(body)))

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ALLOWED = ("127.0.0.1", "::1") + tuple(sys.argv[3:])
TLS = ssl.create_default_context(cafile=os.environ["RELAY_CA"]) if os.environ.get("RELAY_CA") else None
BIND = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
http.server.ThreadingHTTPServer((BIND, int(sys.argv[1])), Relay).serve_forever()
