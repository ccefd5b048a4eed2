"""Fine-tune a tiny BERT classifier with the transformers ``Trainer`` and ``report_to="polyaxon"``.

    POLYAXON_HOST=http://127.0.0.1:31833 python examples/transformers_tiny_classifier.py

The model is built from a config (no download) and trained on CPU in seconds on synthetic token
sequences whose label is whether the first token is in the upper half of the vocabulary.
Configuration comes from the environment, as for every ``report_to`` integration: the project from
``POLYAXON_PROJECT``, model logging from ``POLYAXON_LOG_MODEL`` (here every checkpoint), the run name
from ``TrainingArguments.run_name``. What the server recorded is read back and printed at the end.
"""

from __future__ import annotations

import os
import tempfile

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging

# With the package installed, report_to="polyaxon" works without this import; it makes the example
# independent of how the package was installed (e.g. from a source checkout on PYTHONPATH).
import polyaxon_integrations.transformers  # noqa: F401
from polyaxon_integrations import tracking

VOCAB, LENGTH = 64, 8


class Tokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, VOCAB, (size, LENGTH), generator=generator)
        self.labels = (self.ids[:, 0] >= VOCAB // 2).long()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        mask = torch.ones(LENGTH, dtype=torch.long)
        return {"input_ids": self.ids[i], "attention_mask": mask, "labels": self.labels[i]}


def accuracy(prediction: object) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids  # type: ignore[attr-defined]
    return {"accuracy": float((logits.argmax(-1) == labels).mean())}


def main() -> None:
    os.environ.setdefault("POLYAXON_PROJECT", "transformers-demo")
    os.environ.setdefault("POLYAXON_LOG_MODEL", "checkpoint")
    hf_logging.disable_progress_bar()  # the "Writing model shards" bars of every checkpoint
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=LENGTH,
        num_labels=2,
    )
    model = BertForSequenceClassification(config)
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(
            output_dir=output_dir,
            run_name="tiny-bert",
            report_to="polyaxon",
            num_train_epochs=4,
            per_device_train_batch_size=16,
            learning_rate=5e-3,
            logging_steps=4,
            eval_strategy="epoch",
            save_strategy="epoch",
            save_total_limit=2,
            use_cpu=True,
            disable_tqdm=True,
            seed=0,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=Tokens(256, seed=0),
            eval_dataset=Tokens(64, seed=1),
            compute_metrics=accuracy,
        )
        trainer.train()  # one run, ended "succeeded" here
        test = trainer.predict(Tokens(64, seed=2))  # logged into the same run (test_loss, test_accuracy)
        run = tracking.get_run()
        assert run is not None
        run.end()  # or let the process end it

    client = run.context.client
    assert client is not None
    data = client.get_run(run.owner, run.project, run.run_uuid)
    print(f"run {data['name']} ({run.run_uuid}): status={data['status']}")
    print(f"  inputs:  {len(data['inputs'])} (training arguments, model/…, model/num_parameters)")
    for key in ("learning_rate", "num_train_epochs", "model/hidden_size", "model/num_parameters"):
        print(f"    {key} = {data['inputs'][key]}")
    names = ["loss", "learning_rate", "eval_loss", "eval_accuracy", "test_accuracy"]
    for name, series in client.get_metrics(run.owner, run.project, run.run_uuid, names).items():
        print(f"  {name}: steps {series['step']} last {series['metric'][-1]:.4g}")
    lineage = client.get_lineage(run.owner, run.project, run.run_uuid)
    models = [e["name"] for e in lineage if e["kind"] == "model" and e["path"].startswith("assets/")]
    print(f"  checkpoints in lineage: {sorted(models)}")
    print(f"  test accuracy (local): {test.metrics['test_accuracy']:.3f}")
    print(f"  UI:      {run.url}")
    print(f"  curves:  {run.dashboard_url(['loss', 'eval_loss', 'eval_accuracy', 'learning_rate', 'grad_norm'])}")


if __name__ == "__main__":
    main()
