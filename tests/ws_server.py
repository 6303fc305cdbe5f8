#!/usr/bin/python3
"""A third-party eCaptureQ server for `ecaptureq watch`: Debian's python3-websockets
sending LogEntry messages made by protoc-generated python3-protobuf code, with what our
server never sends: fields left unset, an event with only payload (eCapture's style),
unknown field numbers, fragmented messages, pings, binary and 1 MiB payloads, a
message that does not decode. usage: ws_server.py PORT RESULTFILE [--bad-accept]
Writes "pong ok" to RESULTFILE when watch answered the ping."""
import asyncio, os, socket, sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "out"))
import ecaptureq_pb2 as pb  # noqa: E402
import websockets  # noqa: E402

port, result = int(sys.argv[1]), sys.argv[2]


def messages():
    e = pb.LogEntry(log_type=pb.LOG_TYPE_PROCESS_LOG, run_log="third-party server log \u20ac")
    yield e.SerializeToString()
    e = pb.LogEntry(log_type=pb.LOG_TYPE_EVENT)
    e.event_payload.payload = b"only a payload, as eCapture sends"
    e.event_payload.length = 33
    yield e.SerializeToString()
    e = pb.LogEntry(log_type=pb.LOG_TYPE_EVENT)
    v = e.event_payload
    v.timestamp, v.uuid, v.src_ip, v.src_port, v.dst_ip, v.dst_port = 1700000000123456789, "9_9_x_1", "10.0.0.1", 1, "::1", 2
    v.pid, v.pname, v.type, v.length, v.payload = 9, "binproc", 0, 300, bytes(range(256)) + b"\x00" * 44
    # unknown fields: in the event (field 99 varint, field 98 bytes) and in the entry (field 50 fixed64)
    inner = v.SerializeToString() + b"\x98\x06\x07" + b"\x92\x06\x03abc"
    yield b"\x08\x02" + b"\x12" + encode_varint(len(inner)) + inner + b"\x91\x03" + b"\x01" * 8
    e = pb.LogEntry(log_type=pb.LOG_TYPE_EVENT)
    e.event_payload.pid, e.event_payload.pname = 7, "bigproc"
    e.event_payload.payload = b"B" * (1 << 20)
    e.event_payload.length = 1 << 20
    yield [e.SerializeToString()[i:i + 100000] for i in range(0, len(e.SerializeToString()), 100000)]  # fragmented
    yield b"\x12\x05\x08"  # does not decode: length past the end
    e = pb.LogEntry(log_type=pb.LOG_TYPE_HEARTBEAT)
    e.heartbeat_payload.count, e.heartbeat_payload.message = 5, "heartbeat:5"
    yield e.SerializeToString()


def encode_varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


async def handler(ws, path=None):
    for m in messages():
        await ws.send(m)
    pong = await ws.ping(b"are you there")
    try:
        await asyncio.wait_for(pong, 5)
        open(result, "w").write("pong ok\n")
    except asyncio.TimeoutError:
        open(result, "w").write("no pong\n")
    await ws.close(1000, "done")


async def main():
    async with websockets.serve(handler, "127.0.0.1", port, max_size=None) as srv:
        print("ready %d" % srv.sockets[0].getsockname()[1], flush=True)
        await asyncio.sleep(60)


def bad_accept():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    print("ready %d" % s.getsockname()[1], flush=True)
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    c.recv(4096)


if "--bad-accept" in sys.argv:
    bad_accept()
else:
    asyncio.run(main())
