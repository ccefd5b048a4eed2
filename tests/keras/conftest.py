"""Keras picks its backend once, at first import: pin it before any test module imports keras.

``KERAS_BACKEND=jax pytest tests/keras`` runs the same tests on JAX where it is installed;
``KERAS_HOME`` keeps Keras from writing ``~/.keras`` on the machine running the tests.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("KERAS_HOME", tempfile.mkdtemp(prefix="keras-home-"))
