"""The client objects under the official client's names, so ``tracking.init(client=...)`` reads the same.

>>> from polyaxon_integrations.client import ClientConfig, PolyaxonClient, RunClient
>>> client = PolyaxonClient(token="t", config=ClientConfig(host="http://127.0.0.1:31833"))
>>> run_client = RunClient(client=client)
"""

from __future__ import annotations

from .core.client import PolyaxonClient
from .core.config import ClientConfig
from .core.run_client import RunClient

__all__ = ["ClientConfig", "PolyaxonClient", "RunClient"]
