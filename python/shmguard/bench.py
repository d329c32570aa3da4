"""The binding's benchmark: ``python3 -m shmguard.bench [--quick] [--peer PATH]``.

Prints ``KEY VALUE UNIT`` lines, as tools/bench does for the C library; each
figure is a ratio or difference of medians against its peer measured in the
same run on the same stream:

* ``py.read.1MiB.vs_copyto``: numpy.copyto from the stream's mapping (no
  guard) time over ``Stream.read()`` time, 1 MiB frames (1 = as fast; goal
  >= 0.9). ``py.read_out.1MiB.vs_copyto``: the same with ``read(out=)``.
* ``py.read.4KiB.overhead_us``: ``Stream.read()`` of a 4 KiB frame minus the
  C library's own ``shmg_isio_read`` of it, timed in C by the peer program
  (goal <= 2 us). Without a peer, against a bare cffi call (key
  ``py.read.4KiB.overhead_vs_cffi_us``).
* ``py.wake.vs_c``: wake-up latency (publish to the waiter running) of a
  Python waiter (``Stream.wait``) over a C waiter (``shmg_isio_wait``), each
  in its own process on the same stream, taking turns frame by frame (goal
  <= 1.5). Needs the peer.

The peer is the C program python/peer/shmg-py-peer.c, built by ``make`` in a
build tree (``python/shmg-py-peer``); give it with --peer or
$SHMGUARD_BENCH_PEER.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Optional

import numpy as np

from . import _lib
from .stream import Stream

ffi, lib = _lib.ffi, _lib.lib


def _per_call(fn: Callable[[], object], n: int, batches: int) -> List[float]:
    out = []
    for _ in range(batches):
        t0 = time.perf_counter_ns()
        for _ in range(n):
            fn()
        out.append((time.perf_counter_ns() - t0) / n)
    return out


def _mapping_view(s: Stream) -> np.ndarray:
    """The pixel data as a NumPy view of the mapping (unguarded: the peer)."""
    buf = ffi.buffer(lib.shmg_isio_data(s._s), s.nbytes)
    return np.frombuffer(buf, dtype=s.dtype).reshape(s.shape)


def bench_read_1mib(d: str, quick: bool) -> None:
    s = Stream.create(os.path.join(d, "b1m.im.shm"), (512, 1024), np.uint16)
    s.write(np.arange(512 * 1024, dtype=np.uint16).reshape(512, 1024))
    view, out = _mapping_view(s), np.empty(s.shape, s.dtype)
    n, rounds = (5, 3) if quick else (20, 61)
    tr, to, tc = [], [], []
    for _ in range(rounds):  # alternate, so drift hits every side alike
        tc += _per_call(lambda: np.copyto(out, view), n, 1)
        tr += _per_call(s.read, n, 1)
        to += _per_call(lambda: s.read(out), n, 1)
    c = statistics.median(tc)
    print(f"py.read.1MiB.vs_copyto {c / statistics.median(tr):.3g} x")
    print(f"py.read_out.1MiB.vs_copyto {c / statistics.median(to):.3g} x")
    s.close()


def _peer_read_ns(peer: str, path: str, n: int) -> float:
    out = subprocess.run([peer, "read", path, str(n)], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[1])


def bench_read_4kib(d: str, quick: bool, peer: Optional[str]) -> None:
    path = os.path.join(d, "b4k.im.shm")
    s = Stream.create(path, (32, 64), np.uint16)
    s.write(np.ones(s.shape, s.dtype))
    n, rounds = (200, 3) if quick else (5000, 15)
    buf = np.empty(s.shape, s.dtype)
    cbuf, h, nb = ffi.from_buffer(buf), s._s, s.nbytes
    tp, tb, tc = [], [], []
    for _ in range(rounds):
        tp += _per_call(s.read, n, 1)
        tb += _per_call(lambda: lib.shmg_isio_read(h, cbuf, nb, ffi.NULL, ffi.NULL), n, 1)
        if peer:
            tc.append(_peer_read_ns(peer, path, n))
    p = statistics.median(tp)
    print(f"py.read.4KiB.us {p / 1000:.3g} us")
    if peer:
        c = statistics.median(tc)
        print(f"c.read.4KiB.us {c / 1000:.3g} us")
        print(f"py.read.4KiB.overhead_us {(p - c) / 1000:.3g} us")
    else:
        print(f"py.read.4KiB.overhead_vs_cffi_us {(p - statistics.median(tb)) / 1000:.3g} us")
    s.close()


def _sleeping(pid: int) -> bool:
    """Is the process blocked (state S)? After saying "armed" a waiter
    blocks only in its wait on the stream's futex."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "S"


def _wake_turns(s: Stream, cmds: List[List[str]], frames: int) -> List[List[int]]:
    """The waiters run at once on the same stream and take turns, frame by
    frame: the one whose turn it is arms (the others wait on their stdin,
    not on the stream), and once it sleeps the frame is published and its
    wake-up latency taken. Load changes hit every waiter alike."""
    frame = np.zeros(s.shape, s.dtype)
    lat: List[List[int]] = [[] for _ in cmds]
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              bufsize=1) for c in cmds]
    try:
        for p, c in zip(procs, cmds):
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"waiter {c}: {line!r}")
        for k in range(frames * len(procs)):
            i = k % len(procs)
            p = procs[i]
            p.stdin.write("go\n")
            if p.stdout.readline().strip() != "armed":
                raise RuntimeError(f"waiter {cmds[i]} did not arm")
            end = time.monotonic() + 10
            while not _sleeping(p.pid):
                if time.monotonic() > end:
                    raise RuntimeError("a waiter never went to sleep")
            t0 = time.monotonic_ns()
            cnt = s.write(frame)
            got, t1 = p.stdout.readline().split()
            if int(got) != cnt:
                raise RuntimeError(f"waiter {cmds[i]} saw frame {got}, expected {cnt}")
            lat[i].append(int(t1) - t0)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()
    return lat


def bench_wake(d: str, quick: bool, peer: str) -> None:
    path = os.path.join(d, "bwake.im.shm")
    s = Stream.create(path, (8,), np.uint64)
    frames = 5 if quick else 300
    py = [sys.executable, "-m", "shmguard.bench", "--waiter", path, str(frames)]
    c = [peer, "wait", path, str(frames)]
    lc, lp = _wake_turns(s, [c, py], frames)
    mc, mp = statistics.median(lc), statistics.median(lp)
    print(f"py.wake.c_us {mc / 1000:.3g} us")
    print(f"py.wake.py_us {mp / 1000:.3g} us")
    print(f"py.wake.vs_c {mp / mc:.3g} x")
    s.close()


def _waiter(path: str, n: int) -> None:
    s = Stream.open(path)
    print("ready", flush=True)
    for _ in range(n):
        if not sys.stdin.readline():  # its turn
            break
        after = s.counter  # the other waiters' frames came meanwhile
        print("armed", flush=True)
        u = s.wait_update(after, timeout=30)
        t = time.monotonic_ns()
        print(f"{u.counter} {t}", flush=True)


def _find_peer(arg: Optional[str]) -> Optional[str]:
    for p in (arg, os.environ.get("SHMGUARD_BENCH_PEER")):
        if p:
            return p
    return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m shmguard.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: figures mean nothing")
    ap.add_argument("--peer", help="the C peer program (python/shmg-py-peer in a build tree)")
    ap.add_argument("--waiter", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.waiter:
        _waiter(a.waiter[0], int(a.waiter[1]))
        return 0
    peer = _find_peer(a.peer)
    if peer and not os.access(peer, os.X_OK):
        print(f"shmguard.bench: peer {peer!r} is not an executable program", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="shmguard-bench-") as d:
        bench_read_1mib(d, a.quick)
        bench_read_4kib(d, a.quick, peer)
        if peer:
            bench_wake(d, a.quick, peer)
        else:
            print("shmguard.bench: no C peer (--peer or $SHMGUARD_BENCH_PEER): "
                  "py.wake.vs_c not measured", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
