#!/usr/bin/python3
"""Compares our x86-64 instruction boundaries (unit insns FILE) with objdump's over a
whole .text section. usage: insn_compare.py OURS.txt OBJDUMP.txt
Boundaries must agree everywhere except right around bytes objdump itself calls
"(bad)" (data that assembly functions keep in .text): there a decoder may resync
differently. Prints one summary line; exit 1 on any other disagreement."""
import bisect, re, sys

ours = [int(l, 16) for l in open(sys.argv[1]) if re.fullmatch(r"[0-9a-f]+\n", l)]
theirs, bad = [], []
for l in open(sys.argv[2]):
    m = re.match(r"\s+([0-9a-f]+):\s+(.*)", l)
    if not m:
        continue
    a = int(m.group(1), 16)
    theirs.append(a)
    if "(bad)" in m.group(2):
        bad.append(a)
bad.sort()
diff = sorted(set(ours) ^ set(theirs))


def near_bad(a):
    i = bisect.bisect_left(bad, a - 48)
    return i < len(bad) and bad[i] <= a + 16


unexplained = [a for a in diff if not near_bad(a)]
print("%d instructions decoded, objdump %d, %d differ (all within bytes objdump calls (bad): %s)"
      % (len(ours), len(theirs), len(diff), "yes" if not unexplained else "no, first at 0x%x" % unexplained[0]))
sys.exit(0 if ours and not unexplained and len(diff) < len(ours) // 1000 else 1)
