"""A tiny BERT classifier and synthetic token data: trains in about a second on one CPU core, downloads nothing.

Also run as a script by the subprocess tests (``python tiny.py OUTPUT_DIR [options]``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

VOCAB = 50


def model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


class Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    """Label 1 when the first token is in the upper half of the vocabulary: learnable in a few steps."""

    def __init__(self, size: int, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, VOCAB, (size, 8), generator=generator)
        self.labels = (self.ids[:, 0] >= VOCAB // 2).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(8, dtype=torch.long), "labels": self.labels[i]}


def arguments(output_dir: str, **overrides: Any) -> TrainingArguments:
    values: dict[str, Any] = dict(
        output_dir=output_dir,
        num_train_epochs=2,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=16,
        learning_rate=1e-2,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="no",
        report_to="polyaxon",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    values.update(overrides)
    return TrainingArguments(**values)


def trainer(output_dir: str, callbacks: list[Any] | None = None, **overrides: Any) -> Trainer:
    return Trainer(
        model=model(),
        args=arguments(output_dir, **overrides),
        train_dataset=Tokens(32),
        eval_dataset=Tokens(16, seed=1),
        callbacks=callbacks,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--import-adapter", action="store_true")
    parser.add_argument("--raise-at-step", type=int, default=0)
    parser.add_argument("--run-name")
    parser.add_argument("--catch", action="store_true", help="catch what train() raises, then exit normally")
    options = parser.parse_args()
    if options.import_adapter:
        from transformers.integrations import integration_utils

        registered = "polyaxon" in integration_utils.INTEGRATION_TO_CALLBACK
        print("registered before importing the adapter:", registered, flush=True)
        import polyaxon_integrations.transformers  # noqa: F401
    extra: list[Any] = []
    if options.raise_at_step:
        from transformers import TrainerCallback

        class Boom(TrainerCallback):  # type: ignore[misc]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                if state.global_step == options.raise_at_step:
                    raise RuntimeError("boom at step")

        extra.append(Boom())
    from polyaxon_integrations import tracking

    def report() -> None:
        current = tracking.get_run()
        if int(os.environ.get("RANK", "0")) == 0 and current is not None:
            print("RUN", current.run_uuid, flush=True)

    print("adapter imported before Trainer():", "polyaxon_integrations.transformers" in sys.modules, flush=True)
    run = trainer(options.output_dir, callbacks=extra, run_name=options.run_name)
    try:
        run.train()
    except RuntimeError:
        report()
        if not options.catch:
            raise
        print("caught", flush=True)
    else:
        report()


if __name__ == "__main__":
    main()
