"""Track training runs in Polyaxon from Lightning, Keras and transformers: fast, and never the reason a job dies.

Importing this package imports no ML framework; each adapter imports its own.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
