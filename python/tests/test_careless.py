"""A careless caller never crashes the interpreter (issue 18, section 5).

Each scenario that used to kill the process (SIGSEGV, SIGBUS) runs in a
child Python, so a crash fails the test instead of killing pytest. Events
are ordered by handshakes (the stream's waiters byte, a lock's waiters bit,
ready lines), never by sleeping."""
from __future__ import annotations

import math
import os
import signal
import textwrap

import numpy as np
import pytest

import shmguard
from shmguard import FPS, InvalidArgument, Pinfo, Stream

from conftest import named_fps, python_child

PARAMS = [(".loop.gain", "float64"), (".loop.n", "int64")]


# The child's prologue: a helper that polls a condition (an observation of
# another thread's progress, not a sleep).
PROLOGUE = """
import os, threading, time, numpy as np, shmguard
from shmguard import _lib
ffi, lib = _lib.ffi, _lib.lib
def until(cond, what):
    end = time.monotonic() + 60
    while not cond():
        assert time.monotonic() < end, 'timed out waiting for ' + what
        os.sched_yield()
def in_thread(fn):
    got = {}
    def body():
        try:
            got['result'] = fn()
        except BaseException as e:
            got['error'] = e
    t = threading.Thread(target=body)
    t.start()
    return t, got
"""


def run_child(code: str, timeout: float = 120) -> str:
    """Run `code` in a child Python; it must exit 0 (not die of a signal).
    Returns its stdout. The timeout bounds a hang; it orders nothing."""
    child = python_child(PROLOGUE + textwrap.dedent(code))
    out, err = child.communicate(timeout=timeout)
    if child.returncode != 0:
        how = (f"killed by {signal.Signals(-child.returncode).name}" if child.returncode < 0
               else f"exit {child.returncode}")
        raise AssertionError(f"child {how}; stdout {out!r}; stderr {err[-3000:]!r}")
    return out




# ---------------------------------------------------------------- close while in use

@pytest.mark.parametrize("call", ["r.wait()", "r.semwait()", "r.wait_update(0)", "next(iter(r))"])
def test_close_while_another_thread_waits_on_the_stream(call):
    out = run_child(f"""
        w = shmguard.Stream.create('cw', (4,), np.uint8)
        r = shmguard.Stream('cw')
        t, got = in_thread(lambda: {call})
        until(lambda: w.inspect().waiters_byte & 1, 'the waiter to sleep')
        r.close()
        t.join(60)
        assert not t.is_alive()
        e = got.get('error')
        print(type(e).__name__, e)
        w.write(np.ones(4, np.uint8))   # the stream itself is unharmed
        print('counter', w.counter)
    """)
    lines = out.splitlines()
    assert lines[0].startswith("ValueError") and "closed" in lines[0], out
    assert lines[1] == "counter 1", out


def test_close_while_another_thread_waits_for_an_fps_lock(shm_dir):
    path = str(shm_dir / "cl.fps.shm")
    named_fps(path, 4, PARAMS).close()
    out = run_child(f"""
        f = shmguard.FPS({path!r})
        holder = shmguard.FPS({path!r})
        l = ffi.new('struct shmg_xlock *')
        assert lib.shmg_fps_param_lock(holder._f, 0, l) == 0
        assert lib.shmg_xlock_lock(l) == 0
        info = ffi.new('struct shmg_xlock_info *')
        info.size = ffi.sizeof('struct shmg_xlock_info')
        def waiters():
            assert lib.shmg_xlock_inspect(l, info) >= 0
            return info.waiters
        t, got = in_thread(lambda: f.set('loop.gain', 1.5))
        until(waiters, 'the setter to sleep on the lock')
        f.close()
        t.join(60)
        assert not t.is_alive()
        e = got.get('error')
        print(type(e).__name__, e)
        assert lib.shmg_xlock_unlock(l) == 0
        print('gain', holder['loop.gain'])
    """)
    lines = out.splitlines()
    assert lines[0].startswith("ValueError") and "closed" in lines[0], out
    assert lines[1] == "gain 0.0", out  # the closed setter set nothing


def test_close_while_another_thread_waits_for_the_pinfo_status_lock(shm_dir):
    out = run_child("""
        p = shmguard.Pinfo.create('cl')
        holder = shmguard.Pinfo(p.path)
        l = ffi.new('struct shmg_xlock *')
        assert lib.shmg_pinfo_status_lock(holder._p, l) == 0
        assert lib.shmg_xlock_lock(l) == 0
        info = ffi.new('struct shmg_xlock_info *')
        info.size = ffi.sizeof('struct shmg_xlock_info')
        def waiters():
            assert lib.shmg_xlock_inspect(l, info) >= 0
            return info.waiters
        t, got = in_thread(lambda: p.set_status(7, 'x'))
        until(waiters, 'the status setter to sleep on the lock')
        p.close()
        t.join(60)
        assert not t.is_alive()
        e = got.get('error')
        print(type(e).__name__, e)
        assert lib.shmg_xlock_unlock(l) == 0
        print('status', holder.status)
    """)
    lines = out.splitlines()
    assert lines[0].startswith("ValueError") and "closed" in lines[0], out
    assert lines[1] == "status (0, '')", out


def test_fps_closed_inside_its_own_locked_block_and_update(shm_dir):
    path = str(shm_dir / "cb.fps.shm")
    named_fps(path, 4, PARAMS).close()
    out = run_child(f"""
        f = shmguard.FPS({path!r})
        with f.locked():
            f.close()
            print('closed inside')
        g = shmguard.FPS({path!r})
        g['loop.n'] = 1                    # every lock was given back
        def closing(v):
            g.close()
            return v + 1
        g.update('loop.n', closing)
        print('n', shmguard.FPS({path!r})['loop.n'])
    """)
    assert out.splitlines() == ["closed inside", "n 2"], out


# ---------------------------------------------------------------- truncation

def test_stream_truncated_under_reader_and_writer_raises_truncated():
    out = run_child("""
        w = shmguard.Stream.create('tr', (64, 64), np.uint16, cbsize=2)
        w.write(np.ones((64, 64), np.uint16))
        r = shmguard.Stream('tr')
        with r.pinned() as f:               # a window mapped before the truncation
            assert int(f.data[0, 0]) == 1
        os.truncate(w.path, 0)
        for what, op in [('inspect', r.inspect), ('read', r.read), ('snapshot', r.snapshot),
                         ('counter', lambda: r.counter), ('wait', lambda: r.wait(timeout=5)),
                         ('pinned', lambda: r.pinned().__enter__()),
                         ('write', lambda: w.write(np.ones((64, 64), np.uint16))),
                         ('writer inspect', w.inspect)]:
            try:
                op()
                print(what, 'no error')
            except shmguard.Truncated as e:
                print(what, 'Truncated', e.code == _lib.SHMG_ETRUNCATED)
        r.close(); w.close()
    """)
    for what in ("inspect", "read", "snapshot", "counter", "wait", "pinned", "write",
                 "writer inspect"):
        assert f"{what} Truncated True" in out.splitlines(), out


@pytest.mark.parametrize("guard", [True, False])
def test_stream_truncated_inside_a_pinned_block(guard):
    out = run_child(f"""
        w = shmguard.Stream.create('tp', (64, 64), np.uint16, cbsize=2)
        w.write(np.ones((64, 64), np.uint16))
        r = shmguard.Stream('tp')
        try:
            with r.pinned(guard={guard}) as f:
                os.truncate(w.path, 0)
                print('sum', int(f.data.sum()))   # zeros, not the file's
        except shmguard.Truncated as e:
            print('Truncated', e)
    """)
    lines = out.splitlines()
    assert lines[0] == "sum 0" and lines[1].startswith("Truncated"), out
    assert "truncated" in lines[1], out


def test_fps_and_pinfo_truncated_raise_truncated(shm_dir):
    path = str(shm_dir / "tf.fps.shm")
    named_fps(path, 4, PARAMS).close()
    out = run_child(f"""
        f = shmguard.FPS({path!r})
        p = shmguard.Pinfo.create('tr')
        os.truncate(f.path, 0)
        os.truncate(p.path, 0)
        for what, op in [('get', lambda: f.get(0)), ('set', lambda: f.set(0, 1.0)),
                         ('read_rt', lambda: f.read_rt(0)), ('fps inspect', f.inspect),
                         ('status', lambda: p.status), ('pinfo inspect', p.inspect),
                         ('heartbeat', p.heartbeat), ('loopcnt', lambda: p.loopcnt)]:
            try:
                op()
                print(what, 'no error')
            except shmguard.Truncated:
                print(what, 'Truncated')
    """)
    for what in ("get", "set", "read_rt", "fps inspect", "status", "pinfo inspect",
                 "heartbeat", "loopcnt"):
        assert f"{what} Truncated" in out.splitlines(), out


# ---------------------------------------------------------------- views after close

def test_unguarded_pinned_array_kept_past_close_keeps_its_mapping():
    out = run_child("""
        import gc
        w = shmguard.Stream.create('kp', (64, 64), np.uint16, cbsize=2)
        w.write(np.full((64, 64), 3, np.uint16))
        r = shmguard.Stream('kp')
        def maps():
            with open('/proc/self/maps') as m:
                return sum(w.path in line for line in m)
        before = maps()
        with r.pinned(guard=False) as f:
            kept = f.data[1:]                  # a view of the pinned copy
        r.close()
        del r, f
        gc.collect()
        # The slot is given back at close, whatever the array does.
        print('slots', [k.reader_pid for k in w.inspect().semaphores].count(os.getpid()))
        print('sum', int(kept.sum()))         # the mapping is still there
        print('kept mapped', maps() == before)   # r's own mapping went, the pinned one stays
        del kept
        gc.collect()
        print('unmapped', maps() == before - 1)
    """)
    assert out.splitlines() == ["slots 0", f"sum {3 * 63 * 64}", "kept mapped True",
                                "unmapped True"], out


# ---------------------------------------------------------------- bad arguments

def test_names_with_nul_are_refused_and_act_on_nothing(shm_dir):
    Stream.create("a", (3,), np.uint8).close()
    named_fps(str(shm_dir / "f.fps.shm"), 4, PARAMS).close()
    Pinfo.create("p", 42).close()
    listing = sorted(os.listdir(shm_dir))
    cases = [
        (lambda: Stream("a\0b"), "name"),
        (lambda: Stream.open("a\0b"), "name"),
        (lambda: Stream.create("a\0c", (3,), np.uint8), "name"),
        (lambda: Stream(str(shm_dir / "a.im.shm") + "\0x"), "path"),
        (lambda: shmguard.stream_path("a\0"), "name"),
        (lambda: FPS("f\0g"), "name"),
        (lambda: FPS.create("f\0h", 2), "name"),
        (lambda: shmguard.fps_path("f\0"), "name"),
        (lambda: Pinfo("p\0q", 42), "name"),
        (lambda: Pinfo.create("p\0r", 42), "name"),
        (lambda: Pinfo(str(shm_dir / "x") + "\0y"), "path"),
        (lambda: shmguard.pinfo_path("p\0", 42), "name"),
    ]
    for call, word in cases:
        with pytest.raises(ValueError) as e:
            call()
        assert "NUL" in str(e.value) and word in str(e.value), str(e.value)
    fps = FPS("f")
    with pytest.raises(ValueError, match="NUL"):
        fps["loop.gain\0junk"] = 1.0
    assert fps["loop.gain"] == 0.0
    assert sorted(os.listdir(shm_dir)) == listing


@pytest.mark.parametrize("bad", [math.nan, -1.0, -1, "1", True])
def test_bad_timeouts_say_which_argument_and_what_was_expected(shm_dir, bad):
    s = Stream.create("t", (3,), np.uint8, cbsize=2)
    named_fps(str(shm_dir / "t.fps.shm"), 4, PARAMS).close()
    fps = FPS("t")
    p = Pinfo.create("t")
    calls = [
        ("timeout", lambda: s.read(timeout=bad)), ("timeout", lambda: s.snapshot(timeout=bad)),
        ("timeout", lambda: s.wait(timeout=bad)), ("timeout", lambda: s.semwait(bad)),
        ("timeout", lambda: s.wait_update(0, timeout=bad)),
        ("timeout", lambda: s.get_data(check=True, timeout=bad)),
        ("wait", lambda: s.pin_policy("wait", wait=bad)),
        ("timeout", lambda: fps.get(0, timeout=bad)),
        ("timeout", lambda: fps.set(0, 1.0, timeout=bad)),
        ("timeout", lambda: fps.update(0, lambda v: v, timeout=bad)),
        ("timeout", lambda: fps.locked(timeout=bad).__enter__()),
        ("timeout", lambda: p.command(p.RUN, timeout=bad)),
        ("timeout", lambda: p.set_status(1, "x", timeout=bad)),
        ("timeout", lambda: p.transition(0, 1, timeout=bad)),
    ]
    for arg, call in calls:
        with pytest.raises(InvalidArgument) as e:
            call()
        msg = str(e.value)
        assert f"{arg} " in msg and "seconds" in msg and repr(bad) in msg, msg
    assert s.counter == 0 and fps["loop.gain"] == 0.0 and p.status == (0, "")


def test_infinite_timeout_means_no_end():
    s = Stream.create("inf", (3,), np.uint8)
    s.write(np.ones(3, np.uint8))
    assert s.read(timeout=math.inf).tolist() == [1, 1, 1]
    assert s.wait_update(0, timeout=math.inf).counter == 1


# ---------------------------------------------------------------- use after close

def test_every_method_after_close_is_a_clear_error(shm_dir):
    out = run_child(f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from conftest import named_fps
        s = shmguard.Stream.create('uc', (3,), np.uint8, cbsize=2)
        s.write(np.ones(3, np.uint8))
        with s.pinned():
            pass
        s.close(); s.close()
        ops = dict(read=s.read, snapshot=s.snapshot, counter=lambda: s.counter,
                   get_counter=s.get_counter, copy=s.copy, get_data=s.get_data,
                   wait=s.wait, semwait=s.semwait, wait_update=lambda: s.wait_update(0),
                   iterate=lambda: next(iter(s)), pinned=lambda: s.pinned().__enter__(),
                   write=lambda: s.write(np.ones(3, np.uint8)),
                   set_data=lambda: s.set_data(np.ones(3, np.uint8)), claim=s.claim,
                   release=s.release, inspect=s.inspect, md=lambda: s.md, recover=s.recover,
                   pin_policy=s.pin_policy)
        f = named_fps({str(shm_dir / 'uc.fps.shm')!r}, 4, [('.a', 'int64')])
        f.close(); f.close()
        ops.update({{'fps get': lambda: f.get(0), 'fps set': lambda: f.set(0, 1),
                    'fps item': lambda: f['a'], 'fps update': lambda: f.update(0, lambda v: v),
                    'fps read_rt': lambda: f.read_rt(0), 'fps flags': lambda: f.flags(0),
                    'fps keys': f.keys, 'fps locked': lambda: f.locked().__enter__(),
                    'fps inspect': f.inspect, 'fps recover': f.recover,
                    'fps param': lambda: f.param(0).value}})
        p = shmguard.Pinfo.create('uc')
        p.close(); p.close()
        ops.update({{'pinfo ' + n: op for n, op in dict(
            pause=p.pause, step=p.step, exit=p.exit, run=p.run, ctrl=lambda: p.ctrl,
            loopcnt=lambda: p.loopcnt, status=lambda: p.status, heartbeat=p.heartbeat,
            set_status=lambda: p.set_status(1, 'x'), transition=lambda: p.transition(0, 1),
            inspect=p.inspect).items()}})
        for name, op in ops.items():
            try:
                op()
                print(name, 'no error')
            except ValueError as e:
                print(name, 'closed' if 'closed' in str(e) else repr(e))
        print(repr(s), repr(f), repr(p))
    """)
    lines = out.splitlines()
    assert all(line.endswith(" closed") for line in lines[:-1]), out
    assert "closed" in lines[-1], out


def test_bad_frames_outputs_and_creation_arguments_are_clear_errors(shm_dir):
    s = Stream.create("w", (4, 6), np.uint16, cbsize=2)
    for out in (np.empty((4, 6), np.uint16)[:, ::2], np.empty((4, 6), np.uint16).T,
                np.empty((4, 6), ">u2"), "buffer", np.zeros((4, 6), np.uint16)[::-1]):
        with pytest.raises(InvalidArgument):
            s.read(out=out)
    ro = np.empty((4, 6), np.uint16)
    ro.flags.writeable = False
    with pytest.raises(InvalidArgument, match="writeable"):
        s.read(out=ro)
    for frame in (np.ones((4, 6), ">u2"), np.ones((4, 6), np.uint16)[::-1],
                  np.ones((4, 6, 1), np.uint16), np.ones((), np.uint16), None):
        with pytest.raises(InvalidArgument):
            s.write(frame)
    for kw in (dict(cbsize=-1), dict(nsem=-1), dict(nkw=-1), dict(cbsize=2 ** 40),
               dict(shape=(2 ** 40,)), dict(shape=(-1,)), dict(shape=(2.5,))):
        args = dict(shape=(3,), dtype=np.uint8)
        args.update(kw)
        with pytest.raises(InvalidArgument) as e:
            Stream.create("c", **args)
        assert any(k in str(e.value) for k in kw), (kw, str(e.value))
    assert sorted(os.listdir(shm_dir)) == ["w.im.shm"]


def test_more_bad_arguments_are_clear_errors(shm_dir):
    s = Stream.create("m", (3,), np.uint8)
    named_fps(str(shm_dir / "m.fps.shm"), 4, PARAMS).close()
    fps = FPS("m")
    p = Pinfo.create("m")
    # A copy shared the library handle, and the second close freed it again
    # (a SIGSEGV when the copies were collected): in a child.
    out = run_child(f"""
        import copy, pickle
        objs = [shmguard.Stream('m'), shmguard.FPS('m'), shmguard.Pinfo({p.path!r})]
        for obj in objs:
            for dup in (copy.copy, copy.deepcopy, pickle.dumps):
                try:
                    dup(obj)
                    print(type(obj).__name__, dup.__name__, 'copied')
                except TypeError as e:
                    print(type(obj).__name__, dup.__name__, 'cannot be copied' in str(e))
        del objs
        import gc; gc.collect()
    """)
    assert out.splitlines() == [f"{t} {d} True" for t in ("Stream", "FPS", "Pinfo")
                                for d in ("copy", "deepcopy", "dumps")], out
    listing = sorted(os.listdir(shm_dir))
    cases = [
        ("after", lambda: s.wait_update(-1, timeout=0)),
        ("after", lambda: s.wait_update("x", timeout=0)),
        ("force_pid", lambda: s.recover(force_pid=2 ** 40)),
        ("force_pid", lambda: s.recover(force_pid=-1)),
        ("layout", lambda: FPS("m", layout="1999")),
        ("layout", lambda: FPS.create("n", 2, layout="auto")),
        ("nparam", lambda: FPS.create("n", -1)),
        ("layout", lambda: Pinfo.create("n", layout="old")),
        ("pid", lambda: Pinfo.create("n", pid=-5)),
        ("pid", lambda: Pinfo("n", "12")),
        ("set", lambda: fps.flags(0, set=-1)),
        ("cmd", lambda: p.command(2 ** 40)),
        ("code", lambda: p.set_status(2 ** 40, "x")),
        ("msg", lambda: p.set_status(1, b"bytes")),
        ("to", lambda: p.transition(0, 2.5)),
    ]
    for arg, call in cases:
        with pytest.raises(InvalidArgument) as e:
            call()
        assert str(e.value).split(": ")[-1].startswith(arg) or f"{arg} " in str(e.value), \
            (arg, str(e.value))
    assert sorted(os.listdir(shm_dir)) == listing
    assert s.counter == 0 and p.status == (0, "") and p.ctrl == 0


def test_too_many_protected_files_is_a_clear_error_and_closing_one_helps():
    # Truncation protection has a fixed table (shmguard._common.TRUNCATION_REGIONS);
    # past it an open says so in the binding's words, and a close frees a place.
    out = run_child("""
        streams = []
        limit = getattr(shmguard._common, 'TRUNCATION_REGIONS', 256)
        try:
            for i in range(limit + 1):
                streams.append(shmguard.Stream.create(f's{i}', (4,), np.uint8))
        except shmguard.ShmguardError as e:
            print('refused after', len(streams), 'close some first' in str(e))
        streams.pop().close()
        streams.append(shmguard.Stream.create('again', (4,), np.uint8))
        print('after a close', streams[-1].counter)
    """)
    n = getattr(shmguard._common, "TRUNCATION_REGIONS", 256)  # (doc/region.md)
    assert out.splitlines() == [f"refused after {n} True", "after a close 0"], out
