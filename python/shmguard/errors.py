"""shmguard's results as Python exceptions.

Every failure of a library call becomes a :class:`ShmguardError` (or one of
its subclasses) that carries

* ``code``: the library's negative result, an errno value (``-errno.ETIMEDOUT``)
  or one of the ``SHMG_E*`` codes of ``shmguard/error.h``;
* ``path``: the file the call was about (``None`` when it had none);
* ``detail``: the library's own line about it (``shmg_error_detail``), which
  says which field or value was wrong.

Subclasses name what a caller can act on: :class:`WriterDead`,
:class:`TooFast`, :class:`LayoutError`, :class:`Timeout`, ... Those for errno
codes also derive from the matching Python built-in (``Timeout`` is a
``TimeoutError``, ``NotFound`` a ``FileNotFoundError``, ``Busy`` a
``BlockingIOError``...), so generic handlers keep working.

A success *with a note* is not an error: when a lock or a stream was taken
over from a process that died (``SHMG_OWNERDEAD``), the operation did happen;
the binding emits :class:`OwnerDied` as a warning (``warnings.warn``). Turn
it into an exception with ``warnings.simplefilter("error", shmguard.OwnerDied)``.
"""
from __future__ import annotations

import errno as _errno
from typing import Optional

from . import _lib

__all__ = [
    "ShmguardError", "WriterDead", "TooFast", "LayoutError", "Timeout",
    "Interrupted", "NotFound", "Busy", "InvalidArgument", "NotRecoverable",
    "Garbage", "Torn", "NotOwner", "Deadlock", "CounterBackwards", "OwnerDied",
    "error_for",
]


class ShmguardError(OSError):
    """A libshmguard call failed; nothing was changed by it.

    Attributes: ``code`` (negative library result), ``path`` (or None),
    ``detail`` (the library's line about it), ``strerror`` (its generic
    description).
    """

    code: int
    path: Optional[str]
    detail: str

    def __init__(self, code: int, path: Optional[str] = None, detail: Optional[str] = None,
                 what: Optional[str] = None):
        generic = _text(_lib.lib.shmg_strerror(code))
        self.code = code
        self.path = path
        self.detail = detail if detail is not None else generic
        self.what = what
        # errno is set for errno codes only; SHMG_E* codes are not errnos.
        super().__init__(-code if -code < 30000 else None, generic)
        self.filename = path

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        what = f"{self.what}: " if self.what else ""
        return f"{where}{what}{self.detail} (code {self.code})"

    def __reduce__(self):
        return (type(self), (self.code, self.path, self.detail, self.what))


class WriterDead(ShmguardError):
    """The stream's writer died while writing a frame (SHMG_EWRITERDEAD):
    no new frame will come until another writer (or `recover`) takes over."""


class TooFast(ShmguardError):
    """The writer rewrote the frame faster than it could be copied, on every
    bounded retry (SHMG_ETOOFAST). Retry, or give the stream a circular
    buffer (cbsize >= 2), which readers never have to retry on."""


class LayoutError(ShmguardError):
    """The file is not of the expected kind or version (SHMG_ELAYOUT); the
    detail says which field did not match."""


class Timeout(ShmguardError, TimeoutError):
    """The deadline passed (-ETIMEDOUT)."""


class Interrupted(ShmguardError, InterruptedError):
    """A signal interrupted a wait (-EINTR) and no Python handler raised."""


class NotFound(ShmguardError, FileNotFoundError):
    """No such file, stream or parameter (-ENOENT)."""


class Busy(ShmguardError, BlockingIOError):
    """A live process holds what was asked for (-EBUSY, -EAGAIN)."""


class InvalidArgument(ShmguardError, ValueError):
    """Bad arguments (-EINVAL, -ERANGE, -E2BIG, -ENAMETOOLONG)."""


class NotRecoverable(ShmguardError):
    """A lock's owner died and nobody repaired it (SHMG_ENOTRECOVERABLE)."""


class Garbage(ShmguardError):
    """A guard word holds a value no correct participant writes (SHMG_EGARBAGE)."""


class Torn(ShmguardError):
    """Data read is known to be torn (SHMG_ETORN)."""


class NotOwner(ShmguardError):
    """This process does not own the lock or stream (SHMG_ENOTOWNER); a
    writer must claim the stream first."""


class Deadlock(ShmguardError):
    """The calling thread already owns the lock (SHMG_EDEADLK)."""


class CounterBackwards(ShmguardError):
    """The frame counter moved backwards: the stream was recreated (SHMG_ECOUNTER)."""


class Truncated(ShmguardError):
    """The file was truncated under the mapping (SHMG_ETRUNCATED): what was
    read is not the file's."""


class Revoked(ShmguardError):
    """The writer took a pinned copy back and rewrote it while it was pinned
    (SHMG_EREVOKED): every other copy was pinned too, or the reader was
    judged gone. Whatever was computed from the pinned frame must be
    discarded."""


class OwnerDied(ShmguardError, UserWarning):
    """A note on a success (SHMG_OWNERDEAD): a lock or a stream was taken over
    from a process that died; what it left may be half done. Emitted as a
    warning; raised only if warnings of this class are made errors."""


_BY_CODE = {
    _lib.SHMG_EWRITERDEAD: WriterDead,
    _lib.SHMG_ETOOFAST: TooFast,
    _lib.SHMG_ELAYOUT: LayoutError,
    _lib.SHMG_ENOTRECOVERABLE: NotRecoverable,
    _lib.SHMG_EGARBAGE: Garbage,
    _lib.SHMG_ETORN: Torn,
    _lib.SHMG_ENOTOWNER: NotOwner,
    _lib.SHMG_EDEADLK: Deadlock,
    _lib.SHMG_ECOUNTER: CounterBackwards,
    _lib.SHMG_ETRUNCATED: Truncated,
    _lib.SHMG_EREVOKED: Revoked,
    _lib.SHMG_OWNERDEAD: OwnerDied,
    -_errno.ETIMEDOUT: Timeout,
    -_errno.EINTR: Interrupted,
    -_errno.ENOENT: NotFound,
    -_errno.EBUSY: Busy,
    -_errno.EAGAIN: Busy,
    -_errno.EINVAL: InvalidArgument,
    -_errno.ERANGE: InvalidArgument,
    -_errno.E2BIG: InvalidArgument,
    -_errno.ENAMETOOLONG: InvalidArgument,
}


def _text(p) -> str:
    return _lib.ffi.string(p).decode("utf-8", "replace")


def error_for(code: int, path: Optional[str] = None, what: Optional[str] = None,
              detail: Optional[str] = None) -> ShmguardError:
    """The exception for a library result `code` (call right after the
    failing call, in the same thread, so that the library's detail is its)."""
    if detail is None:
        detail = _text(_lib.lib.shmg_error_detail(code))
    return _BY_CODE.get(code, ShmguardError)(code, path, detail, what)


def check(code: int, path: Optional[str] = None, what: Optional[str] = None) -> int:
    """Raise for a negative result; warn OwnerDied for SHMG_OWNERDEAD; return it."""
    if code < 0:
        raise error_for(code, path, what)
    if code == _lib.SHMG_OWNERDEAD:
        import warnings
        warnings.warn(error_for(code, path, what), stacklevel=3)
    return code
