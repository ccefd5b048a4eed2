"""Quickstart: a real (tiny) training loop tracked in Polyaxon, then read back from the server.

    POLYAXON_HOST=http://127.0.0.1:31833 python examples/quickstart.py

Fits y = 3x + 2 by gradient descent in pure Python, logging hyperparameters, a loss curve and results.
"""

from __future__ import annotations

import random

from polyaxon_integrations import tracking
from polyaxon_integrations.client import RunClient


def train(lr: float, epochs: int, run: tracking.Run) -> tuple[float, float, float]:
    rng = random.Random(0)
    xs = [rng.uniform(-1, 1) for _ in range(256)]
    ys = [3 * x + 2 + rng.gauss(0, 0.1) for x in xs]
    w = b = 0.0
    loss = 0.0
    for epoch in range(epochs):
        grad_w = sum((w * x + b - y) * x for x, y in zip(xs, ys, strict=True)) * 2 / len(xs)
        grad_b = sum(w * x + b - y for x, y in zip(xs, ys, strict=True)) * 2 / len(xs)
        w, b = w - lr * grad_w, b - lr * grad_b
        loss = sum((w * x + b - y) ** 2 for x, y in zip(xs, ys, strict=True)) / len(xs)
        run.log_metrics(step=epoch, loss=loss, w=w, b=b)
    return w, b, loss


def main() -> None:
    run = tracking.init(project="quickstart", name="linear-regression", tags=["demo", "pure-python"])
    assert run is not None
    lr, epochs = 0.1, 200
    run.log_inputs(lr=lr, epochs=epochs, model="linear")
    w, b, loss = train(lr, epochs, run)
    run.log_outputs(w=round(w, 4), b=round(b, 4), loss=round(loss, 6))
    run.end()

    # Read it back from the server, as anyone looking at the run would see it.
    data = RunClient(owner=run.owner, project=run.project, run_uuid=run.run_uuid).refresh_data()
    print(f"run {data['uuid']} ({data['name']}): status={data['status']}")
    print(f"  inputs:  {data['inputs']}")
    print(f"  outputs: {data['outputs']}")
    series = (
        run.context.client.get_metrics(run.owner, run.project, run.run_uuid, ["loss"])["loss"]
        if run.context.client
        else {}
    )
    print(f"  loss:    {len(series.get('step', []))} points served, last {series.get('metric', [None])[-1]}")
    print(f"  UI:      {run.url}")
    print(f"  curves:  {run.dashboard_url()}")


if __name__ == "__main__":
    main()
