"""The compatibility matrix, one fresh environment per session (the versions are in scripts/compat.py).

    .venv/bin/nox                       # every session: 15, 2 to 7 minutes each on this 2-core machine
    .venv/bin/nox -l                    # list them
    .venv/bin/nox -s keras-3.0.5 floors # some of them

Each framework session installs torch 2.13.0 (the CPU build), one version of the framework and this package
(editable), then runs that adapter's tests; the tests start their own sandbox server from ``.venv-server``
(``PLX_SERVER_VENV`` points elsewhere). ``core-*`` sessions run the torch-free core tests on another Python or
with the oldest requests/urllib3 we declare. Environments live in ``.nox/`` and are rebuilt on every run
(``-r`` reuses them).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "scripts"))

import compat  # noqa: E402

nox.options.download_python = "never"  # no network but the package index: use the Pythons on the machine
nox.options.error_on_missing_interpreters = True
PYTEST = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")


def interpreter(version: str) -> str:
    """An executable of that Python: on PATH if it runs, else a pyenv build (pyenv's shims refuse versions
    that are not "global")."""
    for candidate in [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")), reverse=True),
    ]:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True, check=False).returncode == 0:
            return candidate
    return version  # nox reports it missing


def server_check(session: nox.Session) -> None:
    venv = Path(os.environ.get("PLX_SERVER_VENV", ROOT / ".venv-server"))
    if not (venv / "bin" / "python").exists():
        session.error(f"no sandbox server environment at {venv}: run scripts/setup.sh or set PLX_SERVER_VENV")


def register(name: str, python: str, requirements: list[str], tests: tuple[str, ...], doc: str) -> None:
    def run(session: nox.Session) -> None:
        server_check(session)
        # One resolve: the pins, the test tools, and the package's own dependencies (at their newest unless pinned).
        session.install(*dict.fromkeys([*requirements, *compat.TEST_TOOLS]), "-e", f"{ROOT}[system]")
        session.run("python", "-m", "pip", "check")
        session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=False)
        session.run(*PYTEST, *tests, *session.posargs)

    run.__doc__ = doc
    func: Callable[[nox.Session], None] = run
    nox.session(func, name=name, python=interpreter(python))


for fw in compat.FRAMEWORKS:
    for v in fw.versions:
        register(
            f"{fw.name}-{v.version}",
            compat.MAIN_PYTHON,
            [compat.TORCH, *fw.requirements(v)],
            fw.tests,
            f"{fw.name} {v.version}: {v.why}",
        )

register(
    "floors",
    compat.MAIN_PYTHON,
    compat.floors(),
    compat.floor_tests(),
    "every floor in one environment, all the adapters' tests (what CI runs beside the newest)",
)
register(
    f"core-{compat.REQUESTS_FLOOR[0].replace('==', '-')}",
    compat.MAIN_PYTHON,
    [*compat.REQUESTS_FLOOR],
    compat.CORE_TESTS,
    "the core tests with the oldest requests and psutil we declare (and urllib3 1.26)",
)
for py in compat.PYTHONS:
    if py != compat.MAIN_PYTHON:
        register(f"core-py{py}", py, [], compat.CORE_TESTS, f"the core tests on Python {py}")
