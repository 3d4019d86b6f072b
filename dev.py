"""Set up and run moneytrail with nothing but Python 3.11+: `python3 dev.py serve` or `test`.

Creates `.venv/` beside this file on first use, installs the project into it (again only when
pyproject.toml changes), then runs the service or the whole test suite inside it.
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


def ensure_environment(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs before any install
        sys.exit(f"moneytrail needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    spec = (ROOT / "pyproject.toml").read_bytes() + extras.encode()
    stamp = VENV / f".installed-{extras or 'base'}"
    wanted = hashlib.sha256(spec).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print(
        f"installing moneytrail{f'[{extras}]' if extras else ''} and its dependencies", flush=True
    )
    target = f".[{extras}]" if extras else "."
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "-e", target], cwd=ROOT, check=True)
    stamp.write_text(wanted)


def run(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command == "serve":
        ensure_environment("")
        return subprocess.call([str(BIN / "moneytrail"), "serve", *rest], cwd=ROOT)
    if command == "test":
        # The suite runs the Spark engine's tests too: their extra is part of the test set-up.
        ensure_environment("test,spark")
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
