"""A tiny torch.distributed (gloo) training that tracks with a plain ``tracking.init()`` on every rank.

Run by the tests as each "pod" (``RANK``/``WORLD_SIZE``/``MASTER_ADDR`` set) or under torchrun. Each
rank trains on its own data, so its curve differs from the others'; every rank writes the losses it
computed to ``<out>/rank<N>.json`` for the test to compare with what the server serves.

    python train_ddp.py OUT_DIR [STEPS] [SECONDS_PER_STEP]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from polyaxon_integrations import tracking


def main() -> None:
    out = Path(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    run = tracking.init()
    assert run is not None
    tracking.log_inputs(lr=0.1, world_size=world)
    torch.manual_seed(0)
    model = DistributedDataParallel(torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.Generator().manual_seed(100 + rank)  # each rank its own batches: its own curve
    losses = []
    for step in range(steps):
        x = torch.randn(16, 4, generator=data)
        y = x.sum(dim=1, keepdim=True) + rank
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()  # all-reduce over gloo: the ranks really train together
        optimizer.step()
        losses.append(loss.item())
        tracking.log_metrics(step=step, loss=losses[-1])
        if pause:
            time.sleep(pause)  # lets the resource sampler take a few samples
    tracking.log_outputs(rank_seen=rank)
    dist.barrier()
    node = os.environ.get("GROUP_RANK", "")
    record = {
        "rank": rank,
        "world": world,
        "node": node,
        "losses": losses,
        "run": type(run).__name__,
        "uuid": run.run_uuid,
        "pid": os.getpid(),
    }
    (out / f"rank{rank}.json").write_text(json.dumps(record))
    tracking.end()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
