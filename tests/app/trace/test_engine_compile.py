"""Two processes starting at once on a cold Numba cache (`serve --workers N`): the engine is
compiled by one of them under `app.trace.lifecycle.compile_lock` and loaded by the other, and
the cache they leave loads in a third process (issue 15, review: Numba's cache files were left
inconsistent by two processes compiling the same kernels at once)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.trace import lifecycle

ROOT = Path(__file__).resolve().parents[3]
COMPILE = "from app.trace.lifecycle import compile_engine; compile_engine(); print('compiled')"


def _start(cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", COMPILE],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _until_waiting(process: subprocess.Popen[str]) -> str:
    """The process's output up to the line saying it waits for the lock (or to its end)."""
    assert process.stdout is not None
    lines = []
    while line := process.stdout.readline():
        lines.append(line)
        if "engine_compile_waiting" in line:
            break
    return "".join(lines)


@pytest.mark.slow
def test_two_processes_compile_the_engine_one_after_the_other_and_leave_a_sound_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    # The test holds the lock until both have found it held, whatever their start-up takes:
    # then both wait, one compiles and the other waits for it, not on how the two were timed.
    with lifecycle.compile_lock():
        first, second = _start(cache), _start(cache)
        before = [_until_waiting(p) for p in (first, second)]
    outputs = [
        b + p.communicate(timeout=1800)[0] for b, p in zip(before, (first, second), strict=True)
    ]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    assert all(out.rstrip().endswith("compiled") for out in outputs), outputs
    # Each waited for the lock before compiling (neither compiled beside another process).
    assert all(
        "engine_compile_waiting" in out and "engine_compile_waited" in out for out in outputs
    ), outputs
    assert list(cache.rglob("*.nbi"))
    assert list(cache.rglob("*.nbc"))
    third = _start(cache)
    out = third.communicate(timeout=900)[0]
    assert (third.returncode, out.rstrip().endswith("compiled")) == (0, True), out
    assert "engine_compile_waiting" not in out  # nobody held the lock: no wait is told


def test_the_lock_is_one_per_copy_of_the_engine_in_the_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    with lifecycle.compile_lock():
        (lock,) = tmp_path.glob("moneytrail-engine-*.lock")
        held = subprocess.run(
            [sys.executable, "-c", _TRY_LOCK, str(lock)], capture_output=True, text=True
        )
        assert held.stdout.strip() == "busy", held.stderr
    free = subprocess.run(
        [sys.executable, "-c", _TRY_LOCK, str(lock)], capture_output=True, text=True
    )
    assert free.stdout.strip() == "free", free.stderr


_TRY_LOCK = """
import fcntl, sys
with open(sys.argv[1], "a") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("busy")
    else:
        print("free")
"""
