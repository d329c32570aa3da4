"""milk's FPS (function parameter structure) and PINFO (process info) files.

FPS: ``fps = FPS("name")`` opens ``<dir>/<name>.fps.shm``; parameters are
addressed by their full milk name (``keywordfull`` such as ``.loop.gain``;
the leading '.' may be left out) or by index. ``fps["loop.gain"]`` reads the
value and its counter as one unit under the parameter's lock; assignment
sets it under that lock (``cnt0`` + 1 exactly once, the header's UPDATE bit
raised); :meth:`FPS.update` is a read-modify-write under the lock;
:meth:`FPS.read_rt` is a real-time read that never blocks (stale when a
setter holds the lock: the previous value is kept);
``with fps.locked():`` holds every parameter's lock (the whole-FPS section).

PINFO: :class:`Pinfo` wraps ``proc.<name>.<pid>.shm``: status (code and
message as one unit), the loop counter, and the commands a monitor sends
(pause, step, exit) that are never lost.
"""
from __future__ import annotations

import contextlib
import errno
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Union

from . import _lib
from ._common import (Handle, c_int, choice, deadline_ns, no_nul, open_error, resolve, sliced,
                      to_str, truncated)
from .errors import InvalidArgument, NotFound, ShmguardError, check, error_for
from .stream import liveness

ffi, lib = _lib.ffi, _lib.lib

__all__ = ["FPS", "Param", "RtRead", "FpsInfo", "ParamInfo", "Pinfo", "PinfoInfo", "fps_path",
           "pinfo_path", "FPTYPE"]

# milk's parameter type codes (FPTYPE_*): how the value union's first bytes
# read. Strings are char[64] (the union is two of them).
FPTYPE = {
    "undef": 0x1, "int32": 0x2, "uint32": 0x4, "int64": 0x8, "uint64": 0x10,
    "float32": 0x20, "float64": 0x40, "pid": 0x80, "timespec": 0x100,
    "filename": 0x200, "fitsfilename": 0x400, "execfilename": 0x800,
    "dirname": 0x1000, "streamname": 0x2000, "string": 0x4000, "onoff": 0x8000,
    "process": 0x10000, "fpsname": 0x20000, "string_not_stream": 0x40000,
}
_STRUCT = {0x2: "<i", 0x4: "<I", 0x8: "<q", 0x10: "<Q", 0x20: "<f", 0x40: "<d",
           0x80: "<i", 0x8000: "<q"}
_STRING_TYPES = {0x200, 0x400, 0x800, 0x1000, 0x2000, 0x4000, 0x10000, 0x20000, 0x40000}
STRING_MAX = 64  # milk's FUNCTION_PARAMETER_STRMAXLEN, NUL included
_TYPE_NAME = {v: k for k, v in FPTYPE.items()}

PathLike = Union[str, "os.PathLike[str]"]


def fps_path(name: PathLike) -> str:
    """The file of FPS `name` (``shmg_fps_path``); a path (with '/') is kept."""
    return resolve(name, lib.shmg_fps_path, "FPS", ".fps.shm")


def pinfo_path(name: str, pid: int) -> str:
    """The file of process `name` with PID `pid` (``shmg_pinfo_path``)."""
    buf = ffi.new("char[]", _lib.PATH_MAX)
    err = lib.shmg_pinfo_path(buf, _lib.PATH_MAX, no_nul(name, "process name").encode(),
                              c_int(pid, "pid", None, 1, 2**31 - 1))
    if err < 0:
        raise error_for(err, None, f"process name {name!r}")
    return to_str(buf)


def _decode(ptype: int, raw: bytes) -> Any:
    fmt = _STRUCT.get(ptype)
    if fmt:
        return struct.unpack_from(fmt, raw)[0]
    if ptype in _STRING_TYPES:
        return raw[:STRING_MAX].split(b"\0", 1)[0].decode("utf-8", "replace")
    if ptype == 0x100:
        sec, nsec = struct.unpack_from("<qq", raw)
        return sec + nsec * 1e-9
    return bytes(raw)


def _encode(ptype: int, value: Any, what: str, path: str) -> bytes:
    fmt = _STRUCT.get(ptype)
    try:
        if fmt:
            if fmt in ("<f", "<d"):
                return struct.pack(fmt, float(value))
            if isinstance(value, float) and not value.is_integer():
                raise TypeError(f"{value!r} is not an integer")
            return struct.pack(fmt, int(value))
        if ptype in _STRING_TYPES:
            b = value.encode() if isinstance(value, str) else bytes(value)
            if len(b) >= STRING_MAX or b"\0" in b:
                raise ValueError(f"a string of {len(b)} bytes does not fit milk's "
                                 f"{STRING_MAX}-byte field (NUL included) or has a NUL")
            return b.ljust(STRING_MAX, b"\0")
        if ptype == 0x100:
            sec = int(value)
            return struct.pack("<qq", sec, int(round((float(value) - sec) * 1e9)))
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"the parameter's type {hex(ptype)} is not one this binding "
                            "encodes: give bytes, or name a type with as_type=")
        b = bytes(value)
    except (TypeError, ValueError, struct.error, OverflowError) as e:
        raise InvalidArgument(-errno.EINVAL, path,
                              f"{what} ({_TYPE_NAME.get(ptype, hex(ptype))}): {e}") from None
    if len(b) > 128:
        raise InvalidArgument(-errno.EINVAL, path, f"{what}: {len(b)} bytes > 128")
    return b


class RtRead(NamedTuple):
    """What :meth:`FPS.read_rt` returns: a parameter's value and cnt0, read
    as one consistent pair, and ``stale``: True when a setter held the
    parameter's lock through every look, so value and cnt0 are the
    `previous` ones passed in (None and -1 when there were none)."""
    value: Any
    cnt0: int
    stale: bool


@dataclass
class ParamInfo:
    """One FPS parameter as a monitor sees it (relaxed loads, no lock)."""
    index: int
    keyword: str
    type: int
    type_name: str
    fpflag: int
    cnt0: int
    value: Any
    lock_offset: int
    lock_state: str
    lock_owner_tid: int


@dataclass
class FpsInfo:
    """The state ``shmguard inspect --json`` shows for an FPS file."""
    path: str
    kind: str
    bytes: int
    name: str
    layout: str
    parameters: int
    updates: int
    signal: int
    locks_not_unlocked: int
    locks_dead_owner: int
    locks_broken: int
    params: List[ParamInfo]


_LOCK_STATE = {0: "unlocked", 1: "held", 2: "inconsistent", 3: "not-recoverable", 4: "garbage"}


@ffi.callback("int(void *, void *)")
def _update_cb(value, arg):
    """shmg_fps_update's callback: runs in the library with the parameter's
    lock held; arg is a handle of [type, fn, path, exception]."""
    box = ffi.from_handle(arg)
    try:
        raw = ffi.buffer(value, 128)
        old = _decode(box[0], raw[:])
        new = box[1](old)
        if new == old:
            return 0
        b = _encode(box[0], new, "update", box[2])
        raw[0:len(b)] = b
        return 1
    except BaseException as e:  # re-raised by FPS.update
        box[3] = e
        return 0


class Param:
    """A parameter of an FPS: ``value``, ``cnt0``, ``set(v)``, ``update(fn)``."""

    def __init__(self, fps: "FPS", index: int):
        self.fps, self.index = fps, index

    @property
    def value(self) -> Any:
        return self.fps.get(self.index)[0]

    @value.setter
    def value(self, v: Any) -> None:
        self.fps.set(self.index, v)

    def __repr__(self) -> str:
        return f"<shmguard.Param {self.fps.name}[{self.index}] {self.fps.keyword(self.index)!r}>"


class FPS:
    """A milk FPS file (``<name>.fps.shm``), every access under the
    parameters' own locks (shmguard's word in each record's userflag).

    ``FPS("name")`` or ``FPS("/path/x.fps.shm")`` opens it; :meth:`create`
    makes a new one (tests and demos). ``fps[key]`` (a full name or an index)
    reads, ``fps[key] = v`` sets, ``fps.update(key, fn)`` does v = fn(v)
    under the lock, ``with fps.locked():`` is a whole-FPS section.
    """

    def __init__(self, name: PathLike, *, follow: bool = False, layout: str = "auto"):
        self._f = None
        self.path = fps_path(name)
        o = ffi.new("struct shmg_fps_opts *")
        o.size = ffi.sizeof("struct shmg_fps_opts")
        o.layout = choice(layout, "layout", {"auto": 0, "2024": 1, "new": 2}, self.path)
        pp = ffi.new("struct shmg_fps **")
        err = lib.shmg_fps_open(pp, self.path.encode(),
                                (_lib.SHMG_REGION_FOLLOW if follow else 0)
                                | _lib.SHMG_REGION_TRUNCATION, o)
        if err:
            raise open_error(err, self.path, "open")
        self._setup(pp[0])

    @classmethod
    def create(cls, name: PathLike, nparam: int, *, layout: str = "2024",
               replace: bool = False) -> "FPS":
        """Create a zeroed FPS file of `nparam` parameters (its name and
        NBparamMAX set, as shmg_fps_create does; parameters have no names)."""
        self = cls.__new__(cls)
        self._f = None
        self.path = fps_path(name)
        base = os.path.basename(self.path)
        what = ffi.new("struct shmg_fps_params *")
        what.size = ffi.sizeof("struct shmg_fps_params")
        what.layout = choice(layout, "layout", {"2024": 1, "new": 2}, self.path)
        what.nparam = c_int(nparam, "nparam", self.path, 1, 2**32 - 1)
        cname = ffi.new("char[]", base[: -len(".fps.shm")].encode() if base.endswith(".fps.shm")
                        else base.encode())
        what.name = cname
        pp = ffi.new("struct shmg_fps **")
        err = lib.shmg_fps_create(pp, self.path.encode(), what, 0o600,
                                  (_lib.SHMG_REGION_REPLACE if replace else 0)
                                  | _lib.SHMG_REGION_TRUNCATION)
        if err == -errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "a file exists there (replace=True replaces it)",
                                  self.path)
        if err:
            raise open_error(err, self.path, "create")
        self._setup(pp[0])
        return self

    def _setup(self, f) -> None:
        self._f = f
        self._h = Handle(f, lambda f, h: lib.shmg_fps_close(f), f"{self.path}: the FPS")
        info = ffi.new("struct shmg_fps_info *")
        info.size = ffi.sizeof("struct shmg_fps_info")
        check(lib.shmg_fps_inspect(f, info), self.path, "inspect")
        self.nparam: int = int(info.nparam)
        self.name: str = to_str(info.name)
        self._layout = "2024" if info.layout == 1 else "new"
        self._locked_all = False
        self._rt_types: dict = {}

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Unmap and close. Closing twice does nothing; any other use after
        close raises ValueError. Safe while other threads (or an update's
        callback) use the object: a call in flight keeps the library handle
        until it returns (a wait sees the close within one 50 ms slice and
        raises ValueError); a whole-FPS section is released when its
        ``with`` block ends, by the thread that holds it."""
        h, self._f = getattr(self, "_h", None), None
        if h is not None:
            h.close()

    def __reduce__(self):
        raise TypeError("an FPS cannot be copied or pickled (it owns a mapping): open "
                        "another FPS of the same name")

    def __enter__(self) -> "FPS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


    def __repr__(self) -> str:
        return f"<shmguard.FPS {self.name!r} {self.path!r} {self.nparam} parameters>"

    def __len__(self) -> int:
        return self.nparam

    # ------------------------------------------------------------ parameters
    def index(self, key: Union[str, int]) -> int:
        """The index of a parameter given by full name or index."""
        if isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < self.nparam:
                raise InvalidArgument(-errno.ERANGE, self.path,
                                      f"parameter index {key} outside 0..{self.nparam - 1}")
            return key
        if not isinstance(key, str):
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"a parameter is a full name or an index, not {type(key).__name__}")
        no_nul(key, "parameter name", self.path)
        i = ffi.new("unsigned *")
        with self._h as f:
            err = lib.shmg_fps_find(f, key.encode(), i)
            if err == -errno.ENOENT:
                truncated(lib.shmg_fps_region(f), self.path, f"parameter {key!r}")
                raise NotFound(err, self.path, f"no parameter named {key!r}")
            check(err, self.path, f"parameter {key!r}")
        return int(i[0])

    def param(self, key: Union[str, int]) -> Param:
        return Param(self, self.index(key))

    def _pinfo(self, i: int):
        pi = ffi.new("struct shmg_fps_param_info *")
        pi.size = ffi.sizeof("struct shmg_fps_param_info")
        with self._h as f:
            check(lib.shmg_fps_inspect_param(f, i, pi), self.path, "inspect parameter")
        return pi

    def keyword(self, key: Union[str, int]) -> str:
        return to_str(self._pinfo(self.index(key)).keyword)

    def type_of(self, key: Union[str, int]) -> int:
        """milk's type code of a parameter (see FPTYPE)."""
        return int(self._pinfo(self.index(key)).type)

    def _type(self, i: int, as_type: Optional[str]) -> int:
        if as_type is None:
            return self.type_of(i)
        if as_type not in FPTYPE:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"as_type {as_type!r} is not one of {', '.join(FPTYPE)}")
        return FPTYPE[as_type]

    def get(self, key: Union[str, int], *, as_type: Optional[str] = None,
            timeout: Optional[float] = None):
        """(value, cnt0) of a parameter, read as one unit under its lock.
        The value is decoded by the parameter's milk type, or by `as_type`
        (a key of FPTYPE, such as "int64") for an untyped parameter."""
        end = deadline_ns(timeout, self.path)
        i = self.index(key)
        ptype = self._type(i, as_type)
        buf = ffi.new("unsigned char[128]")
        cnt = ffi.new("int64_t *")
        if self._locked_all:
            # Inside the whole-FPS section this thread holds every lock:
            # relaxed inspection reads are then exact.
            pi = self._pinfo(i)
            return _decode(ptype, bytes(pi.value)), int(pi.cnt0)
        with self._h as f:
            sliced(lambda d: lib.shmg_fps_get(f, i, buf, 128, cnt, d), end,
                   self.path, f"get parameter {i}", self._h)
        return _decode(ptype, ffi.buffer(buf)[:]), int(cnt[0])

    def set(self, key: Union[str, int], value: Any, *, as_type: Optional[str] = None,
            timeout: Optional[float] = None) -> int:
        """Set a parameter under its lock: value, cnt0 + 1 once, UPDATE bit.
        Returns the new cnt0. The value is encoded by the parameter's type
        (a value that does not fit is refused, and nothing changes)."""
        end = deadline_ns(timeout, self.path)
        i = self.index(key)
        b = _encode(self._type(i, as_type), value, f"parameter {i}", self.path)
        cnt = ffi.new("int64_t *")
        with self._h as f:
            if self._locked_all:
                check(lib.shmg_fps_set_locked(f, i, b, len(b), cnt), self.path,
                      f"set parameter {i}")
            else:
                sliced(lambda d: lib.shmg_fps_set(f, i, b, len(b), cnt, d), end,
                       self.path, f"set parameter {i}", self._h)
        return int(cnt[0])

    def update(self, key: Union[str, int], fn: Callable[[Any], Any], *,
               as_type: Optional[str] = None, timeout: Optional[float] = None) -> int:
        """Read-modify-write under the parameter's lock: value = fn(value).
        cnt0 + 1 and UPDATE only if the value changed. fn runs with the lock
        held (keep it short; an exception in it changes nothing and is
        re-raised). Returns the new cnt0."""
        end = deadline_ns(timeout, self.path)
        i = self.index(key)
        if self._locked_all:
            v, c = self.get(i, as_type=as_type)
            nv = fn(v)
            return self.set(i, nv, as_type=as_type) if nv != v else c
        box = [self._type(i, as_type), fn, self.path, None]
        h = ffi.new_handle(box)
        cnt = ffi.new("int64_t *")
        with self._h as f:  # (fn may close this FPS: the handle stays until we return)
            sliced(lambda d: lib.shmg_fps_update(f, i, _update_cb, h, cnt, d),
                   end, self.path, f"update parameter {i}", self._h)
        if box[3] is not None:
            raise box[3]
        return int(cnt[0])

    def read_rt(self, key: Union[str, int], previous: Optional[RtRead] = None, *,
                as_type: Optional[str] = None) -> RtRead:
        """A real-time read (``shmg_fps_read_rt``): never blocks, never makes
        a system call, never writes to the file, so a control loop may call
        it every iteration. Returns :class:`RtRead` ``(value, cnt0, stale)``.

        The value and cnt0 are read without the lock, seqlock-style, and only
        a consistent pair is returned. If a setter holds the parameter's lock
        through all of the library's looks (SHMG_FPS_RT_TRIES), nothing
        consistent can be read: the result is `previous`'s value and cnt0
        with ``stale=True`` (None and -1 without a `previous`). Pass the last
        result back in, so a stalled setter leaves the loop on the last good
        value rather than none::

            gain = fps.read_rt("loop.gain")
            while running:
                gain = fps.read_rt("loop.gain", gain)   # gain.stale: setter busy
                apply(gain.value)

        (A setter that died holding the lock keeps every read stale until a
        set, :meth:`recover` or ``shmguard recover`` repairs the lock.) For
        the cheapest loop, address the parameter by index (a name is looked
        up on each call). Decoded as :meth:`get` does.
        """
        if previous is not None and not isinstance(previous, RtRead):
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  "previous must be what read_rt returned (an RtRead) or None, "
                                  f"not {type(previous).__name__}")
        i = self.index(key)
        ptype = self._rt_types.get(i) if as_type is None else None
        if ptype is None:
            ptype = self._type(i, as_type)
            if as_type is None:
                self._rt_types[i] = ptype
        buf = ffi.new("unsigned char[128]")
        cnt = ffi.new("int64_t *")
        with self._h as f:
            err = lib.shmg_fps_read_rt(f, i, buf, 128, cnt)
            if err:
                truncated(lib.shmg_fps_region(f), self.path, f"real-time read of parameter {i}")
        if err == _lib.SHMG_STALE:
            if previous is None:
                return RtRead(None, -1, True)
            return RtRead(previous.value, previous.cnt0, True)
        check(err, self.path, f"real-time read of parameter {i}")
        return RtRead(_decode(ptype, ffi.buffer(buf)[:]), int(cnt[0]), False)

    def __getitem__(self, key: Union[str, int]) -> Any:
        return self.get(key)[0]

    def __setitem__(self, key: Union[str, int], value: Any) -> None:
        self.set(key, value)

    def keys(self) -> List[str]:
        """The full names of the named parameters."""
        return [k for k in (self.keyword(i) for i in range(self.nparam)) if k]

    def flags(self, key: Union[str, int], set: int = 0, clear: int = 0) -> int:
        """Set and clear fpflag bits in one atomic step; returns the new flags."""
        i = self.index(key)
        set = c_int(set, "set", self.path, 0, 2**64 - 1)
        clear = c_int(clear, "clear", self.path, 0, 2**64 - 1)
        out = ffi.new("uint64_t *")
        with self._h as f:
            check(lib.shmg_fps_flags(f, i, set, clear, out), self.path, "flags")
        return int(out[0])

    @contextlib.contextmanager
    def locked(self, *, timeout: Optional[float] = None) -> Iterator["FPS"]:
        """The whole-FPS section: every parameter's lock, in index order.
        Inside it, this FPS object's reads and sets use the held locks."""
        end = deadline_ns(timeout, self.path)
        if self._locked_all:
            raise InvalidArgument(_lib.SHMG_EDEADLK, self.path, "the whole-FPS section is already held")
        # The block holds a use of the handle: closing the FPS inside it
        # leaves the handle for the unlock at its end.
        with self._h as f:
            sliced(lambda d: lib.shmg_fps_lock_all(f, d), end, self.path, "lock all", self._h)
            self._locked_all = True
            try:
                yield self
            finally:
                self._locked_all = False
                check(lib.shmg_fps_unlock_all(f), self.path, "unlock all")

    # ------------------------------------------------------------ monitor
    def inspect(self) -> FpsInfo:
        """What ``shmguard inspect --json`` shows, plus each named parameter."""
        with self._h as f:
            return self._inspect(f)

    def _inspect(self, f) -> FpsInfo:
        info = ffi.new("struct shmg_fps_info *")
        info.size = ffi.sizeof("struct shmg_fps_info")
        check(lib.shmg_fps_inspect(f, info), self.path, "inspect")
        held = dead = broken = 0
        params = []
        for i in range(info.nparam):
            l = ffi.new("struct shmg_xlock *")
            check(lib.shmg_fps_param_lock(f, i, l), self.path, "lock")
            li = ffi.new("struct shmg_xlock_info *")
            li.size = ffi.sizeof("struct shmg_xlock_info")
            lib.shmg_xlock_inspect(l, li)
            if li.state != 0:
                held += 1
                if li.state in (3, 4):
                    broken += 1
                elif li.owner_alive == _lib.SHMG_PROC_DEAD:
                    dead += 1
            pi = self._pinfo(i)
            kw = to_str(pi.keyword)
            if kw or li.state != 0 or pi.cnt0:
                params.append(ParamInfo(
                    index=i, keyword=kw, type=int(pi.type),
                    type_name=_TYPE_NAME.get(pi.type, hex(pi.type)), fpflag=int(pi.fpflag),
                    cnt0=int(pi.cnt0), value=_decode(pi.type, bytes(pi.value)),
                    lock_offset=int(pi.lock_offset), lock_state=_LOCK_STATE.get(li.state, "?"),
                    lock_owner_tid=int(li.owner_tid)))
        return FpsInfo(path=self.path, kind="milk-fps",
                       bytes=int(lib.shmg_region_size(lib.shmg_fps_region(f))),
                       name=to_str(info.name), layout=self._layout, parameters=int(info.nparam),
                       updates=int(info.cnt_sum), signal=int(info.signal),
                       locks_not_unlocked=held, locks_dead_owner=dead, locks_broken=broken,
                       params=params)

    def recover(self) -> List[str]:
        """Recover every parameter lock whose holder died (shmg_fps_recover)."""
        steps: List[str] = []

        @ffi.callback("void(void *, int, const char *)")
        def report(arg, result, text):
            steps.append(to_str(text))

        o = ffi.new("struct shmg_recover_opts *")
        o.size = ffi.sizeof("struct shmg_recover_opts")
        o.report = report
        with self._h as f:
            check(lib.shmg_fps_recover(f, o), self.path, "recover")
        return steps


# ---------------------------------------------------------------- PINFO

_LOOPSTAT = ["init", "active", "pause", "stop", "error", "spin", "crashed"]


@dataclass
class PinfoInfo:
    """The state ``shmguard inspect --json`` shows for a PINFO file."""
    path: str
    kind: str
    bytes: int
    name: str
    pid: int
    pid_liveness: str
    loopcnt: int
    ctrlval: int
    loopstat: str
    statuscode: int
    statusmsg: str
    lock_offset: int
    lock_state: str


class Pinfo:
    """A milk PINFO file (``proc.<name>.<pid>.shm``).

    ``Pinfo(path)`` or ``Pinfo(name, pid)`` opens; :meth:`create` makes one.
    Monitor side: :meth:`pause`, :meth:`step`, :meth:`exit`, :meth:`run`
    (commands never lost; an exit pending is never replaced). Process side:
    :meth:`heartbeat`, :meth:`set_status`, :meth:`transition`.
    """

    RUN, PAUSE, STEP, EXIT, SPIN = 0, 1, 2, 3, 5

    def __init__(self, name_or_path: PathLike, pid: Optional[int] = None, *, follow: bool = False):
        self._p = None
        self.path = (pinfo_path(os.fspath(name_or_path), pid) if pid is not None
                     else no_nul(os.fspath(name_or_path), "PINFO path"))
        pp = ffi.new("struct shmg_pinfo **")
        err = lib.shmg_pinfo_open(pp, self.path.encode(),
                                  (_lib.SHMG_REGION_FOLLOW if follow else 0)
                                  | _lib.SHMG_REGION_TRUNCATION)
        if err:
            raise open_error(err, self.path, "open")
        self._adopt(pp[0])

    @classmethod
    def create(cls, name: str, pid: Optional[int] = None, *, path: Optional[str] = None,
               layout: str = "new", replace: bool = False) -> "Pinfo":
        """Create a zeroed PINFO file for process `name` (PID: this one by
        default), as milk's own creation leaves it."""
        self = cls.__new__(cls)
        self._p = None
        pid = os.getpid() if pid is None else pid
        no_nul(name, "process name")
        self.path = no_nul(path, "PINFO path") if path is not None else pinfo_path(name, pid)
        w = ffi.new("struct shmg_pinfo_params *")
        w.size = ffi.sizeof("struct shmg_pinfo_params")
        w.file_size = choice(layout, "layout", {"new": 4640, "2024": 4624}, self.path)
        cname = ffi.new("char[]", name.encode())
        w.name = cname
        w.pid = c_int(pid, "pid", self.path, 1, 2**31 - 1)
        pp = ffi.new("struct shmg_pinfo **")
        err = lib.shmg_pinfo_create(pp, self.path.encode(), w, 0o600,
                                    (_lib.SHMG_REGION_REPLACE if replace else 0)
                                    | _lib.SHMG_REGION_TRUNCATION)
        if err == -errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "a file exists there (replace=True replaces it)", self.path)
        if err:
            raise open_error(err, self.path, "create")
        self._adopt(pp[0])
        return self

    def _adopt(self, p) -> None:
        self._p = p
        self._h = Handle(p, lambda p, h: lib.shmg_pinfo_close(p), f"{self.path}: the PINFO file")

    def close(self) -> None:
        """Unmap and close. Closing twice does nothing; any other use after
        close raises ValueError. Safe while other threads use the object: a
        call in flight keeps the library handle until it returns (a wait
        sees the close within one 50 ms slice and raises ValueError)."""
        h, self._p = getattr(self, "_h", None), None
        if h is not None:
            h.close()

    def __reduce__(self):
        raise TypeError("a Pinfo cannot be copied or pickled (it owns a mapping): open "
                        "another Pinfo of the same file")

    def __enter__(self) -> "Pinfo":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _call(self, fn, what: str) -> int:
        """fn(handle) for a call that cannot fail but reads the file: its
        result, unless the file was truncated (then it read zeros)."""
        with self._h as p:
            r = int(fn(p))
            truncated(lib.shmg_pinfo_region(p), self.path, what)
            return r

    # monitor side
    def command(self, cmd: int, *, timeout: Optional[float] = None) -> None:
        """Ask the process for `cmd` (RUN, PAUSE, STEP, EXIT, SPIN). Raises
        Busy-like ShmguardError (-EALREADY) when an exit is pending."""
        end = deadline_ns(timeout, self.path)
        cmd = c_int(cmd, "cmd", self.path, -2**31, 2**31 - 1)
        with self._h as p:
            sliced(lambda d: lib.shmg_pinfo_command(p, cmd, d), end, self.path, "command",
                   self._h)

    def pause(self, **kw) -> None:
        self.command(self.PAUSE, **kw)

    def step(self, **kw) -> None:
        self.command(self.STEP, **kw)

    def exit(self, **kw) -> None:
        self.command(self.EXIT, **kw)

    def run(self, **kw) -> None:
        self.command(self.RUN, **kw)

    @property
    def ctrl(self) -> int:
        """CTRLval now: the pending command."""
        return self._call(lib.shmg_pinfo_ctrl, "ctrl")

    @property
    def loopcnt(self) -> int:
        """The loop counter (heartbeats so far)."""
        return self._call(lib.shmg_pinfo_loopcnt, "loop counter")

    @property
    def status(self):
        """(code, message), read as one unit under the status lock."""
        code = ffi.new("int *")
        msg = ffi.new("char[200]")
        with self._h as p:
            sliced(lambda d: lib.shmg_pinfo_get_status(p, code, msg, 200, d), None, self.path,
                   "status", self._h)
        return int(code[0]), to_str(msg)

    # process side
    def set_status(self, code: int, msg: str, *, timeout: Optional[float] = None) -> None:
        """Write the status code and message (at most 199 bytes) as one unit."""
        end = deadline_ns(timeout, self.path)
        code = c_int(code, "code", self.path, -2**31, 2**31 - 1)
        if not isinstance(msg, str):
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"msg must be a str, not {type(msg).__name__}")
        b = msg.encode()
        if len(b) >= 200 or b"\0" in b:
            raise InvalidArgument(-errno.EINVAL, self.path,
                                  f"a status message of {len(b)} bytes does not fit 199 bytes, or has a NUL")
        with self._h as p:
            sliced(lambda d: lib.shmg_pinfo_set_status(p, code, b, d), end,
                   self.path, "set status", self._h)

    def heartbeat(self) -> int:
        """loopcnt + 1 (atomic); returns the new value."""
        return self._call(lib.shmg_pinfo_heartbeat, "heartbeat")

    def transition(self, frm: int, to: int, *, timeout: Optional[float] = None) -> bool:
        """CTRLval from `frm` to `to` only if it still holds `frm`; returns
        whether it changed (a command written meanwhile is kept)."""
        end = deadline_ns(timeout, self.path)
        frm = c_int(frm, "frm", self.path, -2**31, 2**31 - 1)
        to = c_int(to, "to", self.path, -2**31, 2**31 - 1)
        now = ffi.new("int *")
        try:
            with self._h as p:
                sliced(lambda d: lib.shmg_pinfo_transition(p, frm, to, now, d), end,
                       self.path, "transition", self._h)
        except ShmguardError as e:
            if e.code == -errno.EAGAIN:
                return False
            raise
        return True

    def inspect(self) -> PinfoInfo:
        with self._h as p:
            return self._inspect(p)

    def _inspect(self, p) -> PinfoInfo:
        i = ffi.new("struct shmg_pinfo_info *")
        i.size = ffi.sizeof("struct shmg_pinfo_info")
        check(lib.shmg_pinfo_inspect(p, i), self.path, "inspect")
        l = ffi.new("struct shmg_xlock *")
        check(lib.shmg_pinfo_status_lock(p, l), self.path, "lock")
        li = ffi.new("struct shmg_xlock_info *")
        li.size = ffi.sizeof("struct shmg_xlock_info")
        lib.shmg_xlock_inspect(l, li)
        return PinfoInfo(path=self.path, kind="milk-pinfo", bytes=int(i.file_size),
                         name=to_str(i.name), pid=int(i.pid), pid_liveness=liveness(i.pid_alive),
                         loopcnt=int(i.loopcnt), ctrlval=int(i.ctrl),
                         loopstat=_LOOPSTAT[i.loopstat] if 0 <= i.loopstat < 7 else "?",
                         statuscode=int(i.statuscode), statusmsg=to_str(i.statusmsg),
                         lock_offset=int(i.lock_offset), lock_state=_LOCK_STATE.get(li.state, "?"))
