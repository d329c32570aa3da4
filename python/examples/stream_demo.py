#!/usr/bin/env python3
"""A camera and its consumer over an ImageStreamIO stream, plus a loop gain
in a milk FPS, with the shmguard binding.

    python3 stream_demo.py [FRAMES]

Uses $MILK_SHM_DIR (a temporary directory when it is unset). The camera
thread publishes FRAMES frames whose pixels all equal the frame number; the
consumer iterates over the stream and checks every frame it gets is whole.
"""
import os
import sys
import tempfile
import threading

import numpy as np

import shmguard


def main() -> int:
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    made = None
    if not os.path.isdir(os.environ.get("MILK_SHM_DIR", "")):
        made = os.environ["MILK_SHM_DIR"] = tempfile.mkdtemp(prefix="shmguard-demo-")
    cam = shmguard.Stream.create("demo_cam", (120, 160), np.float32, cbsize=4, replace=True)
    reader = shmguard.Stream("demo_cam")
    ready = threading.Event()

    def camera():
        ready.wait()
        for k in range(1, frames + 1):
            cam.write(np.full(cam.shape, k, np.float32))

    t = threading.Thread(target=camera)
    t.start()
    seen = whole = 0
    ready.set()
    for f in reader:  # each new frame, as it comes
        seen += 1
        whole += bool((f.data == f.counter).all())
        if f.counter == frames:
            break
    t.join()
    print(f"stream {reader.path}: {seen} frames seen of {frames}, {whole} whole, "
          f"{frames - seen} skipped while busy")

    fps = shmguard.FPS.create("demo_loop", 4, replace=True)
    fps.set(0, 1, as_type="int64")  # by index; by full name once named
    fps.update(0, lambda v: v * 2, as_type="int64")
    value, cnt0 = fps.get(0, as_type="int64")
    print(f"FPS {fps.path}: parameter 0 = {value!r} after {cnt0} updates")
    for p in (cam.path, fps.path):
        os.unlink(p)
    if made:
        os.rmdir(made)
    return 0 if seen == whole and value == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
