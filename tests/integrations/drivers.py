"""One tiny training per adapter behind one interface, so the contract tests run the same steps on each.

Each driver makes our adapter (``make``), trains with it (``fit``), evaluates after training with the
same trainer or model (``test``), evaluates or predicts with nothing trained before, and trains
beside the framework's own logger. Trainings are a few steps on CPU.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

FIT_METRIC = {"lightning": "train_loss", "keras": "loss", "transformers": "loss"}
TEST_METRIC = {"lightning": "test_loss", "keras": "eval__loss", "transformers": "test_loss"}
#: The same adapter object used for a second training: transformers makes a run per train(), the others continue.
RUNS_FOR_TWO_FITS = {"lightning": 1, "keras": 1, "transformers": 2}


class Driver:
    name = ""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.state: dict[str, Any] = {}

    def make(self, **options: Any) -> Any:
        raise NotImplementedError

    def fit(self, *adapters: Any) -> None:
        raise NotImplementedError

    def test(self) -> None:
        raise NotImplementedError

    def evaluate_only(self, adapter: Any) -> None:
        raise NotImplementedError

    def predict_only(self, adapter: Any) -> None:
        raise NotImplementedError

    def fit_beside_own_logger(self, adapter: Any) -> int:
        """Train with the framework's own logger too; the number of rows it wrote."""
        raise NotImplementedError


class Lightning(Driver):
    name = "lightning"

    def make(self, **options: Any) -> Any:
        from polyaxon_integrations.lightning import PolyaxonLogger

        return PolyaxonLogger(**options)

    def _trainer(self, loggers: list[Any], **kwargs: Any) -> Any:
        import lightning.pytorch as L

        from tests.lightning.tiny import trainer

        return trainer(L, loggers, default_root_dir=str(self.tmp), enable_checkpointing=False, **kwargs)

    def _model(self) -> Any:
        import lightning.pytorch as L

        from tests.lightning.tiny import module_class

        return module_class(L)()

    def fit(self, *adapters: Any) -> None:
        from tests.lightning.tiny import data

        self.state["trainer"] = trainer = self._trainer(list(adapters))
        self.state["model"] = model = self._model()
        trainer.fit(model, data(), data())

    def test(self) -> None:
        from tests.lightning.tiny import data

        self.state["trainer"].test(self.state["model"], data())

    def evaluate_only(self, adapter: Any) -> None:
        from tests.lightning.tiny import data

        self._trainer([adapter]).test(self._model(), data())

    def predict_only(self, adapter: Any) -> None:
        from tests.lightning.tiny import data

        self._trainer([adapter]).predict(self._model(), data())

    def fit_beside_own_logger(self, adapter: Any) -> int:
        from lightning.pytorch.loggers import CSVLogger

        from tests.lightning.tiny import data

        own = CSVLogger(str(self.tmp / "csv"))
        self._trainer([own, adapter]).fit(self._model(), data(), data())
        with open(Path(own.log_dir) / "metrics.csv") as f:
            return len(list(csv.DictReader(f)))


def _keras_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, x.sum(1, keepdims=True)


class Keras(Driver):
    name = "keras"

    def make(self, **options: Any) -> Any:
        from polyaxon_integrations.keras import PolyaxonCallback

        return PolyaxonCallback(**options)

    def _model(self) -> Any:
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(1)], name="tiny")
        model.compile(optimizer="sgd", loss="mse")
        return model

    def fit(self, *adapters: Any) -> None:
        x, y = _keras_data()
        self.state["model"] = model = self.state.get("model") or self._model()
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=list(adapters))
        self.state["callbacks"] = list(adapters)

    def test(self) -> None:
        x, y = _keras_data()
        self.state["model"].evaluate(x, y, verbose=0, callbacks=self.state["callbacks"])

    def evaluate_only(self, adapter: Any) -> None:
        x, y = _keras_data()
        self._model().evaluate(x, y, verbose=0, callbacks=[adapter])

    def predict_only(self, adapter: Any) -> None:
        x, _ = _keras_data()
        self._model().predict(x, verbose=0, callbacks=[adapter])

    def fit_beside_own_logger(self, adapter: Any) -> int:
        import keras

        x, y = _keras_data()
        path = self.tmp / "keras.csv"
        self._model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(path), adapter])
        with open(path) as f:
            return len(list(csv.DictReader(f)))


class Transformers(Driver):
    name = "transformers"

    def make(self, **options: Any) -> Any:
        from polyaxon_integrations.transformers import PolyaxonCallback

        return PolyaxonCallback(**options)

    def _trainer(self, callbacks: list[Any], **overrides: Any) -> Any:
        from tests.transformers import tiny

        overrides.setdefault("report_to", "none")
        return tiny.trainer(str(self.tmp / "out"), callbacks=callbacks, num_train_epochs=1, **overrides)

    def fit(self, *adapters: Any) -> None:
        trainer = self.state.get("trainer")
        if trainer is None or list(adapters) != self.state["callbacks"]:
            trainer = self._trainer(list(adapters))
        self.state.update(trainer=trainer, callbacks=list(adapters))
        trainer.train()

    def test(self) -> None:
        from tests.transformers import tiny

        self.state["trainer"].evaluate(tiny.Tokens(16, seed=2), metric_key_prefix="test")

    def evaluate_only(self, adapter: Any) -> None:
        from tests.transformers import tiny

        self._trainer([adapter]).evaluate(tiny.Tokens(16, seed=2), metric_key_prefix="test")

    def predict_only(self, adapter: Any) -> None:
        from tests.transformers import tiny

        self._trainer([adapter]).predict(tiny.Tokens(16, seed=2))

    def fit_beside_own_logger(self, adapter: Any) -> int:
        from transformers import TrainerCallback

        rows: list[dict[str, Any]] = []

        class Own(TrainerCallback):  # type: ignore[misc]
            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
                rows.append(dict(logs or {}))

        self._trainer([Own(), adapter]).train()
        return len(rows)


DRIVERS: dict[str, type[Driver]] = {"lightning": Lightning, "keras": Keras, "transformers": Transformers}
