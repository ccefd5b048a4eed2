"""docs/environment.md is generated from core/env.py: the committed page must be what the generator writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_env_docs", ROOT / "scripts" / "gen_env_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_environment_page_is_generated_from_env_module() -> None:
    gen = _generator()
    committed = (ROOT / "docs" / "environment.md").read_text()
    assert committed == gen.render(), f"docs/environment.md is out of date: run `{gen.COMMAND}` and commit it"  # type: ignore[attr-defined]


def test_every_variable_is_in_the_page() -> None:
    from polyaxon_integrations.core import env

    page = (ROOT / "docs" / "environment.md").read_text()
    assert all(f"| `{name}` |" in page for name in env.ENV_VARS)
