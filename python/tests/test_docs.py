"""The README's Python example, the example script, the benchmark's smoke
run, and the documentation's promises about the API."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import shmguard

SRC = os.environ.get("SHMG_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")


def test_readme_python_example(capsys):
    readme = os.path.join(SRC, "README.md")
    if not os.path.exists(readme):
        pytest.skip("no README.md next to the package (installed elsewhere)")
    blocks = re.findall(r"^```python\n(.*?)^```$", open(readme).read(), re.S | re.M)
    assert blocks, "README.md has no ```python block"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == "(480, 640) 7 1\n"


def test_example_script(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "examples", "stream_demo.py")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, script, "300"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " whole" in r.stdout and "parameter 0 = 2 after 2 updates" in r.stdout


def test_bench_smoke():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    peer = os.environ.get("SHMGUARD_BENCH_PEER")
    has_peer = bool(peer) and os.access(peer, os.X_OK)
    if not has_peer:
        env.pop("SHMGUARD_BENCH_PEER", None)
    r = subprocess.run([sys.executable, "-m", "shmguard.bench", "--quick"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    keys = ["py.read.1MiB.vs_copyto", "py.read_out.1MiB.vs_copyto", "py.read.4KiB.us"]
    keys += ["py.read.4KiB.overhead_us", "py.wake.vs_c"] if has_peer else \
        ["py.read.4KiB.overhead_vs_cffi_us"]
    for k in keys:
        assert re.search(rf"^{re.escape(k)} [0-9.e+-]+ (x|us)$", r.stdout, re.M), (k, r.stdout)


def test_errors_carry_code_path_and_detail(shm_dir):
    (shm_dir / "odd.im.shm").write_bytes(b"\0" * 100)
    with pytest.raises(shmguard.ShmguardError) as e:
        shmguard.Stream("odd")
    err = e.value
    assert isinstance(err, shmguard.LayoutError) and err.code == -30997
    assert err.path == str(shm_dir / "odd.im.shm") and err.detail in str(err)
    assert shmguard.strerror(-30995)  # SHMG_EWRITERDEAD has a description
    assert isinstance(shmguard.error_for(-110), shmguard.Timeout)
    assert issubclass(shmguard.OwnerDied, Warning)


def test_public_names_are_typed_and_documented():
    pkg = os.path.dirname(shmguard.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    for name in shmguard.__all__:
        obj = getattr(shmguard, name)
        if callable(obj):
            assert obj.__doc__, name
    assert shmguard.Stream.read.__annotations__


def test_doc_python_md_blocks_parse():
    page = os.path.join(SRC, "doc", "python.md")
    if not os.path.exists(page):
        pytest.skip("no doc/python.md next to the package")
    blocks = re.findall(r"^```python\n(.*?)^```$", open(page).read(), re.S | re.M)
    assert blocks
    for code in blocks:
        compile(code, "doc/python.md", "exec")
