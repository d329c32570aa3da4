"""Helpers shared by the stream and milk wrappers: paths, deadlines, waits."""
from __future__ import annotations

import errno
import os
import time
from typing import Callable, Optional

from . import _lib
from .errors import check, error_for

ffi, lib = _lib.ffi, _lib.lib

#: Waits sleep in the library in slices of at most this many nanoseconds, so
#: that Python's signal handlers (KeyboardInterrupt) run between slices even
#: when the signal reached another thread than the sleeping one.
SLICE_NS = 50_000_000
_NS = 1_000_000_000


def to_str(p) -> str:
    return ffi.string(p).decode("utf-8", "replace")


def resolve(name_or_path: "str | os.PathLike[str]", path_fn, kind: str, suffix: str) -> str:
    """A path as given (it has a '/'), or the library's file name for a name."""
    s = os.fspath(name_or_path)
    if not isinstance(s, str):
        s = os.fsdecode(s)
    if "/" in s:
        return s
    if s.endswith(suffix):
        s = s[: -len(suffix)]
    buf = ffi.new("char[]", _lib.PATH_MAX)
    err = path_fn(buf, _lib.PATH_MAX, s.encode())
    if err < 0:
        raise error_for(err, None, f"{kind} name {s!r}")
    return to_str(buf)


def fill_deadline(dl, ns_abs: int) -> None:
    dl.tv_sec = ns_abs // _NS
    dl.tv_nsec = ns_abs % _NS


def deadline_ns(timeout: Optional[float]) -> Optional[int]:
    """Absolute CLOCK_MONOTONIC time (ns) for a timeout in seconds (None: no end)."""
    if timeout is None:
        return None
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, not {timeout!r}")
    return time.monotonic_ns() + int(timeout * _NS)


def sliced(call: Callable[[object], int], end_ns: Optional[int], path: Optional[str],
           what: str) -> int:
    """Run call(deadline) in slices until it returns something other than a
    slice's timeout or -EINTR; raise Timeout at end_ns (None: never).

    The library call releases the GIL (cffi does so around every call); a
    signal either interrupts the sleep (-EINTR) or arrives in another thread,
    and between two slices the interpreter runs its handlers: a KeyboardInterrupt
    comes out of here within one slice.
    """
    dl = ffi.new("struct timespec *")
    while True:
        now = time.monotonic_ns()
        s_end = now + SLICE_NS
        last = False
        if end_ns is not None and end_ns <= s_end:
            s_end, last = end_ns, True
        fill_deadline(dl, s_end)
        err = call(dl)
        if err == -errno.ETIMEDOUT:
            if last:
                raise error_for(err, path, what)
            continue
        if err == -errno.EINTR:
            continue  # the handler (if it raises) runs at the next bytecode
        return check(err, path, what)
