"""What each adapter costs a small CPU training that logs every step, against the same local server.

    .venv/bin/python benchmarks/bench_adapters.py [--steps 2000] [--warmup 300] [--repeat 3] [--only lightning,keras]

Configurations per framework, each in a fresh interpreter (imports and threads never leak), run
interleaved over ``--repeat`` rounds:

- Lightning: no logger; a logger that does nothing (what Lightning itself spends on having a
  logger); our ``PolyaxonLogger``; and the official ``polyaxon`` 2.18 contrib logger
  (``polyaxon.tracking.contrib.pytorch_lightning.PolyaxonCallback``, a ``pytorch_lightning``
  Logger) against a no-logger run in its own environment, ``.venv-bench`` (made on first use:
  torch, lightning, pytorch-lightning and polyaxon 2.18 side by side).
- Keras 3 on the torch backend: no callback; our ``PolyaxonCallback(log_every_n_steps=1)``.
- transformers: a tiny BERT built from a config; ``report_to="none"``; ``report_to="polyaxon"``.

The model is a small MLP (64 -> 256 -> 256 -> 10, batch 64; the BERT: 1 layer of width 32, 16
tokens, batch 8), one torch thread, logging loss and accuracy every step. ``µs/step`` is the
wall time from the start of step ``--warmup`` to the start of the last step, divided by the
steps in between: the training loop only, every hook and logging call included, no imports,
model building or run start/end. ``start ms`` is from ``fit()``/``train()`` to the first step
(framework setup, run start, inputs, model summary); ``stop ms`` from the start of the last
step until ``fit()`` returned and the run ended. Cells are medians over the rounds.

The wall overhead is against the same framework's no-logger run in the same environment; the
baseline's row shows how far apart its rounds were. On a shared 2-core machine that noise is
several percent, larger than the budget, so the verdict (budget: 1% of the step) uses the cost
the tracking itself adds, measured as CPU time over the same steps, which other processes
barely disturb: the training thread's time inside the adapter's own methods (the hooks the
framework calls, the client's ``log_metrics`` included) plus the CPU of the client's threads
(writer, uploads, samplers), which take the GIL and a core from training. It leaves out what
only the wall clock sees (waiting for the GIL, caches the client evicts), and CPU spent on
threads that are neither the client's nor inside our methods: Keras runs batch hooks on its
own callback thread and converts the logs for them there. The ``process CPU overhead`` column
covers that: every thread's CPU per step against the baseline's. Keras has a no-op batch
callback row (like Lightning's no-op logger) so the framework's own cost of a batch hook is
not counted as ours. On a machine quiet enough to resolve the wall overhead, compare them.
Without ``--host`` a sandbox is started.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import sandbox  # noqa: E402
from worker import create_project, run_worker  # noqa: E402

from polyaxon_integrations.core import env  # noqa: E402

BUDGET = 0.01  # of the training time per step
BENCH_VENV = ROOT / ".venv-bench"
BENCH_PACKAGES = (
    "torch==2.13.0",
    "lightning==2.6.6",
    "pytorch-lightning==2.6.6",
    "polyaxon==2.18.0",
    "pandas==2.3.3",  # the official run.end() reads its events back with pandas (as .venv-server has it)
)

WORKER = textwrap.dedent(
    """
    import json, os, sys, threading, time
    framework, config, steps, warmup, result = sys.argv[1:3] + [int(a) for a in sys.argv[3:5]] + sys.argv[5:6]
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    starts = []  # (wall, process CPU, training thread CPU) at the start of every training step
    marks = {}
    tracker_cpu = []  # CPU seconds of the tracking client's threads at the start of steps warmup and steps - 1
    TRACKERS = ("polyaxon_integrations", "polyaxon", "traceml", "multiprocessing")  # the official client's pools

    def trackers():
        total = 0.0
        for thread in threading.enumerate():
            module = getattr(getattr(thread, "_target", None), "__module__", None) or type(thread).__module__
            if thread.name.startswith("polyaxon-") or module.split(".")[0] in TRACKERS:
                try:
                    total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
                except OSError:  # ended meanwhile
                    pass
        return total

    def tick():
        starts.append((time.perf_counter(), time.process_time(), time.thread_time()))
        if len(starts) - 1 in (warmup, steps - 1):
            tracker_cpu.append(trackers())

    inside = []  # (wall at the call, training thread CPU seconds spent) for every call into the adapter

    def instrument(adapter):
        # time the methods the adapter's own classes define: the hooks the framework calls
        for cls in type(adapter).__mro__:
            if cls.__module__.split(".")[0] not in ("polyaxon_integrations", "polyaxon", "traceml"):
                continue
            for name, value in vars(cls).items():
                if name.startswith("_") or not callable(value):
                    continue
                def timed(*args, _fn=getattr(adapter, name), **kwargs):
                    t, cpu = time.perf_counter(), time.thread_time()
                    try:
                        return _fn(*args, **kwargs)
                    finally:
                        inside.append((t, time.thread_time() - cpu))
                setattr(adapter, name, timed)
        return adapter

    def data(n):
        x = torch.randn(n, 64)
        return x, (x[:, :10].argmax(dim=1))

    def lightning():
        if config in ("official", "none-official"):
            import pytorch_lightning as pl
        else:
            import lightning.pytorch as pl
        from torch import nn
        from torch.nn import functional as F
        from torch.utils.data import DataLoader, TensorDataset

        class MLP(pl.LightningModule):
            def __init__(self, width=256):
                super().__init__()
                self.save_hyperparameters()
                self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                         nn.Linear(width, 10))

            def training_step(self, batch, index):
                x, y = batch
                logits = self.net(x)
                loss = F.cross_entropy(logits, y)
                self.log("loss", loss)
                self.log("acc", (logits.argmax(dim=1) == y).float().mean())
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=1e-3)

        class Clock(pl.Callback):
            def on_train_batch_start(self, *args):
                tick()

        class Noop(pl.loggers.Logger):
            name, version = "noop", "0"

            def log_hyperparams(self, *args, **kwargs):
                pass

            def log_metrics(self, metrics, step=None):
                pass

        if config == "ours":
            from polyaxon_integrations.lightning import PolyaxonLogger
            logger = instrument(PolyaxonLogger(project="bench", name="bench-lightning"))
        elif config == "official":
            from polyaxon.tracking.contrib.pytorch_lightning import PolyaxonCallback
            logger = instrument(PolyaxonCallback(project="bench", name="bench-lightning-official"))
        elif config == "noop":
            logger = Noop()
        else:
            logger = False
        x, y = data(64 * 100)
        loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        trainer = pl.Trainer(
            max_steps=steps, logger=logger, log_every_n_steps=1, callbacks=[Clock()], accelerator="cpu",
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
        )
        model = MLP()
        marks["fit"] = time.perf_counter()
        trainer.fit(model, loader)
        if config == "ours":
            logger.end()
        elif config == "official":
            logger.experiment.end()

    def keras():
        import keras

        class Clock(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                tick()

        callbacks = [Clock()]
        if config == "noop":  # Keras's own cost of a batch-end hook that may run off the training thread
            class Noop(keras.callbacks.Callback):
                async_safe = True

                def on_train_batch_end(self, batch, logs=None):
                    pass

            callbacks.append(Noop())
        if config == "ours":
            from polyaxon_integrations.keras import PolyaxonCallback
            ours = instrument(PolyaxonCallback(project="bench", name="bench-keras", log_every_n_steps=1))
            callbacks.append(ours)
        x, y = data(64 * 100)
        model = keras.Sequential([
            keras.Input((64,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ])
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        marks["fit"] = time.perf_counter()
        model.fit(x.numpy(), y.numpy(), batch_size=64, epochs=-(-steps // 100), steps_per_epoch=100,
                  callbacks=callbacks, verbose=0)
        if config == "ours":
            ours.run.end()

    def transformers():
        from torch.utils.data import Dataset
        from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
        from transformers.trainer_callback import PrinterCallback, ProgressCallback, TrainerCallback

        class Clock(TrainerCallback):
            def on_step_begin(self, *args, **kwargs):
                tick()

        class Tokens(Dataset):
            def __init__(self, n):
                self.ids = torch.randint(1, 1000, (n, 16))
                self.labels = (self.ids[:, 0] % 2)

            def __len__(self):
                return len(self.ids)

            def __getitem__(self, i):
                return {"input_ids": self.ids[i], "attention_mask": torch.ones(16, dtype=torch.long),
                        "labels": self.labels[i]}

        model = BertForSequenceClassification(BertConfig(
            vocab_size=1000, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64, num_labels=2,
        ))
        args = TrainingArguments(
            output_dir="out", report_to="polyaxon" if config == "ours" else "none", run_name="bench-transformers",
            max_steps=steps, per_device_train_batch_size=8, logging_strategy="steps", logging_steps=1,
            save_strategy="no", use_cpu=True, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=Tokens(8 * 100), callbacks=[Clock()])
        for quiet in (PrinterCallback, ProgressCallback):  # no printing in any configuration
            trainer.remove_callback(quiet)
        for callback in trainer.callback_handler.callbacks:
            if type(callback).__module__.startswith("polyaxon_integrations"):
                instrument(callback)
        marks["fit"] = time.perf_counter()
        trainer.train()  # report_to="polyaxon" ends its run at the end of train()

    {"lightning": lightning, "keras": keras, "transformers": transformers}[framework]()
    done = time.perf_counter()
    (wall0, cpu0, own0), (wall1, cpu1, own1) = starts[warmup], starts[steps - 1]
    n = steps - 1 - warmup
    with open(result, "w") as f:
        json.dump({
            "steps": len(starts),
            "step_us": (wall1 - wall0) / n * 1e6,
            "thread_us": (own1 - own0) / n * 1e6,
            "others_us": ((cpu1 - cpu0) - (own1 - own0)) / n * 1e6,
            "inside_us": sum(spent for t, spent in inside if wall0 <= t < wall1) / n * 1e6,
            "trackers_us": (tracker_cpu[1] - tracker_cpu[0]) / n * 1e6,
            "start_ms": (starts[0][0] - marks["fit"]) * 1e3,
            "stop_ms": (done - wall1) * 1e3,
        }, f)
    """
)

#: framework -> [(label, config, environment, baseline config)]
CONFIGS: dict[str, list[tuple[str, str, str, str | None]]] = {
    "lightning": [
        ("no logger", "none", "ours", None),
        ("no-op Logger (Lightning's own cost)", "noop", "ours", "none"),
        ("ours: PolyaxonLogger", "ours", "ours", "none"),
        ("no logger (.venv-bench)", "none-official", "official", None),
        ("official: contrib PolyaxonCallback", "official", "official", "none-official"),
    ],
    "keras": [
        ("no callback", "none", "ours", None),
        ("no-op batch callback (Keras's own cost)", "noop", "ours", "none"),
        ("ours: PolyaxonCallback(log_every_n_steps=1)", "ours", "ours", "none"),
    ],
    "transformers": [
        ('report_to="none"', "none", "ours", None),
        ('ours: report_to="polyaxon"', "ours", "ours", "none"),
    ],
}


def ensure_bench_venv() -> Path:
    """The official client's side: torch, Lightning and polyaxon 2.18 (``.venv-server`` has no torch)."""
    python = BENCH_VENV / "bin" / "python"
    probe = "import torch, pandas, pytorch_lightning, lightning, polyaxon.tracking.contrib.pytorch_lightning"
    if python.exists() and subprocess.run([python, "-c", probe], capture_output=True, check=False).returncode == 0:
        return python
    print(f"making {BENCH_VENV} ({' '.join(BENCH_PACKAGES)}) ...", file=sys.stderr)
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", BENCH_VENV], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *BENCH_PACKAGES], check=True)
    return python


def run_one(framework: str, config: str, python: Path, steps: int, warmup: int, host: str) -> dict[str, float]:
    extra = {
        env.PROJECT: "bench",
        "KERAS_BACKEND": "torch",
        "PYTHONPATH": str(ROOT),
        **{name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }
    args = [framework, config, str(steps), str(warmup)]
    return run_worker(python, WORKER, args, host, timeout=600, extra_env=extra, result_file=True)


def report(framework: str, rows: dict[str, list[dict[str, float]]], steps: int, warmup: int, repeat: int) -> None:
    med = {config: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for config, runs in rows.items()}
    print(f"### {framework}: {steps} steps, timed from step {warmup}, logging every step, median of {repeat} rounds")
    print()
    print(
        "| configuration | µs/step | wall overhead µs/step | wall overhead | in the adapter µs/step "
        "| client threads µs/step | attributed µs/step | attributed | < 1% | process CPU overhead µs/step "
        "| start ms | stop ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |")
    for label, config, _, baseline in CONFIGS[framework]:
        row = med[config]
        if baseline is None:  # how far apart its rounds were: the noise a wall-clock overhead is measured against
            walls = [r["step_us"] for r in rows[config]]
            cells = ["", f"±{(max(walls) - min(walls)) / 2 / statistics.median(walls) * 100:.1f}% noise"]
            cells += ["", "", "", "", "baseline", ""]
        else:  # wall: the median of the per-round differences (a round's runs ran back to back)
            diff = statistics.median(
                a["step_us"] - b["step_us"] for a, b in zip(rows[config], rows[baseline], strict=True)
            )
            base = med[baseline]["step_us"]
            cells = [f"{diff:+.1f}", f"{diff / base * 100:+.2f}%"]
            if row["inside_us"] or row["trackers_us"]:
                cost = statistics.median(r["inside_us"] + r["trackers_us"] for r in rows[config])
                verdict = "yes" if cost / base < BUDGET else "**no**"
                cells += [f"{row['inside_us']:.1f}", f"{row['trackers_us']:.1f}", f"{cost:.1f}"]
                cells += [f"{cost / base * 100:.2f}%", verdict]
            else:  # no adapter in this process: the framework's own cost of having a logger
                cells += ["", "", "", "", "-"]
            # Every thread's CPU against the baseline's: what the attribution above cannot see (the framework's
            # callback thread running our hook, its conversions of the logs, GIL hand-offs spinning).
            cpu = statistics.median(
                (a["thread_us"] + a["others_us"]) - (b["thread_us"] + b["others_us"])
                for a, b in zip(rows[config], rows[baseline], strict=True)
            )
            cells.append(f"{cpu:+.1f}")
        print(
            f"| {label} | {row['step_us']:.0f} | "
            + " | ".join(cells)
            + f" | {row['start_ms']:.0f} | {row['stop_ms']:.0f} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--steps", type=int, default=2000,
        help="steps per run: long enough that start-up work (env, git, first uploads) is not counted per step",
    )
    parser.add_argument("--warmup", type=int, default=300, help="steps left out of the timing at the start")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=",".join(CONFIGS), help="comma-separated frameworks")
    parser.add_argument("--host", help="a running server (default: start a sandbox)")
    parser.add_argument("--save", type=Path, help="also write every round's raw numbers to this JSON file")
    args = parser.parse_args()
    frameworks = [name for name in CONFIGS if name in args.only.split(",")]
    pythons = {"ours": Path(sys.executable)}
    if "lightning" in frameworks:
        pythons["official"] = ensure_bench_venv()
    server = None
    host = args.host
    if host is None:
        server = sandbox.start(Path(tempfile.mkdtemp(prefix="bench-adapters-sandbox-")))
        host = server.host
    started = time.monotonic()
    results: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in frameworks}
    try:
        create_project(host)
        for _ in range(args.repeat):
            for framework in frameworks:
                for _, config, side, _ in CONFIGS[framework]:
                    row = run_one(framework, config, pythons[side], args.steps, args.warmup, host)
                    results[framework].setdefault(config, []).append(row)
    finally:
        if server is not None:
            server.stop()
    print(f"Python {sys.version.split()[0]}, 1 torch thread, online against {host}, "
          f"{time.monotonic() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print()
    if args.save is not None:
        args.save.write_text(json.dumps(results, indent=1))
    for framework in frameworks:
        report(framework, results[framework], args.steps, args.warmup, args.repeat)


if __name__ == "__main__":
    main()
