"""Fixtures of the binding's tests: a private MILK_SHM_DIR per test, the
build's C examples, FPS files with named parameters, child processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Sequence, Tuple

import pytest

import shmguard
from shmguard import _lib
from shmguard.milk import FPTYPE

ffi, lib = _lib.ffi, _lib.lib


@pytest.fixture(autouse=True)
def shm_dir(tmp_path, monkeypatch):
    """Every test gets its own stream directory."""
    d = tmp_path / "shm"
    d.mkdir()
    monkeypatch.setenv("MILK_SHM_DIR", str(d))
    return d


@pytest.fixture
def builddir() -> str:
    """The build tree (make check sets SHMG_BUILDDIR), for the C examples."""
    d = os.environ.get("SHMG_BUILDDIR")
    if not d or not os.access(os.path.join(d, "examples", "isio-writer"), os.X_OK):
        pytest.skip("SHMG_BUILDDIR does not name a build tree with the C examples")
    return d


def named_fps(path: str, nparam: int, params: Sequence[Tuple[str, str]],
              layout: str = "2024") -> shmguard.FPS:
    """A new FPS file whose first parameters have these full names and types.

    shmg_fps_create leaves parameters unnamed and the library has no call
    to name one, so the fixture writes keywordfull (offset 16 of a record)
    and type (offset 3924) itself, at the offsets of doc/milk.md, before any
    other process opens the file."""
    f = shmguard.FPS.create(path, nparam, layout=layout)
    base = ffi.cast("unsigned char *", lib.shmg_region_base(lib.shmg_fps_region(f._f)))
    hdr, rec = (62648, 4112) if layout == "2024" else (71464, 4120)
    for i, (name, t) in enumerate(params):
        r = hdr + i * rec
        kw = name.encode()
        ffi.memmove(base + r + 16, kw, len(kw))
        ffi.cast("uint32_t *", base + r + 3924)[0] = FPTYPE[t]
    return f


def python_child(code: str, **kw) -> subprocess.Popen:
    """A Python process running `code` with this binding, pipes on stdin/out."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, **kw)


def expect_line(p: subprocess.Popen, want: str) -> str:
    """The child's next stdout line, which must contain `want` (a handshake)."""
    line = p.stdout.readline()
    if want not in line:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"expected {want!r}, got {line!r}; stdout {out!r} stderr {err!r}")
    return line


def until(cond, what: str, seconds: float = 30.0) -> None:
    """Poll cond() (no sleeping: it is an observation of the other side's
    progress) until true; fail after `seconds`."""
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        os.sched_yield()


def file_bytes(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()
