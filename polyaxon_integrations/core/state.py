"""The run as data: what ``run.plx.json`` holds, which the reconcile sends.

One lock guards it; callers change it through the methods here. It imports no REST code:
the statuses and their conditions are defined here, and the client uses them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["DONE_STATUSES", "RunState", "now_iso", "status_condition"]

DONE_STATUSES = frozenset({"succeeded", "failed", "stopped", "skipped", "upstream_failed", "done"})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def status_condition(status: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    """A status condition in the shape the server and ``run.plx.json`` use."""
    stamp = now_iso()
    return {
        "type": status,
        "status": True,
        "reason": reason or "PolyaxonIntegrations",
        "message": message,
        "last_update_time": stamp,
        "last_transition_time": stamp,
    }


_MESSAGES = {
    "created": "Run is created",
    "running": "Run is running",
    "succeeded": "Run has succeeded",
    "failed": "Run has failed",
    "stopped": "Run is stopped",
}


@dataclass
class RunState:
    uuid: str
    owner: str
    project: str
    name: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    meta_info: dict[str, Any] = field(default_factory=dict)
    readme: str | None = None  # markdown (``set_readme``)
    created_at: str = field(default_factory=now_iso)
    started_at: str | None = None
    finished_at: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @classmethod
    def from_server(cls, data: Mapping[str, Any], owner: str, project: str) -> RunState:
        """State of a run read from the server (attach, resume)."""
        conditions = list(data.get("status_conditions") or [])
        return cls(
            uuid=str(data["uuid"]).replace("-", ""),
            owner=owner,
            project=project,
            name=data.get("name"),
            description=data.get("description"),
            tags=list(data.get("tags") or []),
            inputs=dict(data.get("inputs") or {}),
            outputs=dict(data.get("outputs") or {}),
            conditions=conditions,
            meta_info=dict(data.get("meta_info") or {}),
            readme=data.get("readme"),
            created_at=data.get("created_at") or now_iso(),
            started_at=data.get("started_at"),
            finished_at=data.get("finished_at"),
        )

    @property
    def status(self) -> str | None:
        return self.conditions[-1]["type"] if self.conditions else None

    @property
    def is_done(self) -> bool:
        return self.status in DONE_STATUSES

    def set_status(self, status: str, reason: str | None = None, message: str | None = None) -> bool:
        """Append a condition unless it repeats the current status; True if it changed."""
        with self.lock:
            if self.status == status:
                return False
            # Always a message: the official CLI's status table misaligns rows without one.
            condition = status_condition(status, reason, message or _MESSAGES.get(status, f"Run is {status}"))
            self.conditions.append(condition)
            if status == "running" and self.started_at is None:
                self.started_at = condition["last_transition_time"]
            if status in DONE_STATUSES:
                self.finished_at = condition["last_transition_time"]
            return True

    def merge(self, attr: str, values: Mapping[str, Any]) -> list[str]:
        """Merge into ``inputs`` or ``outputs``; the keys whose value changed."""
        with self.lock:
            target: dict[str, Any] = getattr(self, attr)
            changed = [k for k, v in values.items() if k not in target or target[k] != v]
            target.update(values)
            return changed

    def adopt_missing(self, data: Mapping[str, Any]) -> None:
        """Take from another process's ``run.plx.json`` what this state lacks: inputs, outputs and meta keys,
        tags, name, description and readme. Ours win where both have a value; statuses stay ours."""
        with self.lock:
            for attr in ("inputs", "outputs", "meta_info"):
                theirs = data.get(attr)
                if isinstance(theirs, dict):
                    ours: dict[str, Any] = getattr(self, attr)
                    for key, value in theirs.items():
                        ours.setdefault(key, value)
            self.tags.extend(t for t in data.get("tags") or [] if isinstance(t, str) and t not in self.tags)
            for attr in ("name", "description", "readme"):
                if getattr(self, attr) is None and isinstance(data.get(attr), str):
                    setattr(self, attr, data[attr])

    def add_tags(self, tags: Iterable[str]) -> bool:
        with self.lock:
            new = [t for t in tags if t not in self.tags]
            self.tags.extend(new)
            return bool(new)

    def patch_body(self, inputs: Iterable[str], outputs: Iterable[str], fields: Iterable[str]) -> dict[str, Any]:
        """The PATCH body for what changed (inputs/outputs merge; tags/name/description replace)."""
        with self.lock:
            body: dict[str, Any] = {}
            if inputs:
                body["inputs"] = {k: self.inputs[k] for k in inputs if k in self.inputs}
            if outputs:
                body["outputs"] = {k: self.outputs[k] for k in outputs if k in self.outputs}
            for name in fields:
                body[name] = list(self.tags) if name == "tags" else getattr(self, name)
            if body:
                body["merge"] = True
            return body

    def to_json(self) -> dict[str, Any]:
        """The run as ``run.plx.json`` and the server's ``runs/sync`` expect it."""
        with self.lock:
            duration = wait_time = None
            if self.started_at:
                wait_time = _seconds_between(self.created_at, self.started_at)
                if self.finished_at:
                    duration = _seconds_between(self.started_at, self.finished_at)
            data = {
                "uuid": self.uuid,
                "name": self.name,
                "description": self.description,
                "tags": list(self.tags),
                "owner": self.owner,
                "project": self.project,
                "created_at": self.created_at,
                "updated_at": now_iso(),
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "wait_time": wait_time,
                "duration": duration,
                "managed_by": "user",
                "is_managed": False,
                "status": self.status,
                "meta_info": dict(self.meta_info),
                "kind": "job",
                "runtime": "job",
                "inputs": dict(self.inputs),
                "outputs": dict(self.outputs),
                "status_conditions": [dict(c) for c in self.conditions],
            }
            if self.readme is not None:
                data["readme"] = self.readme
            return data


def _seconds_between(start: str, end: str) -> float | None:
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except (TypeError, ValueError):
        return None
