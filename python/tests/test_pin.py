"""Pinned (zero-copy) reads: Stream.pinned() and the writer's pin_policy.
Cross-process events are ordered by handshakes (ready lines, waitpid),
never by sleeping."""
from __future__ import annotations

import errno
import os
import signal
import subprocess

import numpy as np
import pytest

import shmguard
from shmguard import Busy, InvalidArgument, ShmguardError, Stream, TooFast, _lib

from conftest import expect_line, python_child

ffi, lib = _lib.ffi, _lib.lib


def pattern(k: int, n: int) -> np.ndarray:
    # As examples/isio-writer (and test_stream.pattern): frame k's pixels.
    return ((np.arange(n, dtype=np.int64) + k * 31) & 0xFFFF).astype(np.uint16)


def frame(k: int, shape=(6, 8)) -> np.ndarray:
    return pattern(k, shape[0] * shape[1]).reshape(shape)


def my_pin(s: Stream) -> int:
    """The copy this process's slot pins (-1: none), as inspect shows it."""
    return s.inspect().semaphores[s._pinner.slot].pin_copy


def in_mapping(s: Stream, a: np.ndarray) -> bool:
    region = lib.shmg_isio_region(s._pinner.s)  # the handle that pins
    base = int(ffi.cast("uintptr_t", lib.shmg_region_base(region)))
    addr = a.__array_interface__["data"][0]
    return base <= addr and addr + a.nbytes <= base + lib.shmg_region_size(region)


@pytest.mark.parametrize("guard", [True, False])
def test_pinned_frame_is_the_written_one_read_only_in_place_and_released(guard):
    w = Stream.create("pin", (6, 8), np.uint16, cbsize=2)
    r = Stream("pin")
    w.write(frame(1))
    w.pin_policy("drop")
    with r.pinned(guard=guard) as f:
        assert isinstance(f, shmguard.Frame) and f.counter == 1
        assert f.data.dtype == r.dtype and f.data.shape == r.shape
        np.testing.assert_array_equal(f.data, frame(1))
        # Read-only, and it cannot be made writeable.
        assert not f.data.flags.writeable and not f.data.flags.owndata
        with pytest.raises(ValueError):
            f.data.flags.writeable = True
        with pytest.raises(ValueError):
            f.data[0, 0] = 7
        # In place: no copy (guard=False: inside the library's mapping itself;
        # guard=True: a second mapping of the same pages, outside it).
        assert in_mapping(r, f.data) is (not guard)
        assert my_pin(r) >= 0
        # cbsize 2: the writer has one copy it may write (the one not pinned);
        # after that every other copy is pinned and a frame is dropped.
        assert w.write(frame(2)) == 2
        with pytest.raises(Busy) as e:
            w.write(frame(3))
        assert e.value.code == -errno.EAGAIN and "pinned" in str(e.value)
        assert w.counter == 2
        np.testing.assert_array_equal(f.data, frame(1))  # untouched throughout
    assert my_pin(r) == -1
    assert w.write(frame(3)) == 3  # released: the writer proceeds
    with r.pinned(guard=guard) as f:
        assert f.counter == 3
        np.testing.assert_array_equal(f.data, frame(3))


def test_pin_is_released_when_the_block_raises():
    w = Stream.create("pinx", (4,), np.int32, cbsize=2)
    r = Stream("pinx")
    w.pin_policy("drop")
    w.write(np.arange(4, dtype=np.int32))
    with pytest.raises(KeyError):
        with r.pinned() as f:
            assert f.counter == 1 and my_pin(r) >= 0
            raise KeyError("in the block")
    assert my_pin(r) == -1
    assert w.write(np.ones(4, np.int32)) == 2 and w.write(np.zeros(4, np.int32)) == 3


def test_one_pin_per_process_and_stream_whatever_the_object():
    # The binding keeps one slot (one pin) per process and stream: a second
    # pin, through the same or another Stream object, would move the first.
    w = Stream.create("pin2", (3,), np.uint8, cbsize=3)
    w.write(np.full(3, 1, np.uint8))
    a, b = Stream("pin2"), Stream("pin2")
    with a.pinned() as fa:
        copy = my_pin(a)
        for other in (a, b):
            with pytest.raises(InvalidArgument, match="already pins this stream"):
                with other.pinned():
                    pass
        assert my_pin(a) == copy >= 0  # the refused pins left this one alone
        w.write(np.full(3, 2, np.uint8))
        assert fa.counter == 1 and fa.data.tolist() == [1, 1, 1]
        b.close()  # closing another object of the file keeps the slot and pin
        assert my_pin(a) == copy
        assert fa.data.tolist() == [1, 1, 1]
    assert my_pin(a) == -1
    with Stream("pin2") as c, c.pinned() as fc:
        assert fc.counter == 2 and fc.data.tolist() == [2, 2, 2]


def test_no_circular_buffer_says_use_read():
    w = Stream.create("nocb", (4, 4), np.float32)
    w.write(np.ones((4, 4), np.float32))
    r = Stream("nocb")
    with pytest.raises(ShmguardError) as e:
        with r.pinned():
            pytest.fail("pinned a stream without a circular buffer")
    assert e.value.code == -errno.ENOTSUP and e.value.path == r.path
    assert "use read()" in str(e.value) and "cbsize 0" in str(e.value)
    with pytest.raises(InvalidArgument, match=r"stream\.pinned\(\)"):
        r.read(pinned=True)
    np.testing.assert_array_equal(r.read(), np.ones((4, 4), np.float32))


def test_legacy_writer_says_use_read(shm_dir):
    # A circular buffer, but no guarded writer keeps it (no writer yet).
    Stream.create("nowriter", (4,), np.uint8, cbsize=2)
    with pytest.raises(ShmguardError) as e:
        with Stream("nowriter").pinned():
            pass
    assert e.value.code == -errno.ENOTSUP and "use read()" in str(e.value)


def test_array_kept_past_the_block_faults_instead_of_reading_stale_memory():
    w = Stream.create("stale", (64, 64), np.uint16, cbsize=2)
    w.write(frame(1, (64, 64)))
    child = python_child(
        "import faulthandler, shmguard\n"
        "faulthandler.disable()\n"
        "s = shmguard.Stream('stale')\n"
        "with s.pinned() as f:\n"
        "    kept = f.data\n"
        "    print('inside', int(kept[0, 1]), flush=True)\n"
        "print('after', flush=True)\n"
        "print('read', int(kept.sum()), flush=True)\n")
    out, err = child.communicate(timeout=60)
    assert out.splitlines() == ["inside 32", "after"], (out, err)
    assert child.returncode == -signal.SIGSEGV, (child.returncode, err)
    assert w.counter == 1


def test_c_writer_full_speed_pinned_frames_are_exact(builddir):
    frames, width, height = 20000, 128, 96
    w = subprocess.Popen([os.path.join(builddir, "examples", "isio-writer"), "cpin", str(width),
                          str(height), str(frames), "0", "4", "go"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    expect_line(w, ": ready")
    r = Stream("cpin")
    w.stdin.write("go\n")
    w.stdin.flush()
    checked = bad = toofast = 0
    last = 0
    while last < frames:
        try:
            r.wait_update(last, timeout=60)
        except shmguard.WriterDead:
            break  # (a writer dying mid-frame fails the counter check below)
        try:
            with r.pinned() as f:
                want = pattern(f.counter, width * height)
                # Every pixel, twice: the copy must not change while pinned.
                ok = np.array_equal(f.data.ravel(), want)
                ok = np.array_equal(f.data.ravel(), want) and ok
                last = f.counter
        except TooFast:
            toofast += 1
            continue
        except ShmguardError as e:
            # After its last frame the writer exits and releases the stream:
            # no guarded writer keeps the buffer any more (-ENOTSUP).
            if e.code == -errno.ENOTSUP and r.counter == frames:
                break
            raise
        bad += not ok
        checked += 1
    assert w.wait(timeout=60) == 0
    print(f"{checked} pinned frames checked, {toofast} too fast, {bad} wrong")
    assert bad == 0 and checked >= 1 and r.counter == frames


def test_reader_killed_while_pinning_does_not_stall_the_writer():
    w = Stream.create("dead", (8, 8), np.uint16, cbsize=2)
    w.write(frame(1, (8, 8)))
    w.pin_policy("drop")
    child = python_child(
        "import sys, shmguard\n"
        "s = shmguard.Stream('dead')\n"
        "with s.pinned() as f:\n"
        "    print('pinned', f.counter, flush=True)\n"
        "    sys.stdin.readline()\n")
    expect_line(child, "pinned 1")
    assert w.write(frame(2, (8, 8))) == 2
    with pytest.raises(Busy):  # the live reader's pin holds the only other copy
        w.write(frame(3, (8, 8)))
    pinned_by_child = [k for k in w.inspect().semaphores if k.reader_pid == child.pid]
    assert pinned_by_child and pinned_by_child[0].pin_copy >= 0
    child.kill()
    child.wait()
    assert w.write(frame(3, (8, 8))) == 3  # the dead reader's pin was reclaimed
    assert w.write(frame(4, (8, 8))) == 4
    r = Stream("dead")
    with r.pinned() as f:
        assert f.counter == 4
        np.testing.assert_array_equal(f.data, frame(4, (8, 8)))


def test_waiting_writer_policy_times_out_while_pinned_then_proceeds():
    w = Stream.create("pwait", (4,), np.uint8, cbsize=2)
    w.write(np.zeros(4, np.uint8))
    w.pin_policy("wait", wait=0.05)
    r = Stream("pwait")
    with r.pinned():
        assert w.write(np.ones(4, np.uint8)) == 2
        with pytest.raises(shmguard.Timeout):
            w.write(np.full(4, 2, np.uint8))
    assert w.write(np.full(4, 2, np.uint8)) == 3
    with pytest.raises(InvalidArgument, match="'revoke', 'wait' or 'drop'"):
        w.pin_policy("block")


@pytest.mark.parametrize("guard", [True, False])
def test_default_writer_never_waits_and_the_reader_is_told(guard):
    # The default policy (revoke): with every other copy pinned the writer
    # takes the oldest back and writes it; the block that pinned it ends
    # with Revoked, so what it computed is never taken for the frame.
    w = Stream.create("prevoke", (4,), np.uint8, cbsize=2)
    w.write(np.zeros(4, np.uint8))
    r = Stream("prevoke")
    with pytest.raises(shmguard.Revoked, match="discard"):
        with r.pinned(guard=guard) as f:
            assert f.counter == 1
            assert w.write(np.ones(4, np.uint8)) == 2
            assert w.write(np.full(4, 2, np.uint8)) == 3  # never waits
    assert my_pin(r) == -1
    with r.pinned(guard=guard) as f:  # the slot is usable again
        assert f.counter == 3
        np.testing.assert_array_equal(f.data, np.full(4, 2, np.uint8))


def test_forked_child_pins_in_its_own_slot():
    w = Stream.create("fork", (4,), np.uint8, cbsize=3)
    w.write(np.full(4, 1, np.uint8))
    r = Stream("fork")
    with r.pinned():
        parent_copy = my_pin(r)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child pins through the inherited object, then reports
        code = 1
        try:
            os.close(rd)
            with r.pinned() as f:
                ok = f.data.tolist() == [1, 1, 1, 1] and r._pinner.pid == os.getpid()
                mine = [k.slot for k in r.inspect().semaphores if k.reader_pid == os.getpid()]
                os.write(wr, f"{int(ok)} {mine[0] if mine else -1} {my_pin(r)}\n".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(wr)
    with os.fdopen(rd) as f:
        ok, slot, copy = map(int, f.readline().split())
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert ok == 1 and slot >= 0 and slot != r._pinner.slot and copy >= 0
    assert parent_copy >= 0 and my_pin(r) == -1  # the parent's slot was left alone
    with r.pinned() as f:
        assert f.counter == 1


def test_closing_the_stream_inside_the_block_unpins_at_its_end():
    w = Stream.create("shut", (4,), np.uint8, cbsize=2)
    w.pin_policy("drop")
    w.write(np.full(4, 1, np.uint8))
    r = Stream("shut")
    with r.pinned() as f:
        r.close()
        assert f.data.tolist() == [1, 1, 1, 1]  # still pinned, still readable
        assert w.write(np.full(4, 2, np.uint8)) == 2
        with pytest.raises(Busy):
            w.write(np.full(4, 3, np.uint8))
    assert all(k.pin_copy == -1 and k.reader_pid != os.getpid() for k in w.inspect().semaphores)
    assert w.write(np.full(4, 3, np.uint8)) == 3
    with pytest.raises(ValueError, match="the stream is closed"):
        with r.pinned():
            pass
