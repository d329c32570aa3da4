"""Helpers shared by the stream and milk wrappers: handles, paths, deadlines,
waits."""
from __future__ import annotations

import errno
import math
import numbers
import operator
import os
import time
from collections import deque
from typing import Callable, Optional

from . import _lib
from .errors import InvalidArgument, Truncated, check, error_for

ffi, lib = _lib.ffi, _lib.lib

#: Waits sleep in the library in slices of at most this many nanoseconds, so
#: that Python's signal handlers (KeyboardInterrupt) run between slices even
#: when the signal reached another thread than the sleeping one.
SLICE_NS = 50_000_000
_NS = 1_000_000_000


class Handle:
    """A library handle (``struct shmg_isio *``, ``shmg_fps *``, ...) that is
    freed only when nothing uses it any more.

    Every call into the library holds a use for its duration
    (``with handle as ptr:``), and so does every array that views the
    handle's mapping (:meth:`buffer`). :meth:`close` marks the handle closed
    (new uses raise ValueError) and frees it at once if unused, else the
    last use frees it: a thread inside a wait, a callback, or a NumPy view
    never finds its handle freed under it. Waits see :attr:`closed` between
    two slices and raise (:func:`sliced`).

    The count is a deque, cheaper than a lock on the read fast path: its
    append and pop, the store and load of `closed`, and the list pop that
    takes the pointer each run as one step while the thread holds the GIL.
    The GIL is a mutex, so these steps happen in one total order (C11
    5.1.2.4: an unlock synchronizes with the next lock of the same mutex).
    A use is counted before `closed` is looked at, and close() sets
    `closed` before it looks at the count, so in that order one of the two
    sees the other: never a free with a use in flight (the mutant that
    frees in close() regardless fails eight tests of test_careless.py). The
    pointer is taken by one pop from a one-element list, so it is freed
    once when close() and a last use both try. (A free-threaded build,
    without the GIL, would need a lock here; the binding assumes a GIL.)
    """

    __slots__ = ("ptr", "closed", "_uses", "_box", "_free", "_what", "claimed", "windows")

    def __init__(self, ptr, free: Callable[[object, "Handle"], None], what: str):
        self.ptr = ptr
        self.closed = False
        self.claimed = False  # a Stream's: it claimed the stream (released when freed)
        self.windows: list = []  # a pinner's: its guard windows (unmapped when freed)
        self._uses: deque = deque()
        self._box = [ptr]
        self._free = free
        self._what = what  # "PATH: the stream", for messages

    def closed_error(self, during: Optional[str] = None) -> ValueError:
        if during:
            return ValueError(f"{self._what} was closed (by another thread, or inside a "
                              f"callback) during this {during}")
        return ValueError(f"{self._what} is closed")

    def __enter__(self):
        self._uses.append(None)
        if self.closed:
            self.__exit__()
            raise self.closed_error()
        return self.ptr

    def __exit__(self, *exc) -> None:
        self._uses.pop()
        if self.closed and not self._uses:
            self._release()

    def close(self) -> None:
        self.closed = True
        if not self._uses:
            self._release()

    def _release(self) -> None:
        try:
            ptr = self._box.pop()
        except IndexError:
            return  # freed already
        self.ptr = None
        self._free(ptr, self)

    def buffer(self, addr: int, size: int):
        """A writable-memory buffer of `size` bytes at `addr` (inside this
        handle's mappings) that holds a use until it, and every view of it
        (memoryview, NumPy array), is gone: the mapping outlives close()."""
        self.__enter__()
        try:
            owner = _lib.ffi.gc(_lib.ffi.cast("char *", addr), lambda _: self.__exit__())
        except BaseException:
            self.__exit__()
            raise
        return _lib.ffi.buffer(owner, size)


def no_nul(s: str, arg: str, path: Optional[str] = None) -> str:
    """`s`, refused if it has a NUL: C would read only what comes before it
    and act on another file (or parameter)."""
    if "\0" in s:
        raise InvalidArgument(-errno.EINVAL, path,
                              f"{arg} {s!r} contains a NUL byte: C would stop at it and use "
                              f"{s.split(chr(0), 1)[0]!r}, another one")
    return s


def c_int(value, what: str, path: Optional[str], lo: int, hi: int) -> int:
    """An integer argument of the C side, checked to fit its field
    (InvalidArgument naming it, rather than cffi's OverflowError, or a
    float silently cut short)."""
    try:
        n = operator.index(value)
    except TypeError:
        raise InvalidArgument(-errno.EINVAL, path,
                              f"{what} must be an integer, not {value!r}") from None
    if not lo <= n <= hi:
        raise InvalidArgument(-errno.EINVAL, path, f"{what} is {n}, expected {lo} to {hi}")
    return n


def choice(value, what: str, options: dict, path: Optional[str]):
    """options[value], or InvalidArgument listing the options."""
    try:
        return options[value]
    except (KeyError, TypeError):
        raise InvalidArgument(-errno.EINVAL, path, f"{what} must be one of "
                              f"{', '.join(map(repr, options))}, not {value!r}") from None


#: How many files one process may map with SHMG_REGION_TRUNCATION at once
#: (the library's table, doc/region.md).
TRUNCATION_REGIONS = 256


def open_error(err: int, path: Optional[str], what: str):
    """The exception for a failed open or create: error_for's, except that
    the library's full table of truncation-protected regions is explained
    in the binding's terms (its own text names a C flag)."""
    if err == -errno.ENOSPC:
        return error_for(err, path, what, detail=(
            f"this process already maps {TRUNCATION_REGIONS} files protected against "
            "truncation, the library's limit (a Stream, FPS or Pinfo takes one; pinned reads "
            "of a stream one more, and one for the guard window): close some first"))
    return error_for(err, path, what)


def truncated(region, path: Optional[str], what: str) -> None:
    """Raise Truncated if the file behind `region` (opened with
    SHMG_REGION_TRUNCATION) was truncated: its mapping reads zeros since."""
    if _lib.lib.shmg_region_truncated(region):
        raise Truncated(_lib.SHMG_ETRUNCATED, path,
                        "the file was truncated under this mapping (another process shrank "
                        "it): what was read is zeros, not the file's; reopen it", what)


def to_str(p) -> str:
    return ffi.string(p).decode("utf-8", "replace")


def resolve(name_or_path: "str | os.PathLike[str]", path_fn, kind: str, suffix: str) -> str:
    """A path as given (it has a '/'), or the library's file name for a name."""
    s = os.fspath(name_or_path)
    if not isinstance(s, str):
        s = os.fsdecode(s)
    if "/" in s:
        return no_nul(s, f"{kind} path")
    no_nul(s, f"{kind} name")
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


def seconds(value, arg: str, path: Optional[str]) -> Optional[float]:
    """A duration argument checked: a real number of seconds >= 0 (math.inf
    and None: no limit, returned as None); anything else (NaN, negative, a
    string, a bool) is InvalidArgument naming `arg`."""
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or math.isnan(value) or value < 0):
        raise InvalidArgument(-errno.EINVAL, path,
                              f"{arg} must be a number of seconds >= 0, or None for no limit; "
                              f"not {value!r}")
    return None if math.isinf(value) else float(value)


def deadline_ns(timeout, path: Optional[str] = None, arg: str = "timeout") -> Optional[int]:
    """Absolute CLOCK_MONOTONIC time (ns) for a timeout in seconds (None or
    math.inf: no end); a bad timeout is InvalidArgument naming `arg`."""
    t = seconds(timeout, arg, path)
    if t is None:
        return None
    return time.monotonic_ns() + int(t * _NS)


def sliced(call: Callable[[object], int], end_ns: Optional[int], path: Optional[str],
           what: str, handle: Optional[Handle] = None) -> int:
    """Run call(deadline) in slices until it returns something other than a
    slice's timeout or -EINTR; raise Timeout at end_ns (None: never), and
    ValueError when `handle` was closed meanwhile (the caller holds a use of
    it, so the handle itself is still valid until the caller lets go).

    The library call releases the GIL (cffi does so around every call); a
    signal either interrupts the sleep (-EINTR) or arrives in another thread,
    and between two slices the interpreter runs its handlers: a KeyboardInterrupt
    comes out of here within one slice.
    """
    dl = ffi.new("struct timespec *")
    while True:
        if handle is not None and handle.closed:
            raise handle.closed_error(what)
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
