#!/usr/bin/python3
"""HTTPS test server on Python's ssl module (so on the system libssl, through the
exported SSL_read_ex/SSL_write_ex). usage: tls_server.py HOST PORT CERT KEY (PORT 0: any free port, printed as "ready PORT")
GET answers "hello <path>"; POST answers "got N sha256 H" for the body it read."""
import hashlib, http.server, socket, ssl, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(("hello %s\n" % self.path).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        h, left = hashlib.sha256(), n
        while left:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        self.reply(("got %d sha256 %s\n" % (n - left, h.hexdigest())).encode())

    def log_message(self, *args):
        pass


def serve(handler, host, port, cert, key):
    """handler's HTTPS server on HOST:PORT (IPv6 if HOST has a colon), one thread per
    connection; prints "ready PORT" once it listens, then serves until killed"""
    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

    srv = Server((host, port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    serve(Handler, sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
