"""One pass of the official sidecar over one simulated pod, without Kubernetes (run with .venv-server's python).

What ``polyaxon sidecar`` does every sync interval, minus the pod watch: ``sync_artifacts`` copies the
pod's ``<context>/artifacts/<uuid>`` into the store (here a host path, as a ``host_path`` connection),
then the run client posts the events' and resources' summaries (lineage, and outputs = last values).

    python official_sidecar.py CONTEXT_ROOT STORE OWNER PROJECT RUN_UUID
"""

from __future__ import annotations

import asyncio
import os
import sys

context_root, store, owner, project, run_uuid = sys.argv[1:6]
os.environ["POLYAXON_CONTEXT_ROOT"] = context_root  # read by polyaxon._contexts.paths at import

from fsspec.implementations.local import LocalFileSystem  # noqa: E402
from polyaxon._contexts import paths as ctx_paths  # noqa: E402
from polyaxon._fs.watcher import FSWatcher  # noqa: E402
from polyaxon._sidecar.container.monitors import sync_artifacts  # noqa: E402
from polyaxon._sidecar.ignore import IGNORE_FOLDERS  # noqa: E402
from polyaxon.client import RunClient  # noqa: E402

# A host_path/volume-claim store: the sidecar's fs is a LocalFileSystem (polyaxon/_fs/fs.py).
fs = LocalFileSystem(auto_mkdir=True)
asyncio.run(sync_artifacts(fs=fs, fw=FSWatcher(), store_path=store, run_uuid=run_uuid, exclude=IGNORE_FOLDERS))
client = RunClient(owner=owner, project=project, run_uuid=run_uuid)
client.sync_events_summaries(last_check=None, events_path=ctx_paths.CONTEXT_MOUNT_RUN_EVENTS_FORMAT.format(run_uuid))
client.sync_system_events_summaries(
    last_check=None, events_path=ctx_paths.CONTEXT_MOUNT_RUN_SYSTEM_RESOURCES_EVENTS_FORMAT.format(run_uuid)
)
print("synced", context_root)
