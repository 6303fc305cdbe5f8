#!/usr/bin/python3
"""HTTPS/1.1 test server for tls --merge (Python's ssl: the system libssl). usage:
h1_server.py HOST PORT CERT KEY (PORT 0: any free port, printed as "ready PORT").
GET /cl/N       N bytes with Content-Length
GET /chunked/N  N bytes in chunks of 7000 bytes (Transfer-Encoding: chunked)
GET /gzip/N     N bytes gzip-compressed (Content-Encoding: gzip, Content-Length)
GET /close/N    N bytes with neither: the body ends when the server closes
The bytes of a body of N are body(N): lines "line I of N\\n", cut to N."""
import gzip, http.server, sys

from tls_server import serve


def body(n):
    out, i, have = [], 0, 0
    while have < n:
        out.append(("line %d of %d\n" % (i, n)).encode())
        have += len(out[-1])
        i += 1
    return b"".join(out)[:n]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        kind, _, n = self.path.strip("/").partition("/")
        data = body(int(n or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if kind == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7000):
                part = data[i:i + 7000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif kind == "close":
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
        else:
            if kind == "gzip":
                data = gzip.compress(data)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, *args):
        pass


serve(Handler, sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
