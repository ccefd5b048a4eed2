"""The package as a user gets it: ``python -m build`` (sdist, then the wheel from the sdist, as pip builds),
installed non-editable into a fresh venv, used from a folder that is not this checkout.

The build must print no warning (a deprecated ``project.license`` table would stop building in 2027); the
wheel carries LICENSE, the SPDX licence and the autoload ``.pth`` at its root; the installed package logs a run
offline, its command line pushes it to the sandbox, and uninstalling removes the ``.pth`` again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from polyaxon_integrations import __version__
from polyaxon_integrations.core.client import PolyaxonClient

ROOT = Path(__file__).resolve().parents[2]
NAME = f"polyaxon_integrations-{__version__}"
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")  # the real HOME's, read at import


def _source(dest: Path) -> Path:
    """A copy of the checkout's files (tracked, or new and not ignored), so the build writes nothing here."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("needs a git checkout to know the project's files")
    for name in filter(None, listed.stdout.decode().split("\0")):
        src, dst = ROOT / name, dest / name
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    return dest


def _run(cmd: list[str], timeout: float = 300, **kwargs: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    out = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}"
    return str(out)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The sdist and the wheel built from it, and what the build printed."""
    tmp = tmp_path_factory.mktemp("build")
    source = _source(tmp / "src")
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # distutils warns on it
    # --no-isolation: this environment's setuptools (the newest) builds, offline; isolation would download it.
    out = _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(source)], env=environ
    )
    return tmp / "dist" / f"{NAME}.tar.gz", tmp / "dist" / f"{NAME}-py3-none-any.whl", out


def test_build_prints_no_warning(dist: tuple[Path, Path, str]) -> None:
    _, _, out = dist
    noisy = [line for line in out.splitlines() if "warn" in line.lower() or line.strip() == "!!"]
    assert not noisy, "\n".join(noisy)


def test_sdist_and_wheel_carry_the_licence_and_the_pth(dist: tuple[Path, Path, str]) -> None:
    sdist, wheel, _ = dist
    pth = (ROOT / "polyaxon_integrations" / "polyaxon_integrations.pth").read_bytes()
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
    assert {f"{NAME}/LICENSE", f"{NAME}/setup.py", f"{NAME}/polyaxon_integrations/polyaxon_integrations.pth"} <= names
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"{NAME}.dist-info/METADATA").decode()
        assert archive.read("polyaxon_integrations.pth") == pth  # at the root: site-packages runs it
        assert archive.read(f"{NAME}.dist-info/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert "polyaxon_integrations/polyaxon_integrations.pth" not in names  # one copy, the one that works
    assert {"polyaxon_integrations/py.typed", "polyaxon_integrations/__main__.py"} <= names
    assert not any(n.startswith(("tests/", "scripts/", "examples/")) for n in names)
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "Apache License" in (ROOT / "LICENSE").read_text()


def test_installed_wheel_logs_offline_and_its_cli_syncs(
    dist: tuple[Path, Path, str], tmp_path: Path, host: str, api: PolyaxonClient, project: str
) -> None:
    _, wheel, _ = dist
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    python, cli = venv / "bin" / "python", venv / "bin" / "polyaxon-integrations"
    environ = {**os.environ, "PIP_CACHE_DIR": PIP_CACHE}
    environ.pop("PYTHONPATH", None)  # nothing of this checkout: only what the wheel installed
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], env=environ)

    where = _run([str(python), "-c", "import polyaxon_integrations as p; print(p.__file__)"], cwd=tmp_path, env=environ)
    assert str(venv) in where and str(ROOT) not in where
    assert "usage: polyaxon-integrations" in _run([str(cli), "--help"], cwd=tmp_path, env=environ)
    hooked = "import sys; print([type(f).__name__ for f in sys.meta_path].count('PolyaxonAutoload'))"
    assert _run([str(python), "-c", hooked], env=environ).split()[0] == "1"  # the .pth ran at start-up

    quickstart = textwrap.dedent(
        f"""
        from polyaxon_integrations import tracking

        run = tracking.init(project="{project}", name="baseline", tags=["linear"])
        run.log_inputs(lr=0.01, batch_size=64)
        for step in range(100):
            run.log_metrics(step=step, loss=1 / (step + 1))
        run.log_outputs(loss=0.01)
        print(run.run_uuid)
        """
    )
    offline = {**environ, "POLYAXON_IS_OFFLINE": "true"}
    offline.pop("POLYAXON_HOST", None)
    uuid = _run([str(python), "-c", quickstart], cwd=tmp_path, env=offline).split()[0]
    assert list((tmp_path / "offline" / "runs").iterdir()) == [tmp_path / "offline" / "runs" / uuid]

    _run([str(cli), "sync"], cwd=tmp_path, env={**environ, "POLYAXON_HOST": host})
    data = api.get_run("default", project, uuid)
    assert data["name"] == "baseline" and data["status"] == "succeeded"
    assert data["inputs"] == {"lr": 0.01, "batch_size": 64} and data["outputs"] == {"loss": 0.01}
    series = api.get_metrics("default", project, uuid, ["loss"])["loss"]
    assert series["step"] == list(range(100))

    _run([str(python), "-m", "pip", "uninstall", "-y", "-q", "polyaxon-integrations"], env=environ)
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=environ).split()[0]
    )
    assert not (site / "polyaxon_integrations.pth").exists() and not (site / "polyaxon_integrations").exists()
