#!/usr/bin/env python3
"""Writes the symbol ordering file that `batchctl` is linked with (linker/batchctl.order): the functions of
the binary that `batchctl controller` runs, from its start through the `controller-rss` benchmark's
workload, so that the linker places them together and the pages the controller keeps resident hold
little else (the kernel maps a file's pages around each fault, 64 KiB at a time: code that runs
scattered among code that never does keeps that code resident too). BENCHMARKS.md, "Controller memory".

Regenerate after changes to the controller or a dependency (a stale file only costs memory: names
no longer present are ignored by the linker):

    # the release builds of batchctl, batchbench and kubesim, as the first lines of `make bench` make them
    scripts/controller-order.py profile      # about 4 minutes: the benchmark's controller under callgrind
    make check-image                         # relinks batchctl with the new order, checks it

`profile` runs `batchbench --only controller-rss` with BATCHCTL_PRODUCTS_DIR pointing at a directory whose
`batchctl` runs the release binary under `valgrind --tool=callgrind`, dumps the profile after
--seconds (default 240), stops the benchmark and the processes it started, and writes the order.
`from-profile FILE...` writes it from callgrind output files made otherwise. `check BINARY` (in `make
check-image`) fails when under 80 % of the order's names are functions of BINARY any more.
Python 3 standard library, valgrind (callgrind_control), objcopy, nm.
"""
import argparse
import glob
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = os.path.join(ROOT, "linker", "batchctl.order")


def executed_functions(files, binary_name):
    """Mangled names of the functions of object `binary_name` with a cost in callgrind output `files`, in
    the order of first appearance."""
    names, seen = [], set()
    for path in files:
        ob_names, fn_names = {}, {}
        current_ob = None
        with open(path, errors="replace") as f:
            for line in f:
                m = re.match(r"^(c?)(ob|fn)=(?:\((\d+)\))?\s*(.*)$", line.rstrip("\n"))
                if not m:
                    continue
                called, kind, ident, name = m.groups()
                table = ob_names if kind == "ob" else fn_names
                if ident is not None and name:
                    table[ident] = name
                elif ident is not None:
                    name = table.get(ident, "")
                if kind == "ob" and not called:
                    current_ob = name
                elif kind == "fn" and not called and current_ob and os.path.basename(current_ob) == binary_name:
                    if name not in seen:
                        seen.add(name)
                        names.append(name)
    return names


def write_order(names, binary):
    """Keeps the names that are function symbols of `binary` (callgrind names a few by address), writes them."""
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    functions = {f[2] for f in (l.split() for l in nm.splitlines()) if len(f) == 3 and f[1] in "tTwW"}
    kept = [n for n in names if n in functions]
    os.makedirs(os.path.dirname(ORDER), exist_ok=True)
    with open(ORDER, "w") as f:
        f.write("".join(n + "\n" for n in sorted(kept)))
    print(f"{ORDER}: {len(kept)} functions ({len(names) - len(kept)} names from the profile not symbols of {binary})")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def state(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((l for l in f if l.startswith("State:")), "").lower()
    except OSError:
        return "zombie"


def descendants(pid):
    """The pids of the processes below `pid`, from /proc (children before grandchildren)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = [], [pid]
    while frontier:
        children = [c for c, p in parent.items() if p in frontier]
        out += children
        frontier = children
    return out


def profile(seconds, release_dir):
    binary = os.path.join(release_dir, "batchctl")
    work = tempfile.mkdtemp(prefix="controller-order-")
    # Valgrind 3.19 (Debian 12) cannot read the DWARF 5 the toolchain writes: profile a copy without it
    # (the symbol table, all the order needs, stays).
    profiled = os.path.join(work, "batchctl.nodebug")
    subprocess.run(["objcopy", "--strip-debug", binary, profiled], check=True)
    wrapper = os.path.join(work, "batchctl")
    out = os.path.join(work, "callgrind.out.%p")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --demangle=no --dump-instr=no "
                f"--callgrind-out-file={out} {profiled} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    os.symlink(os.path.join(release_dir, "kubesim"), os.path.join(work, "kubesim"))
    env = dict(os.environ, BATCHCTL_PRODUCTS_DIR=work)
    bench = subprocess.Popen([os.path.join(release_dir, "batchbench"), "--only", "controller-rss"], env=env,
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(seconds)
        # The controller is the benchmark's descendant running valgrind: dump its profile.
        pids = [p for p in descendants(bench.pid) if "callgrind" in cmdline(p)]
        if not pids:
            sys.exit("the controller under callgrind is not running (see the benchmark's output)")
        for pid in pids:
            subprocess.run(["callgrind_control", "-d", str(pid)], check=False, stdout=subprocess.DEVNULL)
        time.sleep(5)
    finally:
        # Stop the benchmark and every process it started (redis-server, KubeSim, the controller), by pid.
        # A controller under valgrind may not finish a graceful shutdown: SIGKILL what is left after 10 s.
        pids = [bench.pid] + descendants(bench.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 10
            while time.time() < deadline and any(os.path.exists(f"/proc/{p}") and "zombie" not in state(p) for p in pids[1:]):
                time.sleep(0.5)
        bench.wait()
    files = [p for p in glob.glob(os.path.join(work, "callgrind.out.*"))]
    names = executed_functions(files, "batchctl.nodebug")
    print(f"profile: {len(files)} files in {work}, {len(names)} functions of batchctl ran")
    write_order(names, binary)


def check(binary, minimum):
    """How much of the order still names functions of `binary`; fails below `minimum` (a fraction)."""
    names = [l.strip() for l in open(ORDER) if l.strip()]
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    functions = {f[2] for f in (l.split() for l in nm.splitlines()) if len(f) == 3 and f[1] in "tTwW"}
    present = sum(1 for n in names if n in functions)
    share = present / len(names) if names else 0
    verdict = "ok" if share >= minimum else "FAIL"
    print(f"{verdict}: {present} of the {len(names)} functions of {os.path.relpath(ORDER, ROOT)} are in {binary} "
          f"({share:.0%}; under {minimum:.0%}: regenerate it with scripts/controller-order.py profile)")
    return share >= minimum


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("profile")
    p.add_argument("--seconds", type=int, default=240)
    p.add_argument("--release-dir", default=os.path.join(ROOT, ".build", "release"))
    f = sub.add_parser("from-profile")
    f.add_argument("files", nargs="+")
    f.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "batchctl"))
    c = sub.add_parser("check")
    c.add_argument("binary")
    c.add_argument("--minimum", type=float, default=0.8)
    args = ap.parse_args()
    if args.command == "check":
        sys.exit(0 if check(args.binary, args.minimum) else 1)
    if args.command == "profile":
        profile(args.seconds, os.path.abspath(args.release_dir))
    else:
        write_order(executed_functions(args.files, "batchctl"), args.binary)


if __name__ == "__main__":
    main()
