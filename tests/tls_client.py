#!/usr/bin/python3
"""Python ssl client (OpenSSL's SSL_write_ex/SSL_read_ex only). usage:
  tls_client.py get HOST PORT PATH          urllib GET
  tls_client.py post HOST PORT BYTES SEED   one sendall of the whole request (a single SSL_write_ex)
  tls_client.py writes HOST PORT COUNT SIZE COUNT separate writes of SIZE bytes as a POST body
  tls_client.py asyncio HOST PORT PATH      GET through asyncio (TLS over memory BIOs)
Prints the response body."""
import random, socket, ssl, sys, urllib.request

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
hostport = "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)

if mode == "asyncio":
    import asyncio

    async def get():
        r, w = await asyncio.open_connection(host, port, ssl=ctx)
        w.write(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (sys.argv[4], hostport)).encode())
        await w.drain()
        data = await r.read()
        w.close()
        return data

    sys.stdout.write(asyncio.run(get()).decode(errors="replace"))
    sys.exit(0)

if mode == "get":
    with urllib.request.urlopen("https://%s%s" % (hostport, sys.argv[4]), context=ctx) as r:
        sys.stdout.write(r.read().decode())
    sys.exit(0)

s = ctx.wrap_socket(socket.create_connection((host, port)))
if mode == "post":
    n, seed = int(sys.argv[4]), int(sys.argv[5])
    body = random.Random(seed).randbytes(n)
    head = "POST /big HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (hostport, n)
    s.sendall(head.encode() + body)
else:
    count, size = int(sys.argv[4]), int(sys.argv[5])
    head = "POST /many HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (hostport, count * size)
    s.sendall(head.encode())
    chunk = b"w" * size
    for _ in range(count):
        s.sendall(chunk)
data = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    data += c
sys.stdout.write(data.decode(errors="replace"))
