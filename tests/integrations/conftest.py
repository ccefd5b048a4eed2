"""Keras fixes its backend at first import: these tests use torch, as tests/keras does (JAX runs in a subprocess)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras-home-"))
