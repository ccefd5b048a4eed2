"""Rich events on a run: the official calls, their names and arguments, in the official layout.

``events/<kind>/<name>.plx`` rows and ``assets/<kind>/<name>_<step>.<ext>`` files. This module has
curves, confusion matrices, charts and dataframes; :mod:`.rich_media` the images, video, audio,
html and histograms; :mod:`.rich_base` what they share (the bounded backlog, rows, assets).
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from enum import Enum
from pathlib import Path
from typing import Any

from . import media
from .events import InvalidValueError
from .guard import warn_once
from .recorder import to_step, to_timestamp
from .rich_base import Fields
from .rich_media import RichMediaMixin, _close

__all__ = ["RichLoggingMixin"]


def _json_default(value: Any) -> Any:
    """Arrays, numpy scalars and dates inside chart figures, as JSON has them."""
    for attr in ("tolist", "isoformat"):
        method = getattr(value, attr, None)
        if callable(method):
            return method()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _chart(kind: str, figure: Any) -> str:
    if kind == "plotly":
        figure = media.plain_typed_arrays(figure)
    return json.dumps({"kind": kind, "figure": figure}, default=_json_default)


class RichLoggingMixin(RichMediaMixin):
    """The official rich-event calls on :class:`~polyaxon_integrations.core.run.Run`."""

    # --- curves, confusion matrix ----------------------------------------------------------

    def _curve(self, name: str, kind: str, x: Any, y: Any, annotation: Any, step: Any, timestamp: Any) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("curve", name)
        xs, ys = media.float_list(x, "x"), media.float_list(y, "y")
        if len(xs) != len(ys):
            raise InvalidValueError(f"Curve {name!r}: x and y have different lengths ({len(xs)} and {len(ys)}).")
        note = str(annotation) if annotation else None
        fields = {"kind": kind, "x": xs, "y": ys, "annotation": note}
        self._event("curve", stem, step, ts, lambda: media.payload(fields))

    def log_roc_auc_curve(
        self, name: str, fpr: Any, tpr: Any, auc: float | None = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        self._curve(name, "roc", fpr, tpr, auc, step, timestamp)

    def log_pr_curve(
        self,
        name: str,
        precision: Any,
        recall: Any,
        average_precision: float | None = None,
        step: int | None = None,
        timestamp: Any = None,
    ) -> None:
        self._curve(name, "pr", precision, recall, average_precision, step, timestamp)

    def log_curve(
        self, name: str, x: Any, y: Any, annotation: str | None = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        self._curve(name, "custom", x, y, annotation, step, timestamp)

    def log_sklearn_roc_auc_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: Any = None,
        is_multi_class: bool = False,
    ) -> None:
        """ROC curve(s) computed by scikit-learn on the writer thread (multi-class: one per class, ``<name>_<i>``)."""
        self._sklearn_curve("roc", name, y_preds, y_targets, step, timestamp, is_multi_class)

    def log_sklearn_pr_curve(
        self,
        name: str,
        y_preds: Any,
        y_targets: Any,
        step: int | None = None,
        timestamp: Any = None,
        is_multi_class: bool = False,
    ) -> None:
        self._sklearn_curve("pr", name, y_preds, y_targets, step, timestamp, is_multi_class)

    def _sklearn_curve(
        self, kind: str, name: str, y_preds: Any, y_targets: Any, step: Any, timestamp: Any, multi: bool
    ) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        if not media.require(f"log_sklearn_{kind}_curve", "sklearn"):
            return
        preds, targets = media.copy_array(y_preds, "predictions"), media.copy_array(y_targets, "targets")
        if preds is None or targets is None:
            return
        if not multi:
            self._event("curve", self._rich_stem("curve", name), step, ts, lambda: _sk_curve(kind, preds, targets))
            return
        import numpy as np

        classes = np.unique(targets)
        if preds.ndim != 2 or preds.shape[1] != len(classes):
            raise InvalidValueError(
                f"Curve {name!r}: multi-class predictions are (samples, {len(classes)} classes), got {preds.shape}."
            )
        for i, label in enumerate(classes):
            stem = self._rich_stem("curve", f"{name}_{i}")
            self._event("curve", stem, step, ts, functools.partial(_sk_curve, kind, preds[:, i], targets, label))

    def log_confusion_matrix(
        self, name: str, x: Any, y: Any, z: Any = None, step: int | None = None, timestamp: Any = None
    ) -> None:
        """A confusion matrix: ``x`` and ``y`` the labels, ``z`` the ``len(x)`` rows of ``len(x)`` counts."""
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("confusion", name)
        xs, ys, zs = media.plain(x), media.plain(y), media.plain(z)
        try:
            square = len(xs) == len(ys) == len(zs) and all(len(row) == len(zs) for row in zs)
        except TypeError:
            square = False
        if not square:
            warn_once(
                f"confusion-{stem}",
                f"polyaxon-integrations: confusion matrix {name!r} was not logged: x, y and z must have the same "
                "length and z must be square.",
            )
            return
        xs, ys, zs = copy.deepcopy(list(xs)), copy.deepcopy(list(ys)), [list(row) for row in zs]
        self._event("confusion", stem, step, ts, lambda: media.payload({"x": xs, "y": ys, "z": zs}))

    # --- charts ------------------------------------------------------------------------

    def _log_chart(self, kind: str, name: str, figure: Any, step: Any, timestamp: Any) -> None:
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("chart", name)
        self._event("chart", stem, step, ts, lambda: _chart(kind, figure))

    def log_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """A plotly figure (or its dict, or a matplotlib figure, converted by plotly), drawn by the UI."""
        if type(figure).__module__.startswith("matplotlib"):
            self.log_mpl_plotly_chart(name, figure, step, timestamp, fallback_to_image=False)
            return
        if isinstance(figure, dict):
            snapshot = copy.deepcopy(figure)
        elif callable(getattr(figure, "to_dict", None)):
            snapshot = figure.to_dict()  # plotly's is a deep copy: later changes to the figure are not logged
        else:
            raise InvalidValueError(f"log_plotly_chart takes a plotly figure or a dict, got {type(figure).__name__}.")
        self._log_chart("plotly", name, snapshot, step, timestamp)

    def log_bokeh_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        if not media.require("log_bokeh_chart", "bokeh"):
            return
        from bokeh.embed import json_item  # type: ignore[import-not-found,unused-ignore]

        self._log_chart("bokeh", name, json_item(figure), step, timestamp)

    def log_altair_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """An altair (vega-lite) chart: anything with ``to_dict()``."""
        self._log_chart("vega", name, figure.to_dict(), step, timestamp)

    def log_mpl_plotly_chart(
        self,
        name: str,
        figure: Any,
        step: int | None = None,
        timestamp: Any = None,
        close: bool = True,
        fallback_to_image: bool = True,
    ) -> None:
        """A matplotlib figure converted to plotly; as an image if plotly cannot convert it (``fallback_to_image``)."""
        try:
            if not media.available("plotly"):
                raise ImportError("plotly is not installed")
            from plotly.tools import mpl_to_plotly  # type: ignore[import-untyped,unused-ignore]

            converted = mpl_to_plotly(figure).to_dict()
        except Exception as exc:
            if not fallback_to_image:
                warn_once(
                    f"mpl-plotly-{type(exc).__name__}",
                    f"polyaxon-integrations: chart {name!r} was not logged: plotly could not convert the matplotlib "
                    f"figure ({exc}); `{media.EXTRA}` installs plotly.",
                )
                return
            self.log_mpl_image(figure, name, close, step, timestamp)
            return
        if close:
            _close(figure)
        self._log_chart("plotly", name, converted, step, timestamp)

    # --- dataframes ----------------------------------------------------------------------

    def log_dataframe(
        self, df: Any, name: str, content_type: str = "csv", step: int | None = None, timestamp: Any = None
    ) -> None:
        """A pandas (or polars) data frame, saved as ``csv`` (index included) or ``html`` on the writer thread."""
        kind = content_type.value if isinstance(content_type, Enum) else content_type
        if kind not in ("csv", "html"):
            raise InvalidValueError(f"log_dataframe: content_type is 'csv' or 'html', got {content_type!r}.")
        step, ts = to_step(step), to_timestamp(timestamp)
        stem = self._rich_stem("dataframe", name)
        if callable(getattr(df, "clone", None)) and not callable(getattr(df, "to_csv", None)):
            snapshot = df.clone()  # polars
        elif callable(getattr(df, "copy", None)):
            snapshot = df.copy()  # pandas: a deep copy
        else:
            raise InvalidValueError(f"log_dataframe takes a pandas or polars DataFrame, got {type(df).__name__}.")
        shape = getattr(snapshot, "shape", (0, 0))
        nbytes = int(math.prod(shape)) * 8 if len(shape) == 2 else 0

        def encode(target: Path) -> Fields:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            if kind == "csv":
                if callable(getattr(snapshot, "to_csv", None)):
                    snapshot.to_csv(tmp)
                else:
                    snapshot.write_csv(tmp)
            elif callable(getattr(snapshot, "to_html", None)):
                snapshot.to_html(tmp)
            else:
                tmp.write_text(snapshot._repr_html_())
            os.replace(tmp, target)
            return {}

        self._asset("dataframe", stem, step, ts, kind, encode, nbytes=nbytes, tail={"content_type": kind})


def _sk_curve(kind: str, preds: Any, targets: Any, label: Any = None) -> str:
    """On the writer thread: the curve scikit-learn computes, as its payload."""
    from sklearn import metrics  # type: ignore[import-untyped,unused-ignore]

    if kind == "roc":
        fpr, tpr, _ = metrics.roc_curve(targets, preds, pos_label=label)
        x, y, note = fpr, tpr, metrics.auc(fpr, tpr)
    else:
        precision, recall, _ = metrics.precision_recall_curve(targets, preds, pos_label=label)
        truth = targets if label is None else targets == label
        x, y, note = precision, recall, metrics.average_precision_score(truth, preds)
    return media.payload(
        {"kind": kind, "x": media.float_list(x, "x"), "y": media.float_list(y, "y"), "annotation": str(note)}
    )
