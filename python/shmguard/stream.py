"""ImageStreamIO streams: guarded reads, writes and waits.

A stream is an ImageStreamIO file (version "2.00"), ``<dir>/<name>.im.shm``
where ``dir`` is ``$MILK_SHM_DIR`` when set, else ``/milk/shm`` when it
exists, else ``/tmp`` (the library's ``shmg_isio_path``: ImageStreamIO's
own rule, never ``$TMPDIR``).

Array order: a NumPy array of a stream is C-ordered with the file's
``size[]`` reversed: ``size[0]`` (the fastest-varying axis, the image
width) is the *last* axis. A 2-D stream of width W and height H is an array
of shape ``(H, W)``, and pixel ``i`` of the file is ``array.ravel()[i]``.
"""
from __future__ import annotations

import contextlib
import errno
import mmap
import os
import threading
from dataclasses import dataclass
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._common import (Handle, c_int, deadline_ns, open_error, resolve, seconds, sliced, to_str,
                      truncated)
from .errors import Busy, InvalidArgument, ShmguardError, Truncated, check, error_for

ffi, lib = _lib.ffi, _lib.lib

__all__ = ["Stream", "Frame", "Update", "StreamInfo", "SlotInfo", "stream_path",
           "DATATYPES"]

#: ImageStreamIO datatype codes and their NumPy dtypes (native byte order).
DATATYPES = {
    1: np.dtype(np.uint8), 2: np.dtype(np.int8), 3: np.dtype(np.uint16),
    4: np.dtype(np.int16), 5: np.dtype(np.uint32), 6: np.dtype(np.int32),
    7: np.dtype(np.uint64), 8: np.dtype(np.int64), 9: np.dtype(np.float32),
    10: np.dtype(np.float64), 11: np.dtype(np.complex64), 12: np.dtype(np.complex128),
    13: np.dtype(np.float16),
}
_CODE_OF = {dt: code for code, dt in DATATYPES.items()}
_TOOL_NAMES = {1: "uint8", 2: "int8", 3: "uint16", 4: "int16", 5: "uint32", 6: "int32",
               7: "uint64", 8: "int64", 9: "float", 10: "double", 11: "complex-float",
               12: "complex-double", 13: "half"}

PathLike = Union[str, "os.PathLike[str]"]


def liveness(alive: int) -> str:
    """The tool's word for a liveness result."""
    if alive == _lib.SHMG_PROC_ALIVE:
        return "alive"
    if alive == _lib.SHMG_PROC_DEAD:
        return "dead"
    return "none" if alive == -errno.ENOENT else "unknown"


def stream_path(name: PathLike) -> str:
    """The file of stream `name` (``shmg_isio_path``); a path (with '/') is kept."""
    return resolve(name, lib.shmg_isio_path, "stream", ".im.shm")


class Frame(NamedTuple):
    """One consistent frame: its pixels, its frame number (cnt0 when it was
    published) and the copies the library rejected before it."""
    data: np.ndarray
    counter: int
    retries: int


class Update(NamedTuple):
    """What a wait returns: the counter now, and the frames published since
    the one waited after that were never seen (``counter - after - 1``)."""
    counter: int
    missed: int


@dataclass
class SlotInfo:
    """A semaphore slot (``shmguard inspect --json``: ``semaphores[]``)."""
    slot: int
    value: int
    damaged: bool
    reader_pid: int
    reader_liveness: Optional[str]
    #: The circular-buffer copy this slot's reader pins, or -1 (none).
    pin_copy: int = -1


@dataclass
class StreamInfo:
    """The state ``shmguard inspect --json`` shows for a stream."""
    path: str
    kind: str
    bytes: int
    name: str
    size: List[int]
    datatype: str
    data_bytes: int
    mark_offset: int
    write_flag: int
    counter: int
    writer_pid: int
    writer_liveness: str
    writer_kind: str
    cnt1: int
    waiters_byte: int
    cbsize: int
    cbindex: int
    nsem: int
    semaphores: List[SlotInfo]
    creator_pid: int


_empty = np.empty
_new = ffi.new
_from_buffer = ffi.from_buffer
_isio_read = lib.shmg_isio_read
_SNAP_T = ffi.typeof("struct shmg_wflag_snap *")
_SNAP_SIZE = ffi.sizeof("struct shmg_wflag_snap")
_PAST = ffi.new("struct timespec *")  # {0, 0}: long passed
_TIMEOUT = 5.0  # read()'s default timeout (valid: the fast path skips its check)
# One snapshot struct per thread, reused (it is read right after each call).
_tls = threading.local()


def _text_detail(err: int) -> str:
    return to_str(lib.shmg_error_detail(err))


def _new_snap():
    snap = ffi.new(_SNAP_T)
    snap.size = _SNAP_SIZE
    return snap


def _dims_of(shape: Sequence[int]) -> List[int]:
    return list(reversed([int(n) for n in shape]))


_libc_ffi, _libc = _lib.libc_ffi, _lib.libc
_PAGE = mmap.PAGESIZE
_PROT_NONE, _PROT_READ = 0, 1
_MAP_FAILED = _libc_ffi.cast("void *", -1)
_MAP_FIXED = 0x10  # Linux's value (the mmap module does not export it)


class _Window:
    """A second mapping of a stream's file, read-only and inaccessible
    (PROT_NONE) except for the pages of the copy pinned now.

    The arrays :meth:`Stream.pinned` yields view the pinned copy through this
    window, not through the library's own mapping: on unpin its pages go back
    to PROT_NONE, so an array kept past the ``with`` block cannot read the
    copy the writer is rewriting; touching it is a SIGSEGV (Python's
    faulthandler shows the line), never a silently wrong frame.

    The window is a library region (``shmg_region_from_fd`` with
    SHMG_REGION_TRUNCATION), so a file truncated while an array views it
    reads zeros instead of killing the process with SIGBUS, and
    :attr:`region` says so (``shmg_region_truncated``). It is unmapped with
    the pinner's handle, when no array views it any more."""

    def __init__(self, s, l, path: str):
        region = lib.shmg_isio_region(s)
        self.base = int(ffi.cast("uintptr_t", lib.shmg_region_base(region)))
        rp = ffi.new("struct shmg_region **")
        err = lib.shmg_region_from_fd(rp, lib.shmg_region_fd(region),
                                      _lib.SHMG_REGION_RDONLY | _lib.SHMG_REGION_TRUNCATION)
        if err:
            raise open_error(err, path, "map the file again for guarded pinned reads")
        self.region = rp[0]
        self.addr = int(ffi.cast("uintptr_t", lib.shmg_region_base(self.region)))
        start = int(l.off_cbdata)
        end = start + int(l.cbsize) * int(l.data_size)
        self.off = start - start % _PAGE
        self.len = -(-(end - self.off) // _PAGE) * _PAGE
        self.open_from = self.open_len = 0
        if _libc.mprotect(_libc_ffi.cast("void *", self.addr + self.off), self.len, _PROT_NONE):
            err = _libc_ffi.errno
            lib.shmg_region_close(self.region)
            raise ShmguardError(-err, path, f"mprotect: {os.strerror(err)}", "pin")

    def expose(self, data_addr: int, n: int) -> int:
        """Make the pages of [data_addr, +n) of the library's mapping
        readable in the window; returns the window's address of data_addr."""
        rel = data_addr - self.base  # the file offset: both map the file from 0
        if not (self.off <= rel and rel + n <= self.off + self.len):
            raise ShmguardError(-errno.EFAULT, None, "a pinned copy lies outside the "
                                "circular buffer (the library and the binding disagree)", "pin")
        lo = rel - rel % _PAGE
        hi = -(-(rel + n) // _PAGE) * _PAGE
        if _libc.mprotect(_libc_ffi.cast("void *", self.addr + lo), hi - lo, _PROT_READ):
            err = _libc_ffi.errno
            raise ShmguardError(-err, None, f"mprotect: {os.strerror(err)}", "pin")
        self.open_from, self.open_len = lo, hi - lo
        return self.addr + rel

    def hide(self) -> None:
        if self.open_len:
            # Failure is not an option here (the pages would stay readable):
            # mprotect to PROT_NONE on a range we mapped cannot fail but by
            # ENOMEM splitting the mapping; then inaccessible anonymous pages
            # replace those pages (the window stays mapped: arrays view it).
            at = _libc_ffi.cast("void *", self.addr + self.open_from)
            if (_libc.mprotect(at, self.open_len, _PROT_NONE)
                    and _libc.mmap(at, self.open_len, _PROT_NONE,
                                   _MAP_FIXED | mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                                   -1, 0) == _MAP_FAILED):
                err = _libc_ffi.errno
                raise ShmguardError(-err, None, "cannot make the pinned copy inaccessible "
                                    f"again: {os.strerror(err)}", "unpin")
            self.open_len = 0


def _free_stream(s, h) -> None:
    """A Stream's handle is freed (closed, and no call uses it any more):
    release the stream if this handle claimed it, then close it."""
    if h.claimed:
        lib.shmg_isio_release(s)
    lib.shmg_isio_close(s)


def _free_pinner(s, h) -> None:
    """The pinner's handle is freed (no pin, no array views it): unmap its
    guard windows, then close the library handle (and its mapping)."""
    for w in h.windows:
        lib.shmg_region_close(w.region)
    h.windows.clear()
    lib.shmg_isio_close(s)


class _Pinner:
    """This process's pinned reads of one stream file.

    A pin needs a semaphore slot, and a stream has few (one per semaphore,
    often 10) that semaphore readers need too. So this process takes one
    slot, hence one pin, per stream file (the library would give each
    handle a slot of its own): the Stream objects of one file in this
    process share one _Pinner: its own handle (open while any of them has
    pinned), its slot, its guard window, and a lock that allows one pin at
    a time.

    Lifetime: when the last Stream object that pinned is closed, the slot
    is given back at once (at the end of the pinned block if one runs);
    the handle and its mappings stay until no array views them
    (:meth:`shmguard._common.Handle.buffer`), so an array kept past close()
    never reads unmapped (or, worse, remapped) memory.
    """

    _all: dict = {}
    _all_lock = threading.Lock()

    @classmethod
    def of(cls, stream: "Stream") -> "_Pinner":
        with stream._h as s:
            st = os.fstat(lib.shmg_region_fd(lib.shmg_isio_region(s)))
        key = (st.st_dev, st.st_ino)
        with cls._all_lock:
            p = cls._all.get(key)
            if p is None or p.pid != os.getpid():
                # (After a fork the parent's slot is not this process's: the
                # child gets its own; the inherited entry is left alone.)
                p = cls._all[key] = cls(key, stream)
            p.users += 1
            return p

    def __init__(self, key, stream: "Stream"):
        self.key, self.path, self.users = key, stream.path, 0
        self.pid = os.getpid()
        self.closing = False
        self.lock = threading.Lock()
        self.window: Optional[_Window] = None
        self.slot = -1
        pp = ffi.new("struct shmg_isio **")
        err = lib.shmg_isio_open(pp, stream.path.encode(), _lib.SHMG_REGION_TRUNCATION)
        if err:
            raise open_error(err, stream.path, "open for pinned reads")
        self.s = pp[0]
        self.h = Handle(self.s, _free_pinner, f"{self.path}: the stream")
        l = ffi.new("struct shmg_isio_layout *")
        l.size = ffi.sizeof("struct shmg_isio_layout")
        check(lib.shmg_isio_get_layout(self.s, l), self.path, "layout")
        self.layout = l

    def new_window(self) -> _Window:
        self.window = _Window(self.s, self.layout, self.path)
        self.h.windows.append(self.window)
        return self.window

    def leave(self) -> None:
        if self.pid != os.getpid():
            return  # inherited through fork: the parent's, not ours to close
        with self._all_lock:
            self.users -= 1
            if self.users > 0:
                return
            if self._all.get(self.key) is self:
                del self._all[self.key]
        if not self.lock.acquire(blocking=False):
            # Closed inside a pinned block: the block's exit unpins through
            # this handle, then closes it (finish()).
            self.closing = True
            return
        try:
            self._close()
        finally:
            self.lock.release()

    def finish(self) -> None:
        if self.lock.acquire(blocking=False):
            try:
                self._close()
            finally:
                self.lock.release()

    def _close(self) -> None:
        """With the lock held and nothing pinned: give the slot back now; the
        handle goes when the last array viewing its mappings does."""
        self.closing = False
        s, self.s = self.s, None
        self.window = None
        if s is not None:
            if self.slot >= 0:
                lib.shmg_isio_sem_release(s)
                self.slot = -1
            self.h.close()


class Stream:
    """An ImageStreamIO stream, guarded by shmguard.

    ``Stream("name")`` opens an existing stream by name (or by path, if the
    argument has a '/'); ``Stream("name", data)`` creates one with the shape
    and dtype of ``data`` and publishes ``data`` as its first frame (as
    pyMilk's ``SHM``). :meth:`open` and :meth:`create` say it explicitly.

    Reading: :meth:`read` returns a new array, never torn (``read(out=a)``
    fills ``a``); :meth:`snapshot` also returns the frame number;
    :meth:`wait` / :meth:`wait_update` wait for the next frame (the GIL is
    released and Ctrl-C works); iterating yields each new :class:`Frame`;
    ``with stream.pinned() as f:`` reads the frame in place, without a copy
    (read-only, valid only inside the block: see :meth:`pinned`).

    Writing: :meth:`write` publishes a frame (the first write claims the
    stream: one writer at a time, by PID; a dead writer is taken over);
    :meth:`pin_policy` says what it does when readers pin every copy.

    Array order: C order with the file's size[] reversed, so a stream of
    width W and height H is an (H, W) array (size[0] is the last axis).

    Errors are :class:`shmguard.ShmguardError` subclasses carrying the
    library's code, the path and its detail line: NotFound, LayoutError (not
    a stream of version 2.00), WriterDead, TooFast, Timeout, Busy (another
    live writer), InvalidArgument (a frame of the wrong dtype or shape: the
    stream is left unchanged).

    A Stream is closed by :meth:`close`, ``with``, or garbage collection;
    closing it while another thread uses it is safe (that call raises
    ValueError, or finishes, and the handle is freed after it). A file
    truncated under it raises Truncated rather than killing the process.
    """

    def __init__(self, name: PathLike, data: Optional[np.ndarray] = None, *,
                 cbsize: int = 0, nsem: int = 0, nkw: int = 0, replace: bool = False,
                 follow: bool = False):
        self._s = self._h = None
        self._pin_init()
        if data is None:
            self._open(name, follow)
        else:
            arr = np.asarray(data)
            self._create(name, arr.shape, arr.dtype, cbsize, nsem, nkw, replace)
            self.write(arr)

    # ------------------------------------------------------------ constructors
    @classmethod
    def open(cls, name: PathLike, *, follow: bool = False) -> "Stream":
        """Open an existing stream (fully validated: nothing is changed in a
        file that is refused). Raises NotFound, LayoutError, ..."""
        self = cls.__new__(cls)
        self._s = self._h = None
        self._pin_init()
        self._open(name, follow)
        return self

    @classmethod
    def create(cls, name: PathLike, shape: Sequence[int], dtype=np.float32, *,
               cbsize: int = 0, nsem: int = 0, nkw: int = 0,
               replace: bool = False) -> "Stream":
        """Create a stream of this shape (1 to 3 axes) and dtype, all zero,
        counter 0. It appears under its name only once complete. An existing
        file is an error (FileExistsError) unless ``replace=True`` (then it is
        replaced atomically). ``cbsize`` >= 2 adds a circular buffer, which
        lets readers copy without retries while the writer writes."""
        self = cls.__new__(cls)
        self._s = self._h = None
        self._pin_init()
        self._create(name, tuple(shape), np.dtype(dtype), cbsize, nsem, nkw, replace)
        return self

    def _open(self, name: PathLike, follow: bool) -> None:
        self.path = stream_path(name)
        pp = ffi.new("struct shmg_isio **")
        flags = (_lib.SHMG_REGION_FOLLOW if follow else 0) | _lib.SHMG_REGION_TRUNCATION
        err = lib.shmg_isio_open(pp, self.path.encode(), flags)
        if err:
            raise open_error(err, self.path, "open")
        self._adopt(pp[0])

    def _create(self, name, shape, dtype, cbsize, nsem, nkw, replace) -> None:
        path = stream_path(name)
        base = os.path.basename(path)
        sname = base[: -len(".im.shm")] if base.endswith(".im.shm") else base
        dt = np.dtype(dtype)
        if dt.byteorder == ">" or dt.newbyteorder("=") not in _CODE_OF:
            raise InvalidArgument(-errno.EINVAL, path,
                                  f"dtype {dt} has no ImageStreamIO datatype (one of "
                                  f"{', '.join(str(d) for d in DATATYPES.values())})")
        if not 1 <= len(shape) <= 3:
            raise InvalidArgument(-errno.EINVAL, path,
                                  f"shape {tuple(shape)} has {len(shape)} axes; streams have 1 to 3")
        shape = tuple(c_int(n, f"shape {tuple(shape)}: an axis", path, 1, 2**32 - 1)
                      for n in shape)
        cbsize = c_int(cbsize, "cbsize", path, 0, 2**32 - 1)
        nsem = c_int(nsem, "nsem", path, 0, 2**16 - 1)
        nkw = c_int(nkw, "nkw", path, 0, 2**16 - 1)
        p = ffi.new("struct shmg_isio_params *")
        p.size = ffi.sizeof("struct shmg_isio_params")
        p.naxis = len(shape)
        p.datatype = _CODE_OF[dt.newbyteorder("=")]
        p.nsem = nsem
        for i, n in enumerate(_dims_of(shape)):
            p.dims[i] = n
        p.nkw = nkw
        p.cbsize = cbsize
        p.imagetype = 1 if cbsize else 0  # SHMG_ISIO_CIRCULAR_BUFFER
        cname = ffi.new("char[]", sname.encode())
        p.name = cname
        pp = ffi.new("struct shmg_isio **")
        err = lib.shmg_isio_create(pp, path.encode(), p, 0o600,
                                   (_lib.SHMG_REGION_REPLACE if replace else 0)
                                   | _lib.SHMG_REGION_TRUNCATION)
        if err == -errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "a file exists there (replace=True replaces it)", path)
        if err:
            raise open_error(err, path, "create")
        self.path = path
        self._adopt(pp[0])

    def _adopt(self, s) -> None:
        """Own the library handle `s`: counted (Handle), so that close()
        never frees it under a call of another thread."""
        self._s = s
        self._h = Handle(s, _free_stream, f"{self.path}: the stream")
        self._setup()

    def _setup(self) -> None:
        l = ffi.new("struct shmg_isio_layout *")
        l.size = ffi.sizeof("struct shmg_isio_layout")
        check(lib.shmg_isio_get_layout(self._s, l), self.path, "layout")
        self._layout = l
        self.dtype: np.dtype = DATATYPES[l.datatype]
        #: The array shape: the file's size[] reversed (see the module's doc).
        self.shape: Tuple[int, ...] = tuple(reversed([l.dims[i] for i in range(l.naxis)]))
        self.nbytes: int = int(l.data_size)
        self.cbsize: int = int(l.cbsize)
        self.nsem: int = int(l.nsem)
        self._has_data = bool(l.has_data)
        self._seen = int(lib.shmg_isio_counter(self._s))

    # ------------------------------------------------------------ lifetime
    def _pin_init(self) -> None:
        self._pinner: Optional[_Pinner] = None

    def close(self) -> None:
        """Release the stream if this object claimed it, give back the
        semaphore slot of pinned reads, unmap, close. Closing twice does
        nothing; any other use after close raises ValueError.

        Safe while other threads use the object: a call running in another
        thread keeps the library handle until it returns (a wait sees the
        close within one 50 ms slice and raises ValueError), and arrays that
        :meth:`pinned` yielded keep their mapping until they are gone, so
        nothing ever reads freed or unmapped memory."""
        h, self._s = self._h, None
        if h is not None and not h.closed:
            p = getattr(self, "_pinner", None)
            if p is not None:
                self._pinner = None
                p.leave()
            h.close()

    def __reduce__(self):
        raise TypeError("a Stream cannot be copied or pickled (it owns a mapping, a claim "
                        "and a slot): open another Stream of the same name")

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "closed" if self._s is None else f"counter {self.counter}"
        return f"<shmguard.Stream {self.path!r} shape={self.shape} dtype={self.dtype} {state}>"

    @property
    def name(self) -> str:
        """The stream's name (from its file name)."""
        b = os.path.basename(self.path)
        return b[: -len(".im.shm")] if b.endswith(".im.shm") else b

    # ------------------------------------------------------------ readers
    @property
    def counter(self) -> int:
        """The frame counter cnt0 now (frames published so far)."""
        with self._h as s:
            c = int(lib.shmg_isio_counter(s))
            if c == 0:  # (a truncated file reads zeros)
                truncated(lib.shmg_isio_region(s), self.path, "counter")
            return c

    def get_counter(self) -> int:
        """The frame counter now (pyMilk's name for :attr:`counter`)."""
        return self.counter

    def _check_out(self, out) -> np.ndarray:
        if not isinstance(out, np.ndarray):
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"out must be a numpy.ndarray, not {type(out).__name__}")
        if out.dtype != self.dtype:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"out has dtype {out.dtype}, the stream's is {self.dtype}")
        if out.shape != self.shape:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"out has shape {out.shape}, the stream's is {self.shape}")
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  "out must be C-contiguous and writeable")
        return out

    def _read_slow(self, s, err: int, dst, snap, timeout: Optional[float]) -> None:
        """The fast path's attempt (with a deadline already passed) returned
        err: the writer was mid-frame, a signal came, or a real error.
        (Zero-copy reads are :meth:`pinned`, not a mode of this copy.)"""
        if not self._has_data:
            raise InvalidArgument(-errno.ENOTSUP, self.path,
                                  "a GPU stream (location >= 0) has no pixel data in the file")
        if err not in (-errno.ETIMEDOUT, -errno.EINTR):
            raise error_for(err, self.path, "read")
        n = self.nbytes
        sliced(lambda d: lib.shmg_isio_read(s, dst, n, snap, d),
               deadline_ns(timeout, self.path), self.path, "read", self._h)

    def read(self, out: Optional[np.ndarray] = None, *, timeout: Optional[float] = _TIMEOUT,
             pinned: bool = False) -> np.ndarray:
        """The current frame, copied consistently (never torn).

        Returns a new array of the stream's shape and dtype, or fills `out`
        (same dtype and shape, C-contiguous) and returns it. Waits at most
        `timeout` seconds (None: as long as it takes) for a writer that is
        mid-frame (and, on a stream with a circular buffer, for a first
        frame). Raises WriterDead (the writer died mid-frame), TooFast (the
        frame was rewritten during every copy attempt), Timeout.
        A zero-copy read cannot outlive a ``with`` block, so it is not a
        mode of read(): ``pinned=True`` raises InvalidArgument naming
        :meth:`pinned` (``with stream.pinned() as f:``).
        """
        if pinned:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  "a pinned (zero-copy) frame is valid only while pinned: "
                                  "use `with stream.pinned() as f:` (f.data, f.counter); "
                                  "read() always returns a copy")
        arr = _empty(self.shape, self.dtype) if out is None else self._check_out(out)
        try:
            snap = _tls.snap
        except AttributeError:
            snap = _tls.snap = _new_snap()
        dst = _from_buffer(arr)
        if timeout is not _TIMEOUT and timeout is not None:
            seconds(timeout, "timeout", self.path)  # (the default needs no check)
        # First attempt: a deadline in the past, so no clock read and no
        # waiting; a writer mid-frame sends us to the sliced slow path.
        # (`with self._h` spelled out: the fast path saves ~0.2 us.)
        h = self._h
        h._uses.append(None)
        try:
            if h.closed:
                raise h.closed_error()
            err = _isio_read(h.ptr, dst, self.nbytes, snap, _PAST)
            if err:
                self._read_slow(h.ptr, err, dst, snap, timeout)
        finally:
            h._uses.pop()
            if h.closed and not h._uses:
                h._release()
        f = snap.frame
        if f > self._seen:
            self._seen = f
        return arr

    def snapshot(self, out: Optional[np.ndarray] = None, *,
                 timeout: Optional[float] = _TIMEOUT) -> Frame:
        """As :meth:`read`, with the frame number: a :class:`Frame`."""
        arr = self.read(out, timeout=timeout)
        snap = _tls.snap  # read()'s, in this thread: the frame just copied
        return Frame(arr, int(snap.frame), int(snap.retries))

    # ------------------------------------------------------------ pinned reads
    def _pin_slot(self, p: _Pinner) -> None:
        slot = ffi.new("int *")
        err = lib.shmg_isio_sem_claim(p.s, slot)
        if err:
            truncated(lib.shmg_isio_region(p.s), self.path, "claim a semaphore slot")
        if err == -errno.EAGAIN:
            raise Busy(err, self.path,
                       f"pinned reads need a semaphore slot, and all {self.nsem} are held by "
                       "live readers", "pin")
        if err == -errno.EROFS:
            raise ShmguardError(err, self.path,
                                "the stream is mapped read-only and a pin writes the reader's "
                                "slot: open it writable, or use read()", "pin")
        check(err, self.path, "claim a semaphore slot for pinned reads")
        p.slot = int(slot[0])

    def _pin_failed(self, err: int) -> ShmguardError:
        detail = _text_detail(err)
        if lib.shmg_region_truncated(lib.shmg_isio_region(self._pinner.s)):
            return Truncated(_lib.SHMG_ETRUNCATED, self.path, "the file was truncated under "
                             f"this mapping (another process shrank it): {detail}", "pin")
        if err == -errno.ENOTSUP:
            return ShmguardError(err, self.path, (
                "pinned reads need a circular buffer (cbsize >= 2) kept by a shmguard writer; "
                + (f"this stream has cbsize {self.cbsize}" if self.cbsize < 2 else
                   "its writer does not use the guard (a legacy ImageStreamIO writer, or no "
                   "writer yet)")
                + ": use read(), which copies the frame consistently"), "pin")
        if err == -errno.ENODATA:
            return ShmguardError(err, self.path, "no frame has been published yet "
                                 "(wait() for one, then pin)", "pin")
        return error_for(err, self.path, "pin", detail)

    @contextlib.contextmanager
    def pinned(self, *, guard: bool = True) -> Iterator[Frame]:
        """Read the newest frame in place, without copying it (``shmg_isio_pin``).

        ::

            with stream.pinned() as f:      # f.data, f.counter, f.retries
                total = f.data.sum()        # reads the stream's memory itself

        Yields a :class:`Frame` whose ``data`` is a read-only array (the
        stream's dtype and shape, as :meth:`read`; ``flags.writeable`` is
        False and cannot be set) viewing the newest complete copy of the
        circular buffer, and whose ``counter`` is that frame's number. While
        the block runs, the writer never rewrites that copy (it writes the
        others). On leaving the block, normally or by an exception, the copy
        is unpinned.

        **The rule: the array is valid only inside the block.** Keep
        ``f.data.copy()`` (or ``read()``) for anything that must outlive it.
        With ``guard=True`` (the default) the array views the copy through
        a window of the file that is made inaccessible on unpin, so using the
        array (or any view of it) after the block is a SIGSEGV at that line
        (shown by Python's faulthandler), never a silently stale or torn
        frame. The guard costs two ``mprotect`` calls per pin and a fault on
        the first touch of each page in every block: more than the copy it
        saves (doc/python.md has figures). ``guard=False`` views the
        library's mapping directly (the fast zero-copy path, for large
        frames), but an array kept past the block then silently reads
        whatever the writer writes there: the rule is then yours to keep.
        For small frames :meth:`read` is faster than either. Either way the
        mapping an array views stays until the array (and every view of it)
        is gone, also past :meth:`close` (which gives the slot back at once
        and never raises BufferError, unlike ``mmap``). A file truncated
        while the block runs reads zeros, and the block's end raises
        Truncated.

        Never waits for the writer (the library's bounded retries; TooFast
        if lapped every time). The first pin claims one of the stream's
        semaphore slots for this Stream object (kept until :meth:`close`;
        Busy when all are held by live readers). One pin at a time per
        Stream object: pinning again inside the block raises
        InvalidArgument (open a second Stream for a second pin). Raises
        ShmguardError with code -ENOTSUP on a stream without a circular
        buffer kept by a shmguard writer (use :meth:`read`). A reader that
        dies or stops while pinning never stalls the writer.

        With every other copy pinned, the writer by default takes the
        oldest pinned copy back and writes it; the block that pinned it
        then ends with Revoked (discard what was computed from it). A
        writer's :meth:`pin_policy` may wait or drop the frame instead.
        """
        if self._h.closed:
            raise self._h.closed_error()
        if not self._has_data:
            raise InvalidArgument(-errno.ENOTSUP, self.path,
                                  "a GPU stream (location >= 0) has no pixel data in the file")
        p = self._pinner
        if p is None or p.pid != os.getpid():
            p = self._pinner = _Pinner.of(self)
        if not p.lock.acquire(blocking=False):
            raise InvalidArgument(_lib.SHMG_EDEADLK, self.path,
                                  "this process already pins this stream (the binding keeps one "
                                  "pin per process and stream, whichever Stream object or thread "
                                  "holds it): use read() for a second frame, or pin after the "
                                  "block")
        try:
            s = p.s
            if s is None:  # the Stream was closed by another thread meanwhile
                raise self._h.closed_error()
            if p.slot < 0:
                self._pin_slot(p)
            pin = ffi.new("struct shmg_wflag_pinned *")
            pin.size = ffi.sizeof("struct shmg_wflag_pinned")
            err = lib.shmg_isio_pin(s, pin)
            if err:
                raise self._pin_failed(err)
            w = None
            try:
                n = self.nbytes
                addr = int(ffi.cast("uintptr_t", pin.data))
                if guard:
                    w = p.window or p.new_window()
                    addr = w.expose(addr, n)
                try:
                    # The buffer holds the pinner's handle (and so its
                    # mappings) until the last array viewing it is gone.
                    mv = memoryview(p.h.buffer(addr, n)).toreadonly()
                    arr = np.frombuffer(mv, self.dtype).reshape(self.shape)
                    f = int(pin.frame)
                    if f > self._seen:
                        self._seen = f
                    yield Frame(arr, f, int(pin.retries))
                finally:
                    if w is not None:
                        w.hide()
            finally:
                err = lib.shmg_isio_unpin(s)
                # A truncation while pinned: what the block read was zeros.
                truncated(lib.shmg_isio_region(s), self.path, "pinned read")
                if w is not None:
                    truncated(w.region, self.path, "pinned read")
                if err:
                    raise error_for(err, self.path, "unpin")
        finally:
            closing = p.closing
            p.lock.release()
            if closing:
                p.finish()

    def pin_policy(self, full: str = "revoke", wait: Optional[float] = None) -> None:
        """Writer side: what :meth:`write` does when readers pin every copy
        of the circular buffer but the newest (``shmg_isio_pin_policy``).
        ``full="revoke"`` (the default) never waits: the oldest pinned copy
        is taken back and written, and the readers pinning it are told when
        their pinned block ends (it raises Revoked). ``full="wait"`` waits
        for an unpin for at most `wait` seconds (None: without limit), then
        write() raises Timeout; ``full="drop"`` makes write() raise Busy
        (-EAGAIN) at once. With wait or drop that frame is not written and
        the stream is unchanged."""
        codes = {"revoke": _lib.SHMG_WFLAG_FULL_REVOKE, "wait": _lib.SHMG_WFLAG_FULL_WAIT,
                 "drop": _lib.SHMG_WFLAG_FULL_DROP}
        if full not in codes:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"full must be 'revoke', 'wait' or 'drop', not {full!r}")
        wait = seconds(wait, "wait", self.path)
        ns = 0 if wait is None else max(1, int(wait * 1e9))  # 0 is the library's "no limit"
        with self._h as s:
            check(lib.shmg_isio_pin_policy(s, codes[full], ns), self.path, "pin policy")

    # pyMilk / ImageStreamIOWrap spellings
    def get_data(self, check: bool = False, timeout: Optional[float] = 5.0) -> np.ndarray:
        """pyMilk's read: with ``check=True``, first wait for a frame newer
        than the last one this object saw."""
        if check:
            self.wait(timeout=timeout)
        return self.read(timeout=timeout)

    def copy(self) -> np.ndarray:
        """ImageStreamIOWrap's name for :meth:`read`."""
        return self.read()

    def wait_update(self, after: int, *, timeout: Optional[float] = None) -> Update:
        """Wait until the counter exceeds `after`; return the counter and the
        frames missed (``counter - after - 1``). The GIL is released while
        waiting; Ctrl-C raises KeyboardInterrupt within a fraction of a
        second. Raises Timeout, WriterDead (the writer died: no frame will
        come), CounterBackwards (the stream was recreated)."""
        after = c_int(after, "after", self.path, 0, 2**64 - 1)
        end = deadline_ns(timeout, self.path)
        now = ffi.new("uint64_t *")
        with self._h as s:
            sliced(lambda d: lib.shmg_isio_wait(s, after, now, d), end, self.path, "wait",
                   self._h)
        c = int(now[0])
        self._seen = max(self._seen, c)
        return Update(c, c - after - 1)

    def wait(self, *, timeout: Optional[float] = None) -> Update:
        """Wait for a frame newer than the last one this object saw (read,
        waited for, or the counter when it was opened)."""
        return self.wait_update(self._seen, timeout=timeout)

    def semwait(self, timeout: Optional[float] = None) -> Update:
        """ImageStreamIOWrap's spelling of :meth:`wait` (on the guard's futex;
        semaphore slots are not used by this binding)."""
        return self.wait(timeout=timeout)

    def __iter__(self) -> Iterator[Frame]:
        """Each new frame as it comes (wait, then a consistent copy), forever;
        frames published while the previous one was handled are skipped
        (compare :attr:`Frame.counter` values to count them)."""
        while True:
            self.wait()
            yield self.snapshot(timeout=None)

    # ------------------------------------------------------------ writer
    def claim(self) -> None:
        """Become the stream's writer (one process at a time). Raises Busy
        when a live process is the writer; warns OwnerDied when a dead
        writer was replaced."""
        with self._h as s:
            check(lib.shmg_isio_claim(s), self.path, "claim")
            self._h.claimed = True

    def release(self) -> None:
        """Stop being the writer."""
        with self._h as s:
            if self._h.claimed:
                self._h.claimed = False
                check(lib.shmg_isio_release(s), self.path, "release")

    def write(self, array: np.ndarray) -> int:
        """Publish a frame: `array` must have the stream's dtype and shape and
        be C-contiguous (a clear InvalidArgument otherwise, and the stream is
        unchanged). The first write claims the stream. Returns the new counter."""
        if self._h.closed:
            raise self._h.closed_error()
        if not isinstance(array, np.ndarray):
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"a frame must be a numpy.ndarray, not {type(array).__name__}")
        if array.dtype != self.dtype:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"frame dtype is {array.dtype}, the stream's is {self.dtype}")
        if array.shape != self.shape:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"frame shape is {array.shape}, the stream's is {self.shape}")
        if not array.flags.c_contiguous:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  "the frame is not C-contiguous (numpy.ascontiguousarray makes it so)")
        if not self._has_data:
            raise InvalidArgument(-errno.ENOTSUP, self.path,
                                  "a GPU stream (location >= 0) has no pixel data in the file")
        if not self._h.claimed:
            self.claim()
        cnt = ffi.new("uint64_t *")
        with self._h as s:
            err = lib.shmg_isio_write(s, ffi.from_buffer(array), self.nbytes, cnt)
            if err:
                raise error_for(err, self.path, "write")
        return int(cnt[0])

    def set_data(self, array: np.ndarray) -> int:
        """pyMilk's name for :meth:`write`."""
        return self.write(array)

    # ------------------------------------------------------------ monitor
    def inspect(self) -> StreamInfo:
        """The stream's guard state, as ``shmguard inspect --json`` shows it
        (relaxed loads; never writes)."""
        with self._h as s:
            return self._inspect(s)

    def _inspect(self, s) -> StreamInfo:
        info = ffi.new("struct shmg_isio_info *")
        info.size = ffi.sizeof("struct shmg_isio_info")
        check(lib.shmg_isio_inspect(s, info), self.path, "inspect")
        slots = []
        for k in range(self.nsem):
            si = ffi.new("struct shmg_isio_slot_info *")
            si.size = ffi.sizeof("struct shmg_isio_slot_info")
            check(lib.shmg_isio_inspect_slot(s, k, si), self.path, "inspect slot")
            slots.append(SlotInfo(k, si.value, bool(si.damaged), si.reader,
                                  liveness(si.reader_alive) if si.reader > 0 else None,
                                  int(si.pin_copy)))
        l = self._layout
        return StreamInfo(
            path=self.path, kind="imagestreamio",
            bytes=int(lib.shmg_region_size(lib.shmg_isio_region(s))),
            name=to_str(info.name), size=[l.dims[i] for i in range(l.naxis)],
            datatype=_TOOL_NAMES.get(l.datatype, "?"), data_bytes=int(l.data_size),
            mark_offset=288, write_flag=info.write, counter=int(info.cnt0),
            writer_pid=info.owner_pid,
            writer_liveness="garbage" if info.owner_pid < 0 else liveness(info.owner_alive),
            writer_kind=("unknown", "guarded", "legacy")[info.writer_kind]
            if info.writer_kind < 3 else "unknown",
            cnt1=int(info.cnt1), waiters_byte=info.waiters, cbsize=int(l.cbsize),
            cbindex=int(info.cbindex), nsem=int(l.nsem), semaphores=slots,
            creator_pid=info.creator_pid)

    md = property(inspect, doc="ImageStreamIOWrap's metadata view: :meth:`inspect`.")

    def recover(self, *, blank: bool = False, dry_run: bool = False,
                force_pid: int = 0) -> List[str]:
        """Clear what dead processes left (shmg_isio_recover); returns the
        steps taken, in words. Raises for the first step left alone.
        ``force_pid`` names a live process to treat as dead (an operator's
        decision: ``shmguard recover --force``)."""
        steps: List[str] = []

        @ffi.callback("void(void *, int, const char *)")
        def report(arg, result, text):
            steps.append(to_str(text))

        o = ffi.new("struct shmg_recover_opts *")
        o.size = ffi.sizeof("struct shmg_recover_opts")
        o.flags = (_lib.SHMG_RECOVER_BLANK if blank else 0) | (_lib.SHMG_RECOVER_DRY_RUN if dry_run else 0)
        o.report = report
        o.force_pid = c_int(force_pid, "force_pid", self.path, 0, 2**31 - 1)  # 0: none
        with self._h as s:
            check(lib.shmg_isio_recover(s, o), self.path, "recover")
        return steps
