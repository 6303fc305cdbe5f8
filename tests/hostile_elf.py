#!/usr/bin/env python3
"""hostile_elf.py DIR: writes ELF files made to stall or mislead an ELF parser into DIR
(issue 20, items 2 and 5), one per attack, and prints their names.
hostile_elf.py --seeds DIR: the same shapes, a few kilobytes each (tests/corpus/elf), each
also as an arm64 file (NAME-arm64).

Stalls (an unbounded parser spends seconds to days on each):
  issue-40k-10symtab.so  the issue's file: 40,000 symbols, a 1 MB string table without
                         NUL, 10 SHT_SYMTAB sections listing the same symbols (1.9 MB)
  symtab-65535.so        the same with 65,535 sections: 65,533 SHT_SYMTAB, and the
                         section names in the NUL-free table too
  shstrtab-65535.so      65,535 sections whose names all point into a NUL-free 1 MB table
  symbols-over.so        one symbol table of ECQ_ELF_MAX_SYMBOLS + 1 function symbols
  pclntab-nonul.go       Go's function table: 1,000,000 functions whose names run into a
                         NUL-free name table
  pclntab-over.go        the same with ECQ_ELF_MAX_GO_FUNCS + 1 functions
  bounded-worst.so       what is left inside the bounds: .symtab and .dynsym of 1,048,576
                         symbols and a pclntab of 1,048,576 functions, every name a prefix
                         match of what is looked for
Probes outside code:
  fake-libssl.so.3       SSL_write and SSL_read in a read-only PT_LOAD, SSL_read_ex past
                         p_filesz, SSL_write_ex across the end of the executable segment;
                         SSL_free (only) in executable code
  pclntab-data.go        crypto/tls.(*Conn).Read found in the pclntab, but in a data segment

Every string table repeats a name the agent looks for, without its terminating NUL, so a
bounded comparison still reads its whole length each time."""
import os
import struct
import sys

MAX = 1048576        # ECQ_ELF_MAX_SYMBOLS, ECQ_ELF_MAX_GO_FUNCS in ecaptureq.h
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_DYNSYM = 1, 2, 3, 11
PF_X, PF_R = 1, 4
TEXT = 0x1000        # the executable segment: file offset = address


class Elf:
    """A file as blobs appended after the ELF and program headers, section headers last.
    Addresses equal file offsets, so a PT_LOAD segment is (flags, offset, filesz, memsz)."""

    def __init__(self, nphdr):
        self.body = bytearray(64 + 56 * nphdr)
        self.phdrs, self.sections = [], [(0, 0, 0, 0, 0, 0, 0)]
        self.shstrndx = 0

    def add(self, data, align=16):
        self.body += b"\0" * (-len(self.body) % align)
        off = len(self.body)
        self.body += data
        return off

    def section(self, name_off, type_, off, size, link=0, entsize=0, addr=0):
        self.sections.append((name_off, type_, addr, off, size, link, entsize))
        return len(self.sections) - 1

    def write(self, path):
        self.body += b"\0" * (-len(self.body) % 64)
        shoff, shnum = len(self.body), len(self.sections)
        for name, type_, addr, off, size, link, entsize in self.sections:
            self.body += struct.pack("<IIQQQQIIQQ", name, type_, 0, addr, off, size, link, 0, 1, entsize)
        ident = b"\x7fELF\x02\x01\x01" + b"\0" * 9
        self.body[0:64] = ident + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 64, shoff, 0, 64, 56,
                                              len(self.phdrs), 64, shnum, self.shstrndx)
        for i, (flags, off, filesz, memsz) in enumerate(self.phdrs):
            self.body[64 + 56 * i:120 + 56 * i] = struct.pack("<IIQQQQQQ", 1, flags, off, off, off, filesz,
                                                              memsz, 4096)
        with open(path, "wb") as f:
            f.write(self.body)


def nonul(name, size):
    """size bytes of name repeated, no NUL anywhere"""
    return (name.encode() * (size // len(name) + 1))[:size]


def symbols(count, name_len, str_size, addr, size=16, info=0x12):
    """count STT_FUNC GLOBAL symbols named at multiples of name_len in the string table"""
    one = [struct.pack("<IBBHQQ", (k * name_len) % (str_size - name_len), info, 0, 1, addr, size)
           for k in range(min(count, 4096))]
    block = b"".join(one)
    return (block * (count // len(one) + 1))[:24 * count]


def text(elf, size=4096, memsz=0):
    """an executable segment of RETs at TEXT (memsz: with a zero-filled tail)"""
    elf.body += b"\0" * (TEXT - len(elf.body))
    elf.phdrs.append((PF_R | PF_X, TEXT, size, memsz or size))
    return elf.add(b"\xc3" * size)


def symtab_file(path, nsymtab, nsyms, names_in_strtab):
    """nsymtab SHT_SYMTAB sections over one table of nsyms symbols and one NUL-free table"""
    e = Elf(1)
    text(e)
    strtab = e.add(nonul("SSL_write", 1 << 20))
    syms = e.add(symbols(nsyms, 9, 1 << 20, TEXT), 8)
    s = e.section(0, SHT_STRTAB, strtab, 1 << 20)
    for _ in range(nsymtab):
        e.section(0, SHT_SYMTAB, syms, 24 * nsyms, link=s, entsize=24)
    if names_in_strtab:
        e.shstrndx = s
    e.write(path)


def shstrtab_file(path):
    e = Elf(1)
    text(e)
    e.shstrndx = e.section(0, SHT_STRTAB, e.add(nonul(".gopclntab", 1 << 20)), 1 << 20)
    for _ in range(65533):
        e.section(0, SHT_PROGBITS, TEXT, 16)
    e.write(path)


def pclntab(nfunc, name, names_size, entry_size=16):
    """a Go 1.20 pclntab (magic 0xfffffff1) of nfunc functions, every one pointing to
    one _func record whose name runs into a NUL-free name table"""
    names_off, ftab_off = 72, 72 + names_size
    func_off = 8 * (nfunc + 1)          # from ftab_off: after the functab
    hdr = struct.pack("<IBBBBQQQQQQQQ", 0xfffffff1, 0, 0, 1, 8, nfunc, 0, TEXT, names_off, 0, 0, 0, ftab_off)
    entries = struct.pack("<II", 0, func_off) + b"".join(
        struct.pack("<II", entry_size * k, func_off) for k in range(1, 4096))
    ftab = (entries * ((nfunc + 1) // 4096 + 1))[:8 * (nfunc + 1)]
    func = struct.pack("<II", 0, 0) + b"\0" * 32
    return hdr + nonul(name, names_size) + ftab + func


def go_file(path, table, data_segment=False, text_size=1 << 16):
    e = Elf(2)
    text(e, text_size)
    off = e.add(table, 32)
    names = e.add(b"\0.gopclntab\0.go.buildinfo\0")
    e.shstrndx = e.section(0, SHT_STRTAB, names, 26)
    e.section(1, SHT_PROGBITS, off, len(table), addr=off)
    if data_segment:                     # the pclntab's text start moved into data
        struct.pack_into("<Q", e.body, off + 24, off)
    e.phdrs.append((PF_R, off, len(table), len(table)))
    e.write(path)


def noshdr_go(path, copies=1):
    """a Go file whose section headers are gone: build information, a pclntab and the
    runtime.firstmoduledata that points at it, found by their magic in a data segment;
    copies > 1 repeats the pclntab header (every copy a candidate) before the real one"""
    e = Elf(2)
    text(e, 256)
    start = len(e.body)
    e.add(b"\xff Go buildinf:\x08\x02" + b"\0" * 16 + bytes([8]) + b"go1.21.0", 16)
    table = pclntab(2, "crypto/tls.(*Conn).Read\0", 25)
    for _ in range(copies):
        va = e.add(table, 32)
    e.add(struct.pack("<QQ", va, va + 72) + b"\0" * 160 + struct.pack("<Q", TEXT), 8)
    e.phdrs.append((PF_R | 2, start, len(e.body) - start, len(e.body) - start))  # PF_W
    e.write(path)
    with open(path, "r+b") as f:         # no section headers: e_shoff, e_shnum, e_shstrndx
        f.seek(40), f.write(b"\0" * 8), f.seek(60), f.write(b"\0" * 4)


def bounded_worst(path):
    e = Elf(1)
    text(e)
    name = "crypto/tls.(*Conn).Read"
    go = e.add(pclntab(MAX, name, 1 << 20), 32)
    strtab = e.add(nonul("SSL_write", 1 << 20))
    syms = e.add(symbols(MAX, 9, 1 << 20, TEXT, info=0x12), 8)
    names = e.add(b"\0.gopclntab\0")
    e.shstrndx = e.section(0, SHT_STRTAB, names, 12)
    s = e.section(0, SHT_STRTAB, strtab, 1 << 20)
    e.section(0, SHT_SYMTAB, syms, 24 * MAX, link=s, entsize=24)
    e.section(0, SHT_DYNSYM, syms, 24 * MAX, link=s, entsize=24)
    e.section(1, SHT_PROGBITS, go, 72 + (1 << 20) + 8 * (MAX + 1) + 40)
    e.write(path)


def fake_libssl(path):
    """SSL_write/SSL_read in a read-only segment, SSL_read_ex in the executable
    segment's zero-filled tail, SSL_write_ex across its end, SSL_free inside"""
    e = Elf(2)
    code = text(e, 4096, 8192)
    e.body += b"\0" * 4096
    rodata = e.add(b"\x90" * 4096, 4096)
    e.phdrs.append((PF_R, rodata, 4096, 4096))
    names = b"\0SSL_write\0SSL_read\0SSL_read_ex\0SSL_write_ex\0SSL_free\0.symtab\0.strtab\0"
    at = {n: names.index(b"\0" + n.encode() + b"\0") + 1 for n in
          ("SSL_write", "SSL_read", "SSL_read_ex", "SSL_write_ex", "SSL_free", ".symtab", ".strtab")}
    placed = [("SSL_write", rodata, 64), ("SSL_read", rodata + 128, 64), ("SSL_read_ex", code + 4096, 16),
              ("SSL_write_ex", code + 4096 - 8, 16), ("SSL_free", code + 256, 32)]
    syms = b"\0" * 24 + b"".join(struct.pack("<IBBHQQ", at[n], 0x12, 0, 1, a, sz) for n, a, sz in placed)
    strtab = e.add(names)
    symoff = e.add(syms, 8)
    e.shstrndx = s = e.section(0, SHT_STRTAB, strtab, len(names))
    e.section(at[".symtab"], SHT_SYMTAB, symoff, len(syms), link=s, entsize=24)
    e.write(path)


SEEDS = {
    "seed-symtabs.so": lambda p: symtab_small(p),
    "seed-pclntab-nonul.go": lambda p: go_file(p, pclntab(64, "crypto/tls.(*Conn).Read", 512), text_size=256),
    "seed-fake-libssl.so.3": lambda p: fake_libssl(p),
    "seed-pclntab-data.go": lambda p: go_file(p, pclntab(2, "crypto/tls.(*Conn).Read\0", 25), True, 256),
    "seed-noshdr.go": lambda p: noshdr_go(p),
}


def symtab_small(path):
    """64 SHT_SYMTAB sections over 64 symbols and a NUL-free 1 KB table"""
    e = Elf(1)
    text(e, 256)
    strtab = e.add(nonul("SSL_read", 1024))
    syms = e.add(symbols(64, 8, 1024, TEXT), 8)
    e.shstrndx = s = e.section(0, SHT_STRTAB, strtab, 1024)
    for _ in range(64):
        e.section(0, SHT_SYMTAB, syms, 24 * 64, link=s, entsize=24)
    e.write(path)


def main():
    if sys.argv[1] == "--seeds":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, make in SEEDS.items():
            path = os.path.join(sys.argv[2], name)
            make(path)
            b = bytearray(open(path, "rb").read())  # the same shape as arm64 (EM_AARCH64)
            b[18:20] = struct.pack("<H", 183)
            open(path + "-arm64", "wb").write(b)
        return
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    files = {
        "issue-40k-10symtab.so": lambda p: symtab_file(p, 10, 40000, False),
        "symtab-65535.so": lambda p: symtab_file(p, 65533, 40000, True),
        "shstrtab-65535.so": shstrtab_file,
        "symbols-over.so": lambda p: symtab_file(p, 1, MAX + 1, False),
        "pclntab-nonul.go": lambda p: go_file(p, pclntab(1000000, "crypto/tls.(*Conn).Read", 1 << 20)),
        "pclntab-over.go": lambda p: go_file(p, pclntab(MAX + 1, "crypto/tls.(*Conn).Read", 1 << 20)),
        "bounded-worst.so": bounded_worst,
        "fake-libssl.so.3": fake_libssl,
        "pclntab-data.go": lambda p: go_file(p, pclntab(2, "crypto/tls.(*Conn).Read\0", 25), True),
    }
    for name, make in files.items():
        make(os.path.join(d, name))
        print(name)


if __name__ == "__main__":
    main()
