from __future__ import annotations

import pytest

from polyaxon_integrations.core import env
from polyaxon_integrations.core.exceptions import ConfigError


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " On "])
def test_true_values(value: str) -> None:
    assert env.parse_bool("X", value) is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off", ""])
def test_false_values(value: str) -> None:
    assert env.parse_bool("X", value) is False


def test_bad_bool_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"POLYAXON_IS_OFFLINE='maybe' is not a boolean"):
        env.read_bool(env.IS_OFFLINE, environ={env.IS_OFFLINE: "maybe"})


def test_bad_float_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="POLYAXON_TIMEOUT"):
        env.read_float(env.TIMEOUT, 1.0, {env.TIMEOUT: "soon"})
    with pytest.raises(ConfigError, match="negative"):
        env.read_float(env.TIMEOUT, 1.0, {env.TIMEOUT: "-1"})
    assert env.read_float(env.TIMEOUT, 1.0, {}) == 1.0


def test_every_name_is_documented() -> None:
    names = {v for k, v in vars(env).items() if k.isupper() and isinstance(v, str) and v.startswith("POLYAXON_")}
    assert names == set(env.ENV_VARS)


def test_package_code_reads_environment_only_through_env_module() -> None:
    """Every POLYAXON_* literal lives in core/env.py (the brief: variables named in one module)."""
    import pathlib
    import re

    root = pathlib.Path(env.__file__).resolve().parent.parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "env.py":
            continue
        for match in re.finditer(r"[\"']POLYAXON_[A-Z_]+[\"']", path.read_text()):
            offenders.append(f"{path.relative_to(root)}: {match.group(0)}")
    assert offenders == []


def test_importing_the_api_loads_no_framework_and_no_core() -> None:
    """``import polyaxon_integrations.tracking`` stays cheap: frameworks, requests and the run machinery
    (threads, HTTP, file formats) load with the first ``init()``, not with the import."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys; import polyaxon_integrations, polyaxon_integrations.tracking as t; "
        "mods = set(sys.modules); assert t.Run.__name__ == 'Run'; "
        "print(json.dumps([sorted(mods), sorted(set(sys.modules) - mods)]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after_run = json.loads(out)
    heavy = {"torch", "lightning", "pytorch_lightning", "keras", "transformers", "tensorflow", "jax", "numpy"}
    assert not heavy & set(before) and not heavy & set(after_run)
    for lazy in ("requests", "polyaxon_integrations.core.run", "polyaxon_integrations.core.mirror", "dataclasses"):
        assert lazy not in before, f"{lazy} is imported by `import polyaxon_integrations.tracking`"
    assert "polyaxon_integrations.core.run" in after_run  # tracking.Run still works, loading on demand
