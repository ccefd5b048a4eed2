"""The tested-versions tables and the declared floors come from one matrix (scripts/compat.py).

A table edited by hand, a floor raised in pyproject.toml but not in the matrix (or the other way round), or a
matrix row without its nox session fails here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _compat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compat", ROOT / "scripts" / "compat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("compat", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


compat = _compat()


def _declared() -> dict[str, Requirement]:
    """Every requirement pyproject.toml declares outside dev, by package name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    lines = project["dependencies"] + [r for name, reqs in extras.items() if name != "dev" for r in reqs]
    reqs = [Requirement(line) for line in lines if not line.startswith("polyaxon-integrations")]
    by_name: dict[str, Requirement] = {}
    for req in reqs:
        assert by_name.setdefault(req.name, req) == req, f"{req.name} is declared twice, differently"
    return by_name


def _floor(req: Requirement) -> str:
    lower = [s.version for s in req.specifier if s.operator == ">="]
    assert len(lower) == 1, f"{req}: one `>=` floor expected"
    return lower[0]


@pytest.mark.parametrize("page", sorted(str(p.relative_to(ROOT)) for p in compat.pages()))
def test_each_table_is_generated_from_the_matrix(page: str) -> None:
    path = ROOT / page
    text = path.read_text()
    assert compat.render(path, text, compat.pages()[path]) == text, f"{page} is out of date: run `{compat.COMMAND}`"


def test_declared_floors_are_the_tested_floors() -> None:
    declared = _declared()
    tested: dict[str, str] = {}
    for fw in compat.FRAMEWORKS:
        floor = fw.versions[0]
        for req in fw.requirements(floor):
            parsed = Requirement(req)
            pins = [s.version for s in parsed.specifier if s.operator == "=="]
            if pins and parsed.name in declared:  # beside-pins such as accelerate's count too
                tested[parsed.name] = pins[0]
    for req in compat.REQUESTS_FLOOR:
        name, version = req.split("==")
        if name in declared:
            tested[name] = version
    assert set(tested) >= {"lightning", "pytorch-lightning", "keras", "transformers", "accelerate", "requests"}
    floors = {name: _floor(declared[name]) for name in tested}
    assert floors == tested
    untested = {n for n, r in declared.items() if n != "torch" and n not in tested}
    assert not untested, f"declared without a tested floor: {untested}"


def test_torch_and_python_are_what_the_matrix_runs() -> None:
    declared = _declared()
    assert str(declared["torch"]) == compat.TORCH
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == f">={compat.PYTHONS[0]}"


def test_newest_versions_are_the_dev_environments_pins() -> None:
    pins = dict(
        line.split("==") for line in (ROOT / "scripts" / "constraints.txt").read_text().splitlines() if "==" in line
    )
    for fw in compat.FRAMEWORKS:
        assert all(pins[p] == fw.versions[-1].version for p in fw.packages), fw.name
        versions = [tuple(int(x) for x in v.version.split(".")) for v in fw.versions]
        assert versions == sorted(set(versions)), f"{fw.name}: versions oldest first, each once"


def test_every_version_pins_its_companions() -> None:
    """transformers' Trainer needs accelerate: a row that leaves it to chance tests nothing (or fails)."""
    for fw in compat.FRAMEWORKS:
        for v in fw.versions:
            pinned = {Requirement(r).name for r in v.extra if "==" in r}
            assert pinned >= set(fw.companions), f"{fw.name} {v.version}: pin {set(fw.companions) - pinned}"


def test_every_matrix_row_is_a_nox_session() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    names = {s["session"] for s in json.loads(proc.stdout)}
    wanted = {f"{fw.name}-{v.version}" for fw in compat.FRAMEWORKS for v in fw.versions}
    wanted |= {"floors", f"core-requests-{compat.REQUESTS_FLOOR[0].split('==')[1]}"}
    wanted |= {f"core-py{py}" for py in compat.PYTHONS if py != compat.MAIN_PYTHON}
    assert names == wanted
