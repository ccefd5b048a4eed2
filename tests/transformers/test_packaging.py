"""The autoload .pth reaches site-packages: setup.py puts it at the root of regular and editable wheels."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PTH = ROOT / "polyaxon_integrations" / "polyaxon_integrations.pth"


def test_wheels_put_the_pth_beside_the_package(tmp_path: Path) -> None:
    """setup.py adds the .pth to the root of regular and editable wheels (built here from a copy, offline)."""
    source = tmp_path / "src"
    shutil.copytree(ROOT / "polyaxon_integrations", source / "polyaxon_integrations")
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    for hook in ("build_wheel", "build_editable"):  # one process each: setuptools keeps state between them
        code = f"import sys; from setuptools import build_meta; build_meta.{hook}(sys.argv[1])"
        proc = subprocess.run(
            [sys.executable, "-c", code, str(dist)],
            cwd=source,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.count("editable") for w in wheels] == [1, 0]
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            assert archive.read("polyaxon_integrations.pth") == PTH.read_bytes()
            record = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
            assert "polyaxon_integrations.pth," in archive.read(record).decode()  # so pip uninstall removes it
