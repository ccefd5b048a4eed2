"""Links into Polyaxon's web UI: a run's page, and a dashboard of its curves with step on the x-axis.

The UI's default dashboard plots against wall time at one-second precision, so a fast run shows
as dots; a dashboard passed in the URL (``?dashboard=``: base64 of the JSON spec, the shape the
UI writes itself) shows each metric as a line over steps.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

__all__ = [
    "SECTION_SIZE",
    "dashboard_spec",
    "dashboard_url",
    "events_dashboard_url",
    "mask_credentials",
    "run_url",
    "strip_credentials",
]

SECTION_SIZE = 6  # a section shows this many charts before paging (the UI's page_size default)


# ``scheme://user:password@`` (or ``scheme://token@``) anywhere in a text.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def mask_credentials(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***`` (``http://***@host``).

    The one masking helper: warnings, exception messages, reprs and command output go through it,
    so a host given as ``http://user:pw@host`` never prints its password.
    """
    return _USERINFO.sub(r"\1***@", text) if "@" in text else text


def strip_credentials(url: str) -> str:
    """``url`` without its credentials (``http://user:pw@host/x`` -> ``http://host/x``): a link to show or open."""
    return _USERINFO.sub(r"\1", url) if "@" in url else url


def run_url(host: str, owner: str, project: str, uuid: str) -> str:
    return f"{strip_credentials(host).rstrip('/')}/ui/{owner}/{project}/runs/{uuid}"


def dashboard_spec(metrics: Sequence[str], xaxis: str = "step") -> dict[str, Any]:
    """One line chart per metric (stored names: ``train__loss``), in sections of six.

    ``xaxis`` is ``step``, ``wall`` (the UI's default) or ``relative``.
    """
    widget_model = {"type": "line", "xaxis": xaxis}  # the UI fills in the rest of a chart's settings
    widgets = [{"model": {"metrics": [name], **widget_model}, "eventKind": "metric"} for name in metrics]
    chunks = [widgets[start : start + SECTION_SIZE] for start in range(0, len(widgets), SECTION_SIZE)]
    return {
        "sections": [
            {"name": "metrics" + (f" ({index + 1})" if index else ""), "widgets": chunk, "is_minimized": False}
            for index, chunk in enumerate(chunks)
        ]
    }


def dashboard_url(page_url: str, metrics: Sequence[str], xaxis: str = "step") -> str:
    """The run's dashboards tab showing ``metrics`` (stored names) over ``xaxis``."""
    spec = json.dumps(dashboard_spec(metrics, xaxis), separators=(",", ":"))
    encoded = base64.b64encode(spec.encode()).decode()
    return f"{page_url}/dashboards?dashboard={quote(encoded, safe='')}"


# The UI's widget type per event kind (metrics have their own charts, above).
_WIDGET_TYPES = {
    "image": "image",
    "histogram": "histogram",
    "curve": "curve",
    "confusion": "confusion",
    "chart": "chart",
    "html": "html",
    "text": "text",
    "audio": "audio",
    "video": "video",
    "dataframe": "dataframe",
}


def events_dashboard_url(page_url: str, events: Sequence[tuple[str, str, int | None]]) -> str:
    """The run's dashboards tab showing rich events: ``(kind, stored name, first step)``, a section per kind,
    each widget with its step slider (what the UI's own default dashboard builds, but open)."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for kind, name, step in events:
        widget_type = _WIDGET_TYPES.get(kind)
        if widget_type is None:
            continue
        model: dict[str, Any] = {"name": name, "step": step or 0, "type": widget_type}
        if kind != "curve":
            model["useSlider"] = kind not in ("html", "text")
        sections.setdefault(kind, []).append({"model": model, "eventKind": kind})
    spec = {
        "sections": [
            {"name": f"{kind} events", "widgets": widgets, "is_minimized": False} for kind, widgets in sections.items()
        ]
    }
    encoded = base64.b64encode(json.dumps(spec, separators=(",", ":")).encode()).decode()
    return f"{page_url}/dashboards?dashboard={quote(encoded, safe='')}"
