#!/usr/bin/env python3
"""sparse_elf.py DIR SECONDS: what a local user can make the agent read, at no cost to
itself, run as that user. Writes and maps for execution (as a loader would) three x86-64
ELF files whose .rodata (a read-only PT_LOAD) covers nearly all of the file:
  DIR/sparse-64g.so  64 GiB, all holes but its headers (on the file system of DIR)
  memfd:sparse-64g   the same as a memfd: what a reader's mapping touches there is
                     memory, allocated to whoever touches it
  DIR/dense-96m.so   96 MiB of zeros actually written (over ECQ_ELF_MAX_DATA_SCAN)
prints "mapped" once all three are, holds them SECONDS, then prints how many bytes the
memfd holds ("memfd-bytes N": what reading it allocated)."""
import mmap
import os
import struct
import sys
import time


def elf(fd, size, dense=False):
    if dense:
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            os.write(fd, chunk)
    os.ftruncate(fd, size)
    ph = [(5, 4096, 4096), (4, 8192, size - 12288)]
    names = b"\0.shstrtab\0.rodata\0"
    head = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 3, 62, 1, 0, 64, size - 4096, 0, 64, 56, len(ph), 64, 3, 1)
    for flags, off, sz in ph:
        head += struct.pack("<IIQQQQQQ", 1, flags, off, off, off, sz, sz, 4096)
    os.pwrite(fd, head, 0)
    os.pwrite(fd, b"\xc3" * 4096, 4096)
    secs = [(0, 0, 0, 0, 0), (1, 3, 0, size - 4096 + 3 * 64, len(names)), (11, 1, 8192, 8192, size - 12288)]
    tab = b"".join(struct.pack("<IIQQQQIIQQ", n, t, 0, a, o, s, 0, 0, 1, 0) for n, t, a, o, s in secs)
    os.pwrite(fd, tab + names, size - 4096)


def main():
    d, secs = sys.argv[1], float(sys.argv[2])
    fds = [os.open(os.path.join(d, "sparse-64g.so"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644),
           os.memfd_create("sparse-64g"),
           os.open(os.path.join(d, "dense-96m.so"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)]
    elf(fds[0], 64 << 30)
    elf(fds[1], 64 << 30)
    elf(fds[2], 96 << 20, dense=True)
    maps = [mmap.mmap(fd, 0, prot=mmap.PROT_READ | mmap.PROT_EXEC) for fd in fds]
    print("mapped", flush=True)
    time.sleep(secs)
    print("memfd-bytes", os.fstat(fds[1]).st_blocks * 512, flush=True)
    del maps


main()
