"""ImageStreamIO streams through the binding: round trips, C peers, crashes,
signals, threads, bad input. Events are ordered by handshakes (ready lines,
the stream's own counters and waiters byte), never by sleeping."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading

import numpy as np
import pytest

import shmguard
from shmguard import InvalidArgument, LayoutError, NotFound, Stream, Timeout, TooFast, WriterDead

from conftest import expect_line, file_bytes, python_child, until

SHAPES = {1: (7,), 2: (5, 6), 3: (3, 4, 5)}


def sample(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)


@pytest.mark.parametrize("naxis", [1, 2, 3])
@pytest.mark.parametrize("code", sorted(shmguard.DATATYPES))
def test_round_trip_every_datatype_and_axes(code, naxis):
    dtype = shmguard.DATATYPES[code]
    shape = SHAPES[naxis]
    w = Stream.create(f"rt{code}_{naxis}", shape, dtype)
    r = Stream(f"rt{code}_{naxis}")
    assert (r.shape, r.dtype, r.counter) == (shape, dtype, 0)
    for k in (1, 2):
        a = sample(shape, dtype, k)
        assert w.write(a) == k
        got = r.read()
        assert got.dtype == dtype and got.shape == shape
        assert got.tobytes() == a.tobytes()
        out = np.empty(shape, dtype)
        assert r.read(out=out) is out and out.tobytes() == a.tobytes()
        f = r.snapshot()
        assert f.counter == k and f.data.tobytes() == a.tobytes()
    info = r.inspect()
    assert info.size == list(reversed(shape)) and info.counter == 2
    assert info.writer_pid == os.getpid() and info.writer_liveness == "alive"
    w.close()
    r.close()


def test_circular_buffer_round_trip_and_pymilk_spelling():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    w = Stream("cb", a, cbsize=4)  # pyMilk: (name, data) creates and publishes
    r = Stream("cb")
    assert r.get_counter() == 1 and r.cbsize == 4
    np.testing.assert_array_equal(r.get_data(), a)
    w.set_data(a + 1)
    np.testing.assert_array_equal(r.get_data(check=True, timeout=10), a + 1)
    assert r.inspect().cbsize == 4


def test_name_path_and_milk_shm_dir(shm_dir):
    Stream.create("named", (2,), np.uint8)
    path = str(shm_dir / "named.im.shm")
    assert shmguard.stream_path("named") == path
    assert Stream(path).path == Stream("named").path == path
    assert Stream("named").name == "named"


def test_wait_update_counts_missed_frames_and_times_out():
    w = Stream.create("w", (4,), np.int16)
    r = Stream("w")
    for _ in range(3):
        w.write(np.zeros(4, np.int16))
    assert r.wait_update(0, timeout=10) == (3, 2)
    with pytest.raises(Timeout) as e:
        r.wait_update(3, timeout=0.05)
    assert e.value.code == -110 and e.value.path == r.path
    assert isinstance(e.value, TimeoutError)
    it = iter(r)
    w.write(np.ones(4, np.int16))
    f = next(it)
    assert f.counter == 4 and f.data.tolist() == [1, 1, 1, 1]


def pattern(k: int, n: int) -> np.ndarray:
    return ((np.arange(n, dtype=np.int64) + k * 31) & 0xFFFF).astype(np.uint16)


@pytest.mark.parametrize("cbsize", [0, 4])
def test_c_writer_full_speed_python_reader_never_torn(builddir, cbsize):
    frames, width, height = 30000, 128, 96
    w = subprocess.Popen([os.path.join(builddir, "examples", "isio-writer"), "cpat", str(width),
                          str(height), str(frames), "0", str(cbsize), "go"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    expect_line(w, ": ready")
    r = Stream("cpat")
    assert r.shape == (height, width) and r.dtype == np.uint16
    w.stdin.write("go\n")
    w.stdin.flush()
    checked = torn = toofast = 0
    last = 0
    while last < frames:
        r.wait_update(last, timeout=60)
        try:
            f = r.snapshot()
        except TooFast:
            toofast += 1
            continue
        if not np.array_equal(f.data.ravel(), pattern(f.counter, width * height)):
            torn += 1
        checked += 1
        last = f.counter
    assert w.wait(timeout=60) == 0
    print(f"cbsize {cbsize}: {checked} frames checked, {toofast} too fast, {torn} torn")
    assert torn == 0 and checked >= 1 and last == frames


@pytest.mark.parametrize("mode", ["futex", "sem"])
def test_python_writer_c_reader_never_torn(builddir, mode):
    width, height, want = 64, 48, 300
    s = Stream.create("pyw", (height, width), np.uint16)
    rd = subprocess.Popen([os.path.join(builddir, "examples", "isio-reader"), "pyw", str(want), mode],
                          stdout=subprocess.PIPE, text=True)
    expect_line(rd, ": ready")
    k = 0
    while rd.poll() is None:  # write until the reader has read what it wants
        k += 1
        assert s.write(pattern(k, width * height).reshape(height, width)) == k
        assert k < 50_000_000, "the C reader never finished"
    out = rd.stdout.read()
    assert rd.returncode == 0, out
    assert f": {want} frames read" in out and " 0 torn accepted" in out, out


def test_second_stream_in_this_process_cannot_write():
    """One writer means one handle: a second Stream on the same name, in the
    same process, cannot write while the first holds the stream (issue 18:
    both used to publish, and readers accepted torn frames)."""
    first = Stream.create("onewriter", (8, 8), np.uint16)
    second = Stream("onewriter")
    assert first.write(np.full((8, 8), 1, np.uint16)) == 1
    with pytest.raises(shmguard.Busy) as e:
        second.write(np.full((8, 8), 2, np.uint16))
    assert e.value.code == -16  # -EBUSY
    assert f"held by this process (PID {os.getpid()}) through another handle" in str(e.value)
    with pytest.raises(shmguard.Busy):
        second.claim()
    assert first.counter == 1 and first.read()[0, 0] == 1
    assert first.write(np.full((8, 8), 3, np.uint16)) == 2
    # Closing the holder gives the stream back: the second may then write.
    first.close()
    assert second.inspect().writer_pid == 0
    assert second.write(np.full((8, 8), 4, np.uint16)) == 3
    second.close()


def test_writer_killed_mid_frame_is_an_exception_not_a_hang():
    s = Stream.create("dead", (16, 16), np.float64)
    s.write(np.ones((16, 16)))
    s.close()
    child = python_child(
        "import sys, shmguard\n"
        "from shmguard import _lib\n"
        "s = shmguard.Stream.open('dead')\n"
        "s.claim()\n"
        "assert _lib.lib.shmg_isio_begin(s._s) != _lib.ffi.NULL\n"
        "print('mid-frame', flush=True)\n"
        "sys.stdin.readline()\n")
    expect_line(child, "mid-frame")
    r = Stream("dead")
    assert r.inspect().write_flag == 1
    child.kill()
    child.wait()
    with pytest.raises(WriterDead) as e:
        r.read(timeout=30)
    assert e.value.code == shmguard._lib.SHMG_EWRITERDEAD and e.value.path == r.path
    with pytest.raises(WriterDead):
        r.wait(timeout=30)
    assert r.inspect().writer_liveness == "dead"
    # A new writer takes over: a success with a note (a warning, not an error),
    # and its first frame replaces the partial one.
    w = Stream("dead")
    with pytest.warns(shmguard.OwnerDied) as rec:
        assert w.write(np.full((16, 16), 2.0)) == 2
    assert rec[0].message.code == shmguard._lib.SHMG_OWNERDEAD
    assert r.read(timeout=30)[0, 0] == 2.0 and r.inspect().writer_pid == os.getpid()


def test_sigint_during_wait_raises_keyboardinterrupt_promptly():
    Stream.create("intr", (4,), np.uint8)
    child = python_child(
        "import shmguard\n"
        "s = shmguard.Stream('intr')\n"
        "print('open', flush=True)\n"
        "try:\n"
        "    s.wait(timeout=120)\n"
        "    print('woken')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n")
    expect_line(child, "open")
    mon = Stream("intr")
    until(lambda: mon.inspect().waiters_byte & 1, "the child to sleep on the stream")
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)  # a bound for a hang, not an ordering
    assert out.strip() == "interrupted", (out, err)


def test_another_thread_runs_while_one_waits(monkeypatch):
    # One slice for the whole wait: the waiter stays inside one library call,
    # so this thread can only run if that call released the GIL.
    monkeypatch.setattr(shmguard._common, "SLICE_NS", 120 * 10**9)
    s = Stream.create("gil", (4,), np.int32)
    r = Stream("gil")
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("u", r.wait(timeout=120)))
    t.start()
    until(lambda: s.inspect().waiters_byte & 1, "the waiting thread to sleep")
    s.write(np.full(4, 7, np.int32))
    t.join(60)
    assert not t.is_alive() and got["u"].counter == 1


def test_bad_frames_are_refused_and_change_nothing(shm_dir):
    s = Stream.create("bad", (4, 6), np.uint16)
    s.write(np.ones((4, 6), np.uint16))
    before = file_bytes(shm_dir / "bad.im.shm")
    cases = [
        (np.ones((4, 6), np.float32), "dtype is float32, the stream's is uint16"),
        (np.ones((6, 4), np.uint16), "shape is (6, 4), the stream's is (4, 6)"),
        (np.asfortranarray(np.ones((4, 6), np.uint16)), "not C-contiguous"),
        ([[1] * 6] * 4, "must be a numpy.ndarray, not list"),
    ]
    for bad, words in cases:
        with pytest.raises(InvalidArgument) as e:
            s.write(bad)
        assert words in str(e.value) and e.value.path == s.path
    for out, words in [(np.empty((4, 6), np.int16), "out has dtype int16"),
                       (np.empty((24,), np.uint16), "out has shape (24,)")]:
        with pytest.raises(InvalidArgument, match=re.escape(words)):
            s.read(out=out)
    assert file_bytes(shm_dir / "bad.im.shm") == before


def test_not_a_stream_missing_and_bad_names_change_nothing(shm_dir):
    junk = shm_dir / "junk.im.shm"
    junk.write_bytes(bytes(range(256)) * 16)
    before = file_bytes(junk)
    with pytest.raises(LayoutError) as e:
        Stream("junk")
    assert e.value.path == str(junk) and e.value.code == shmguard._lib.SHMG_ELAYOUT
    assert e.value.detail and e.value.detail in str(e.value)
    assert file_bytes(junk) == before
    listing = sorted(os.listdir(shm_dir))
    with pytest.raises(NotFound) as e:
        Stream("missing")
    assert isinstance(e.value, FileNotFoundError) and e.value.path.endswith("missing.im.shm")
    with pytest.raises(InvalidArgument, match="stream name"):
        Stream("x" * 200)
    with pytest.raises(InvalidArgument, match="no ImageStreamIO datatype"):
        Stream.create("obj", (3,), np.dtype("U3"))
    with pytest.raises(InvalidArgument, match="1 to 3"):
        Stream.create("four", (1, 2, 3, 4), np.uint8)
    Stream.create("once", (3,), np.uint8).write(np.arange(3, dtype=np.uint8))
    listing = sorted(os.listdir(shm_dir))
    once = file_bytes(shm_dir / "once.im.shm")
    with pytest.raises(FileExistsError):
        Stream.create("once", (5,), np.uint8)
    assert file_bytes(shm_dir / "once.im.shm") == once and sorted(os.listdir(shm_dir)) == listing


def test_read_pinned_points_to_the_pinned_context_manager():
    # Zero-copy reads are Stream.pinned() (tests/test_pin.py); read() copies.
    s = Stream.create("pin", (2,), np.uint8, cbsize=2)
    s.write(np.arange(2, dtype=np.uint8))
    with pytest.raises(InvalidArgument, match=r"with stream\.pinned\(\) as f"):
        s.read(pinned=True)
    with s.pinned() as f:
        assert f.data.tolist() == [0, 1] and f.counter == 1


def test_help_is_useful():
    doc = Stream.__doc__ + Stream.read.__doc__ + Stream.wait_update.__doc__
    for word in ("never torn", "GIL", "KeyboardInterrupt", "C-contiguous"):
        assert word in doc or word in Stream.write.__doc__
    import pydoc
    text = pydoc.render_doc(Stream)
    assert "wait_update" in text and "snapshot" in text


def test_closed_stream_is_a_clear_error():
    s = Stream.create("shut", (3,), np.uint8)
    s.close()
    for op in (s.read, lambda: s.write(np.zeros(3, np.uint8)), lambda: s.wait(timeout=1), s.inspect):
        with pytest.raises(ValueError, match="the stream is closed"):
            op()
    s.close()  # twice: a no-op
