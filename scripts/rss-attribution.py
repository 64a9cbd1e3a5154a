#!/usr/bin/env python3
"""Where a running process's resident memory is: by mapping, by ELF section of its own binary, and, for
the binary's .text, by Swift module (or C/C++ library) of the functions on resident pages.

Usage (as root, for /proc/PID/pagemap frame numbers are not needed, only the present bit):

    scripts/rss-attribution.py PID [--window SECONDS] [--touched FILE] [--top N]

  --window S   also clear the process's referenced bits (/proc/PID/clear_refs) and, S seconds later, report
               how much of each mapping was referenced in that window (steady state; the rest is code and
               data touched only at startup, or mapped by fault-around and never touched). For shared
               libraries it also counts pages other processes used (the page cache's referenced flag).
  --touched F  a list of the binary's function symbols that ran (one mangled name a line, such as
               scripts/controller-order.py writes from a callgrind profile): then .text is also split into
               bytes of functions that ran, the 4 KiB pages holding them, and the resident rest (fault-around).
  --top N      the N largest resident symbols of the binary's .text (default 0).

Reads /proc/PID/smaps, /proc/PID/pagemap (bit 63: page present) and the binary through /proc/PID/exe
(readelf -S, nm -S). Python 3 standard library plus binutils; changes nothing but the referenced bits.
"""
import argparse
import collections
import os
import re
import struct
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def smaps(pid):
    """[(start, end, offset, path, {field: kB})] for every mapping."""
    out, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+$", fields[0]):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                path = fields[5] if len(fields) >= 6 else ""
                cur = [start, end, int(fields[2], 16), path, fields[1], {}]
                out.append(cur)
            elif fields[0].endswith(":") and len(fields) >= 2 and fields[1].isdigit():
                cur[5][fields[0][:-1]] = int(fields[1])
    return out


def mapping_name(path):
    if not path or path.startswith("["):
        return "anonymous"
    return os.path.basename(path)


def by_mapping(maps, field="Rss"):
    kb = collections.Counter()
    for m in maps:
        kb[mapping_name(m[3])] += m[5].get(field, 0)
    return kb


def present_pages(pid, start, end):
    """The addresses of the pages of [start, end) that are present (pagemap bit 63), and of those, the ones
    that are file pages (bit 61; the others are private copies: relocated or written data)."""
    n = (end - start) // PAGE
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read(n * 8)
    present, filepages = [], set()
    for i, (e,) in enumerate(struct.iter_unpack("<Q", data)):
        if e >> 63 & 1:
            a = start + i * PAGE
            present.append(a)
            if e >> 61 & 1:
                filepages.add(a)
    return present, filepages


def sections(binary):
    """[(name, vaddr, size)] of the allocated sections, from readelf -S."""
    out = subprocess.run(["readelf", "-S", "-W", binary], capture_output=True, text=True, check=True).stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\S+\s+(\S*)", line)
        if m and "A" in m.group(4) and int(m.group(2), 16):
            secs.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16)))
    return sorted(secs, key=lambda s: s[1])


def load_segments(binary):
    """[(vaddr, offset)] of the PT_LOAD segments, to turn file offsets into link-time addresses."""
    out = subprocess.run(["readelf", "-l", "-W", binary], capture_output=True, text=True, check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[2], 16), int(f[1], 16), int(f[5], 16)))  # vaddr, offset, memsz
    return segs


def symbols(binary):
    """[(vaddr, size, name)] of the defined function symbols, sorted by address."""
    out = subprocess.run(["nm", "-S", "-n", "--defined-only", binary], capture_output=True, text=True,
                         check=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwWiu":
            syms.append((int(f[0], 16), int(f[1], 16), f[3]))
    return syms


def module_of(name):
    """The Swift module a mangled symbol belongs to by its prefix, or a C/C++ group by name."""
    n = name
    for p in ("$s", "_$s", "$S", "_T0"):
        if n.startswith(p):
            rest = n[len(p):]
            if rest.startswith("s"):
                return "Swift (stdlib)"
            if rest.startswith("Sc"):
                return "Swift (_Concurrency types)"
            if rest.startswith("So"):
                return "__C (imported C types)"
            if rest.startswith("S"):
                return "Swift (stdlib)"
            m = re.match(r"(\d+)", rest)
            if m:
                k = int(m.group(1))
                return rest[len(m.group(1)):len(m.group(1)) + k]
            return "Swift (other)"
    if n.startswith(("swift_task", "swift_job", "swift_continuation", "swift_asyncLet", "swift_taskGroup")) \
            or "concurrency" in n.lower() or n.startswith("_ZN5swift") and ("Task" in n or "Async" in n or "Executor" in n):
        return "Swift concurrency runtime (C++)"
    if n.startswith(("swift_", "_swift", "_ZN5swift", "_ZN7__swift", "_ZL")):
        return "Swift runtime (C++)"
    if "dispatch" in n:
        return "libdispatch"
    if n.startswith("_Z"):
        return "C++ other"
    return "C other"


def overlap(a0, a1, b0, b1):
    return max(0, min(a1, b1) - max(a0, b0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pid", type=int)
    ap.add_argument("--window", type=float, default=0)
    ap.add_argument("--touched")
    ap.add_argument("--top", type=int, default=0)
    args = ap.parse_args()
    pid = args.pid
    exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    binary = f"/proc/{pid}/exe"
    maps = smaps(pid)
    status = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
    print(f"pid {pid}: {exe}; VmRSS {status['VmRSS'].strip()}, RssAnon {status['RssAnon'].strip()}, "
          f"RssFile {status['RssFile'].strip()}, threads {status['Threads'].strip()}")

    rss = by_mapping(maps)
    print("\nresident by mapping (MiB):")
    for name, kb in rss.most_common():
        if kb >= 100:
            print(f"  {name:32s} {kb / 1024:6.2f}")

    # The binary's own mappings, page by page.
    mine = [m for m in maps if m[3] == exe]
    segs = load_segments(binary)
    base_map = min(mine, key=lambda m: m[2])
    first = min(segs, key=lambda s: s[1])  # one load bias for a PIE
    bias = base_map[0] - (first[0] - (first[1] - base_map[2]))
    pages = []  # (link-time vaddr, is file page)
    for start, end, off, path, perms, fields in mine:
        present, filep = present_pages(pid, start, end)
        pages += [(a - bias, a in filep) for a in present]
    secs = sections(binary)
    sec_total = collections.Counter()
    sec_res = collections.Counter()
    sec_copied = collections.Counter()
    for name, va, size in secs:
        sec_total[name] += size
    for va, isfile in pages:
        covered = 0
        for name, sva, size in secs:
            o = overlap(va, va + PAGE, sva, sva + size)
            if o:
                sec_res[name] += o
                covered += o
                if not isfile:
                    sec_copied[name] += o
        if covered < PAGE:
            sec_res["(headers, padding)"] += PAGE - covered
    print(f"\n{os.path.basename(exe)}: {len(pages) * PAGE / MIB:.2f} MiB resident "
          f"({sum(1 for p in pages if not p[1]) * PAGE / MIB:.2f} MiB of it private copies: relocated or written)")
    print(f"  {'section':28s} {'size MiB':>9s} {'resident':>9s} {'copied':>7s}")
    for name, b in sorted(sec_res.items(), key=lambda x: -x[1]):
        if b >= 16 * 1024:
            print(f"  {name:28s} {sec_total.get(name, 0) / MIB:9.2f} {b / MIB:9.2f} {sec_copied.get(name, 0) / MIB:7.2f}")

    # .text by module: bytes of functions that lie on resident pages.
    text = next((s for s in secs if s[0] == ".text"), None)
    syms = symbols(binary)
    resident_pages = {va for va, _ in pages}
    mod_total, mod_res = collections.Counter(), collections.Counter()
    sym_res = []
    for va, size, name in syms:
        if not text or not (text[1] <= va < text[1] + text[2]) or size == 0:
            continue
        mod = module_of(name)
        mod_total[mod] += size
        r = 0
        p = va // PAGE * PAGE
        while p < va + size:
            if p in resident_pages:
                r += overlap(p, p + PAGE, va, va + size)
            p += PAGE
        mod_res[mod] += r
        if r:
            sym_res.append((r, name))
    print(f"\n.text by module (MiB): size, resident (bytes of functions on resident pages)")
    for mod, b in mod_res.most_common():
        if b >= 32 * 1024:
            print(f"  {mod:34s} {mod_total[mod] / MIB:7.2f} {b / MIB:7.2f}")
    rest = sum(b for m, b in mod_res.items() if b < 32 * 1024)
    print(f"  {'(smaller groups)':34s} {'':7s} {rest / MIB:7.2f}")
    spec = sum(r for r, n in sym_res if re.search(r"T[gG]q?5$|Tg5$", n))
    print(f"  of which generic specializations (Tg5): {spec / MIB:.2f}")
    if args.top:
        sym_res.sort(reverse=True)
        print(f"\nlargest resident .text symbols:")
        for r, n in sym_res[:args.top]:
            print(f"  {r / 1024:7.1f} KiB  {module_of(n):24s} {n[:100]}")

    if args.touched:
        ran = set(l.strip() for l in open(args.touched) if l.strip())
        ran_bytes, ran_pages = 0, set()
        for va, size, name in syms:
            if name in ran and text and text[1] <= va < text[1] + text[2]:
                ran_bytes += size
                ran_pages.update(range(va // PAGE, (va + size - 1) // PAGE + 1))
        chunks = {p * PAGE // 65536 for p in ran_pages}
        text_res = sec_res.get(".text", 0)
        print(f"\n.text, functions that ran ({len(ran)} names in {args.touched}):")
        print(f"  their bytes {ran_bytes / MIB:.2f} MiB; 4 KiB pages holding them {len(ran_pages) * PAGE / MIB:.2f} MiB; "
              f"64 KiB fault-around blocks holding them {len(chunks) * 65536 / MIB:.2f} MiB; .text resident {text_res / MIB:.2f} MiB")
        untouched = sum(1 for va, _ in pages if text and text[1] <= va < text[1] + text[2] and va // PAGE not in ran_pages)
        print(f"  resident .text pages holding no function that ran: {untouched * PAGE / MIB:.2f} MiB (fault-around, or not in the profile)")

    if args.window:
        before = {i: m[5].get("Referenced", 0) for i, m in enumerate(maps)}
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("1")
        time.sleep(args.window)
        after = smaps(pid)
        ref, res = collections.Counter(), collections.Counter()
        for m in after:
            ref[mapping_name(m[3])] += m[5].get("Referenced", 0)
            res[mapping_name(m[3])] += m[5].get("Rss", 0)
        print(f"\nreferenced in {args.window:.0f} s of steady state after clear_refs (MiB): resident, referenced")
        for name, kb in res.most_common():
            if kb >= 100:
                print(f"  {name:32s} {kb / 1024:6.2f} {ref[name] / 1024:6.2f}")
        print(f"  {'total':32s} {sum(res.values()) / 1024:6.2f} {sum(ref.values()) / 1024:6.2f}")


if __name__ == "__main__":
    main()
