#!/usr/bin/env python3
"""fuse_stall.py FILE SECONDS: what any user can mount. In a user and mount namespace of
its own, mounts a FUSE file system this process serves (one file, libssl.so.3, with
FILE's bytes), has a child map that file for execution and print "mapped PID", then
answers no OPEN any more: whoever opens the file after that (as a root agent would,
through /proc/PID/map_files) waits for good, and is named in a "stalled an OPEN from
pid N" line. Exits 2 with a line if the namespace or the mount is refused."""
import ctypes
import mmap
import os
import select
import struct
import sys
import time

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
LOOKUP, FORGET, GETATTR, OPEN, READ, RELEASE, FLUSH, INIT, OPENDIR, RELEASEDIR, BATCH_FORGET = \
    1, 2, 3, 14, 15, 18, 25, 26, 27, 29, 42


def attr(ino, mode, size):
    return struct.pack("<QQQQQQIIIIIIIIII", ino, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, mode, 1, 0, 0, 0,
                       4096, 0)


def mount(libc, data):
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        sys.exit(print("no user namespace:", os.strerror(ctypes.get_errno())) or 2)
    euid, egid = os.geteuid(), os.getegid()
    open("/proc/self/setgroups", "w").write("deny")
    open("/proc/self/uid_map", "w").write(f"0 {euid} 1")
    open("/proc/self/gid_map", "w").write(f"0 {egid} 1")
    if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
        sys.exit(print("no tmpfs:", os.strerror(ctypes.get_errno())) or 2)
    os.mkdir("/tmp/f")
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"stall", b"/tmp/f", b"fuse", 6, opts) != 0:  # MS_NOSUID | MS_NODEV
        sys.exit(print("no FUSE mount:", os.strerror(ctypes.get_errno())) or 2)
    return fd


def main():
    data, secs = open(sys.argv[1], "rb").read(), float(sys.argv[2])
    fd = mount(ctypes.CDLL(None, use_errno=True), data)
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(r)
        m = mmap.mmap(os.open("/tmp/f/libssl.so.3", os.O_RDONLY), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC)
        sum(m[i] for i in range(0, len(m), 4096))
        print("mapped", os.getpid(), flush=True)
        os.write(w, b"x")
        time.sleep(secs)
        os._exit(0)
    os.close(w)
    stall, end = False, time.time() + secs

    def reply(unique, body=b"", err=0):
        os.write(fd, struct.pack("<IiQ", 16 + len(body), -err, unique) + body)
    while time.time() < end:
        ready, _, _ = select.select([fd, r], [], [], 0.5)
        if r in ready:
            stall = bool(os.read(r, 1)) or stall
        if fd not in ready:
            continue
        req = os.read(fd, (1 << 20) + 4096)
        _, op, unique, node, _, _, pid = struct.unpack_from("<IIQQIII", req)
        body = req[40:]
        if op == INIT:
            reply(unique, struct.pack("<IIIIHHIIHHII", 7, 31, 0, 0, 16, 12, 65536, 1, 32, 0, 0, 0) + b"\0" * 24)
        elif op == LOOKUP:
            found = body.rstrip(b"\0") == b"libssl.so.3"
            reply(unique, struct.pack("<QQQQII", 2, 0, 3600, 3600, 0, 0) + attr(2, 0o100755, len(data))
                  if found else b"", 0 if found else 2)
        elif op == GETATTR:
            reply(unique, struct.pack("<QII", 3600, 0, 0) +
                  (attr(1, 0o40755, 0) if node == 1 else attr(2, 0o100755, len(data))))
        elif op in (OPEN, OPENDIR) and stall:
            print("stalled an OPEN from pid", pid, flush=True)  # never answered
        elif op in (OPEN, OPENDIR):
            reply(unique, struct.pack("<QII", 1, 0, 0))
        elif op == READ:
            _, off, size = struct.unpack_from("<QQI", body)
            reply(unique, data[off:off + size])
        elif op in (RELEASE, RELEASEDIR, FLUSH):
            reply(unique)
        elif op not in (FORGET, BATCH_FORGET):
            reply(unique, err=38)  # ENOSYS


main()
