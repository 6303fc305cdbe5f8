# elf_noshdr.py IN OUT: a copy of an ELF64 file with no section headers (e_shoff,
# e_shnum and e_shstrndx zero), as sstrip and executable packers leave a file: the
# kernel loads it from its program headers alone.
import struct, sys

b = bytearray(open(sys.argv[1], "rb").read())
assert b[:4] == b"\x7fELF" and b[4] == 2, "not an ELF64 file"
b[40:48] = struct.pack("<Q", 0)
b[60:64] = struct.pack("<HH", 0, 0)
open(sys.argv[2], "wb").write(b)
