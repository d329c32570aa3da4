"""shmguard: guarded access to ImageStreamIO streams and milk FPS/PINFO files.

A binding of libshmguard's public C API (cffi, ABI mode)::

    import numpy as np, shmguard
    cam = shmguard.Stream.create("cam", (64, 64), np.uint16)
    cam.write(np.ones((64, 64), np.uint16))
    frame = shmguard.Stream("cam").read()      # a new array, never torn

Main names: :class:`Stream` (ImageStreamIO), :class:`FPS` and :class:`Pinfo`
(milk), :class:`ShmguardError` and its subclasses (:class:`WriterDead`,
:class:`TooFast`, :class:`LayoutError`, :class:`Timeout`, ...).
The library is located through ``$SHMGUARD_LIBRARY``, else the installed
``libshmguard.so.1``. See doc/python.md.
"""
from . import _lib
from .errors import (Busy, CounterBackwards, Deadlock, Garbage, Interrupted, InvalidArgument,
                     LayoutError, NotFound, NotOwner, NotRecoverable, OwnerDied,
                     Revoked, ShmguardError, Timeout, TooFast, Torn, Truncated, WriterDead, error_for)
from .milk import FPS, FpsInfo, Param, ParamInfo, Pinfo, PinfoInfo, RtRead, fps_path, pinfo_path
from .stream import DATATYPES, Frame, SlotInfo, Stream, StreamInfo, Update, stream_path

__version__ = "0.2.0"
library_path = _lib.library_path


def strerror(code: int) -> str:
    """The library's description of a result code (shmg_strerror)."""
    return _lib.ffi.string(_lib.lib.shmg_strerror(code)).decode()


__all__ = [
    "Stream", "Frame", "Update", "StreamInfo", "SlotInfo", "stream_path", "DATATYPES",
    "FPS", "Param", "RtRead", "FpsInfo", "ParamInfo", "Pinfo", "PinfoInfo", "fps_path", "pinfo_path",
    "ShmguardError", "WriterDead", "TooFast", "LayoutError", "Timeout", "Interrupted",
    "NotFound", "Busy", "InvalidArgument", "NotRecoverable", "Garbage", "Torn", "NotOwner",
    "Deadlock", "CounterBackwards", "Truncated", "Revoked", "OwnerDied", "error_for", "strerror", "library_path",
]
