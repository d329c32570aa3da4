"""milk FPS and PINFO files through the binding."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

import shmguard
from shmguard import FPS, InvalidArgument, LayoutError, NotFound, Pinfo

from conftest import expect_line, file_bytes, named_fps, python_child

PARAMS = [(".loop.gain", "float64"), (".loop.n", "int64"), (".conf.name", "string"),
          (".conf.k", "int32")]


def test_parameters_by_name_and_index(shm_dir):
    named_fps(str(shm_dir / "loop.fps.shm"), 8, PARAMS)
    fps = FPS("loop")
    assert fps.name == "loop" and len(fps) == 8
    assert fps.keys() == [p[0] for p in PARAMS]
    fps["loop.gain"] = 0.5
    assert fps["loop.gain"] == 0.5 and fps[".loop.gain"] == 0.5 and fps[0] == 0.5
    assert fps.get("loop.gain") == (0.5, 1)
    assert fps.inspect().signal & 4  # UPDATE
    assert fps.set(1, 41) == 1
    assert fps.update("loop.n", lambda v: v + 1) == 2 and fps["loop.n"] == 42
    fps["conf.name"] = "dm00"
    assert fps["conf.name"] == "dm00"
    fps.param("conf.k").value = -3
    assert fps["conf.k"] == -3
    with fps.locked():
        fps["loop.gain"] = 0.25
        fps["loop.n"] = fps["loop.n"] + 1
    assert fps.get("loop.gain") == (0.25, 2) and fps.get("loop.n") == (43, 3)
    info = fps.inspect()
    assert info.kind == "milk-fps" and info.parameters == 8 and info.updates == 7
    assert info.locks_not_unlocked == 0
    assert [(p.keyword, p.type_name, p.cnt0) for p in info.params][:2] == [
        (".loop.gain", "float64", 2), (".loop.n", "int64", 3)]


def test_bad_parameters_change_nothing(shm_dir):
    path = shm_dir / "bad.fps.shm"
    named_fps(str(path), 4, PARAMS)
    fps = FPS("bad")
    fps["loop.gain"] = 1.0
    before = file_bytes(path)
    with pytest.raises(NotFound, match="no parameter named 'loop.gian'"):
        fps["loop.gian"] = 2.0
    with pytest.raises(InvalidArgument, match="float64"):
        fps["loop.gain"] = "fast"
    with pytest.raises(InvalidArgument, match="64-byte field"):
        fps["conf.name"] = "x" * 64
    with pytest.raises(InvalidArgument, match="int64"):
        fps["loop.n"] = 2.5
    with pytest.raises(InvalidArgument, match="outside 0..3"):
        fps[4] = 1
    with pytest.raises(ZeroDivisionError):
        fps.update("loop.gain", lambda v: v / 0)
    assert file_bytes(path) == before
    junk = shm_dir / "junk.fps.shm"
    junk.write_bytes(b"\1" * 1000)
    with pytest.raises(LayoutError) as e:
        FPS("junk")
    assert e.value.detail and e.value.path == str(junk) and file_bytes(junk) == b"\1" * 1000
    with pytest.raises(NotFound):
        FPS("absent")


def test_python_setters_in_four_processes_against_c_setters_exact_counts(shm_dir, builddir):
    path = str(shm_dir / "race.fps.shm")
    named_fps(path, 8, [(".race.count", "int64")] * 4)  # parameter 3 is the shared one
    n = 2000  # per process: four Python processes and two C ones
    code = (
        "import sys, shmguard\n"
        f"fps = shmguard.FPS({path!r})\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        f"for _ in range({n}):\n"
        "    fps.update(3, lambda v: v + 1)\n"
        "print('done', flush=True)\n")
    pys = [python_child(code) for _ in range(4)]
    for p in pys:
        expect_line(p, "ready")
    cs = [subprocess.Popen([os.path.join(builddir, "examples", "fps-updater"), path, "3", str(n)],
                           stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in pys:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in pys:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "done" in out, err
    for p in cs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out
    fps = FPS(path)
    assert fps.get(3) == (6 * n, 6 * n)


def test_pinfo_status_loop_counter_and_commands(shm_dir):
    p = Pinfo.create("loopy", 4242)
    assert p.path.endswith("proc.loopy.004242.shm")
    q = Pinfo("loopy", 4242)
    q.set_status(7, "integrating")
    assert p.status == (7, "integrating")
    assert [p.heartbeat() for _ in range(3)] == [1, 2, 3] and q.loopcnt == 3
    p.pause()
    assert q.ctrl == Pinfo.PAUSE
    p.step()
    assert q.transition(Pinfo.STEP, Pinfo.PAUSE) and q.ctrl == Pinfo.PAUSE
    assert not q.transition(Pinfo.STEP, Pinfo.PAUSE)
    p.exit()
    with pytest.raises(shmguard.ShmguardError) as e:
        p.step()  # an exit pending is never replaced
    assert e.value.code == -114  # -EALREADY
    assert q.ctrl == Pinfo.EXIT
    info = q.inspect()
    assert (info.kind, info.name, info.pid, info.loopcnt, info.ctrlval, info.statuscode,
            info.statusmsg) == ("milk-pinfo", "loopy", 4242, 3, 3, 7, "integrating")
    with pytest.raises(InvalidArgument, match="199 bytes"):
        q.set_status(1, "m" * 300)
    assert p.status == (7, "integrating")


def test_read_rt_returns_what_was_set(shm_dir):
    named_fps(str(shm_dir / "rt.fps.shm"), 8, PARAMS)
    fps = FPS("rt")
    assert fps.read_rt("loop.gain") == (0.0, 0, False)
    fps["loop.gain"] = 0.75
    fps["loop.n"] = -12
    fps["conf.name"] = "dm00"
    g = fps.read_rt("loop.gain")
    assert g == shmguard.RtRead(0.75, 1, False) and (g.value, g.cnt0, g.stale) == (0.75, 1, False)
    assert fps.read_rt(1, g) == (-12, 1, False)  # previous matters only when stale
    assert fps.read_rt(".conf.name") == ("dm00", 1, False)
    fps.update("loop.n", lambda v: v - 1)
    assert fps.read_rt("loop.n") == (-13, 2, False) == (*fps.get("loop.n"), False)
    assert fps.read_rt(3, as_type="int64").stale is False
    with pytest.raises(InvalidArgument, match="previous must be"):
        fps.read_rt(0, (0.75, 1))
    with pytest.raises(NotFound):
        fps.read_rt("loop.gian")


def test_read_rt_with_a_setter_stopped_in_the_lock_keeps_the_previous_value(shm_dir):
    path = str(shm_dir / "stop.fps.shm")
    named_fps(path, 4, PARAMS)
    fps = FPS(path)
    fps["loop.gain"] = 0.5
    prev = fps.read_rt("loop.gain")
    assert prev == (0.5, 1, False)
    # A setter that takes the parameter's lock through the C API and stops
    # itself there (tools/bench/bench_fps.c, stopped_setter).
    child = python_child(
        "import os, signal, shmguard\n"
        "from shmguard import _lib\n"
        f"f = shmguard.FPS({path!r})\n"
        "l = _lib.ffi.new('struct shmg_xlock *')\n"
        "assert _lib.lib.shmg_fps_param_lock(f._f, 0, l) == 0\n"
        "assert _lib.lib.shmg_xlock_lock(l) == 0\n"
        "print('locked', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGSTOP)\n")
    try:
        expect_line(child, "locked")
        _, status = os.waitpid(child.pid, os.WUNTRACED)  # the kernel says: stopped
        assert os.WIFSTOPPED(status)
        with pytest.raises(shmguard.Timeout):  # the lock really is held
            fps.get("loop.gain", timeout=0.05)
        t0 = time.monotonic()
        got = fps.read_rt("loop.gain", prev)
        first = fps.read_rt("loop.gain")
        elapsed = time.monotonic() - t0
        assert got == (0.5, 1, True) and got.stale
        assert first == (None, -1, True)
        # Never blocks: 64 looks, no system call. The bound is for a hang,
        # not a benchmark (a loaded machine may preempt us anywhere).
        assert elapsed < 1.0, elapsed
        assert fps.read_rt("loop.n") == (0, 0, False)  # other parameters unaffected
    finally:
        child.kill()
        child.wait()
    # The holder died: reads stay stale until a set recovers the lock.
    assert fps.read_rt("loop.gain", prev).stale
    with pytest.warns(shmguard.OwnerDied):
        fps["loop.gain"] = 0.25
    assert fps.read_rt("loop.gain", prev) == (0.25, 2, False)
