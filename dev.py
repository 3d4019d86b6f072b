"""Set up and run moneytrail with nothing but Python 3.11+.

    python3 dev.py serve [--host HOST] [--port PORT]   # the API on http://127.0.0.1:8000
    python3 dev.py test [PYTEST ARGS]                   # pytest, then ruff and mypy

Creates `.venv/` beside this file on first use, installs the project into it from wheels (again
only when pyproject.toml changes), then runs the service or the whole test suite inside it.
"""

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
CODE = ("app", "tracing", "lake", "tests", "migrations", "benchmarks", "dev.py")


def ensure_environment(extras: str, *, from_source: str = "") -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before any install
        sys.exit(f"moneytrail needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = (ROOT / "pyproject.toml").read_bytes() + extras.encode() + from_source.encode()
    stamp = VENV / f".installed-{extras or 'base'}"
    wanted = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(
        f"installing moneytrail{f'[{extras}]' if extras else ''} and its dependencies", flush=True
    )
    target = f".[{extras}]" if extras else "."
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar=off"]
    # Wheels only: a bare machine has no compiler, and a source build fails after minutes.
    if pip_showing_progress([*pip, "--only-binary", ":all:", "-e", target]) != 0:
        sys.exit("pip could not install moneytrail (its output is above)")
    add_ftm(pip)
    if from_source:
        # PySpark is published as a source distribution only (pure Python with the JVM jars
        # inside: it builds without a compiler), so the Spark extra cannot come from wheels.
        print(f"adding moneytrail[{from_source}] (PySpark: a source distribution)", flush=True)
        if pip_showing_progress([*pip, "-e", f".[{from_source}]"]) != 0:
            sys.exit(f"pip could not install moneytrail[{from_source}] (its output is above)")
    stamp.write_text(wanted)


def pip_showing_progress(command: list[str]) -> int:
    """Run pip, printing a line per package it fetches so a first install (minutes) shows life;
    everything pip said is printed if it fails."""
    said: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            said.append(line)
            if line.startswith("Collecting "):
                print(f"  fetching {line.split()[1]}", flush=True)
            elif line.startswith("Installing collected packages:"):
                print(f"  installing {len(line.split(':', 1)[1].split(','))} packages", flush=True)
            elif line.startswith("Successfully installed"):
                print("  installed", flush=True)
    if pip.returncode != 0:
        print("".join(said), file=sys.stderr)
    return pip.returncode


def add_ftm(pip: list[str]) -> None:
    """FtM import/export where it builds: followthemoney needs PyICU, which is source only."""
    print("adding FollowTheMoney import/export (builds PyICU: needs a compiler)", flush=True)
    done = subprocess.run([*pip, "-e", ".[ftm]"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(
            "  skipped: PyICU did not build here, so the FtM routes answer 501 ftm_unavailable;"
            " everything else works. Install a C++ compiler and libicu-dev to add it.",
            flush=True,
        )


def run(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "serve":
        ensure_environment("")
        return subprocess.call([str(BIN / "moneytrail"), "serve", *rest], cwd=ROOT)
    if command == "test":
        # The suite runs the Spark engine's tests too: their extra is part of the test set-up.
        ensure_environment("test", from_source="spark")
        for step in (
            [str(PYTHON), "-m", "pytest", *rest],
            [str(PYTHON), "-m", "ruff", "check", *CODE],
            [str(PYTHON), "-m", "ruff", "format", "--check", *CODE],
            [str(PYTHON), "-m", "mypy", "app", "tracing", "lake", "migrations"],
        ):
            if code := subprocess.call(step, cwd=ROOT):
                return code
        return 0
    print(__doc__)
    return 0 if command == "help" else 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
