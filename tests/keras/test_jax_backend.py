"""The Keras adapter on the JAX backend (``jax[cpu]``): Keras fixes its backend at first import, so the
main Keras tests run again in a subprocess with ``KERAS_BACKEND=jax``, against this session's sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ON_JAX = "fit_logs_inputs or several_fits or subclass or best_model_follows or evaluate_alone or copy_logs"


def test_the_keras_tests_pass_on_jax(sandbox: object) -> None:
    pytest.importorskip("jax")
    environ = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": str(ROOT),
        "PLX_TEST_HOST": sandbox.host,  # type: ignore[attr-defined]
        "PLX_TEST_DIR": str(sandbox.dir),  # type: ignore[attr-defined]
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests/keras/test_keras.py"), "-q", "-p", "no:cacheprovider",
         "-k", ON_JAX, "-W", "ignore::DeprecationWarning"],
        capture_output=True, text=True, env=environ, timeout=600, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout, proc.stdout[-2000:]
    assert "jax" in subprocess.run(
        [sys.executable, "-c", "import keras; print(keras.backend.backend())"],
        capture_output=True, text=True, env=environ, check=True,
    ).stdout  # fmt: skip
