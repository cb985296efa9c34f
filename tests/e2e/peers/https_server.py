# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# An HTTPS server on the standard library (http.server + ssl, the
# interpreter's dynamic libssl): https_server.py PORT CERT KEY [BIND]
# (BIND: 127.0.0.1, or an address of a network namespace the test made)
#   /ok          200 "ok\n"
#   /status/N    status N, body "status N\n"
#   /slow?ms=N   200 after N ms
# HTTP/1.1 with keep-alive, one thread per connection.
import http.server
import ssl
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/ok":
            self.reply(200, "ok\n")
        elif url.path.startswith("/status/"):
            code = int(url.path[len("/status/"):])
            self.reply(code, "status %d\n" % code)
        elif url.path == "/slow":
            ms = int(urllib.parse.parse_qs(url.query).get("ms", ["0"])[0])
            time.sleep(ms / 1000.0)
            self.reply(200, "slow\n")
        else:
            self.reply(404, "not found\n")


def main():
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    bind = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    srv = http.server.ThreadingHTTPServer((bind, port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


main()
