"""System resources for the run's Resources tab: host and process CPU/memory, disk and network, GPUs.

Names follow the official client (``cpu``, ``memory``, ``load``, ``gpu_<i>_utilization``,
``gpu_<i>_memory_used``, ``gpu_<i>_memory_free``) plus ``memory_used``, ``process_cpu``,
``process_memory_used`` and disk/network rates in MB/s. The UI formats a series by its
name: ``memory_(used|free|total)`` as bytes, ``utilization|percent|cpu|memory`` as percent.

``psutil`` (the ``system`` extra) and NVIDIA's ``pynvml`` (``nvidia-ml-py``) are optional
and imported here only, on the sampling thread; a probe that fails is dropped for the rest
of the run instead of failing every few seconds.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .guard import get_logger

__all__ = ["ResourceSampler", "gpu_probe", "import_optional"]

_MB = 1e6
Probe = Callable[[], dict[str, float]]


def import_optional(name: str) -> ModuleType | None:
    """The module, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except Exception:  # ImportError, or a broken install: either way there is nothing to sample with
        return None


def _psutil_probes(psutil: Any) -> dict[str, Probe]:
    process = psutil.Process()

    def host() -> dict[str, float]:
        memory = psutil.virtual_memory()
        return {
            "cpu": float(psutil.cpu_percent(None)),
            "memory": float(memory.percent),
            "memory_used": float(memory.total - memory.available),
        }

    def load() -> dict[str, float]:
        return {"load": float(os.getloadavg()[0])}

    def own() -> dict[str, float]:
        with process.oneshot():
            return {
                "process_cpu": float(process.cpu_percent(None)),
                "process_memory_used": float(process.memory_info().rss),
            }

    makers: dict[str, Callable[[], Probe]] = {
        "host": lambda: host,
        "process": lambda: own,
        "disk": lambda: _rates(psutil.disk_io_counters, "disk", ("read_bytes", "write_bytes"), ("read", "write")),
        "net": lambda: _rates(psutil.net_io_counters, "net", ("bytes_sent", "bytes_recv"), ("sent", "recv")),
    }
    if hasattr(os, "getloadavg"):
        makers["load"] = lambda: load
    probes = {}
    for name, make in makers.items():
        try:
            probe = make()
            probe()  # the first reading starts CPU percentages and rates; it must also work here at all
        except Exception as exc:  # e.g. no disk counters in this container: no series for it
            get_logger().debug("polyaxon-integrations: cannot sample %s here (%r)", name, exc)
            continue
        probes[name] = probe
    return probes


def _rates(read: Callable[[], Any], prefix: str, fields: tuple[str, str], labels: tuple[str, str]) -> Probe:
    """MB/s between two readings of a cumulative counter (nothing on the first reading)."""
    last: list[Any] = [read(), time.monotonic()]
    if last[0] is None:  # no disks/interfaces visible (some containers)
        raise OSError(f"no {prefix} counters")

    def probe() -> dict[str, float]:
        now, at = read(), time.monotonic()
        before, then = last
        last[:] = [now, at]
        elapsed = at - then
        if now is None or elapsed <= 0:
            return {}
        return {
            f"{prefix}_{label}_mb_s": max(0.0, (getattr(now, field) - getattr(before, field)) / elapsed / _MB)
            for field, label in zip(fields, labels, strict=True)
        }

    return probe


def gpu_probe(nvml: Any) -> Probe | None:
    """Utilization and memory of every NVIDIA GPU, or None when the library finds no driver or device."""
    try:
        nvml.nvmlInit()
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
    except Exception as exc:  # NVMLError: no driver, no device
        get_logger().debug("polyaxon-integrations: no GPU to sample (%r)", exc)
        return None
    if not handles:
        return None

    def probe() -> dict[str, float]:
        values = {}
        for index, handle in enumerate(handles):
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            values[f"gpu_{index}_utilization"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            values[f"gpu_{index}_memory_used"] = float(memory.used)
            values[f"gpu_{index}_memory_free"] = float(memory.free)
        return values

    return probe


class ResourceSampler:
    """Takes one sample of every available resource; built on the sampling thread (imports happen there)."""

    def __init__(self, psutil: Any = None, nvml: Any = None) -> None:
        self.probes: dict[str, Probe] = {}
        self._nvml = None
        if psutil is not None:
            try:
                self.probes.update(_psutil_probes(psutil))
            except Exception as exc:  # psutil.Process() itself failed
                get_logger().debug("polyaxon-integrations: psutil cannot sample here (%r)", exc)
        if nvml is not None:
            gpus = gpu_probe(nvml)
            if gpus is not None:
                self.probes["gpu"] = gpus
                self._nvml = nvml

    @classmethod
    def load(cls) -> ResourceSampler:
        """With whatever of ``psutil`` and ``pynvml`` is installed."""
        return cls(import_optional("psutil"), import_optional("pynvml"))

    def sample(self) -> dict[str, float]:
        values: dict[str, float] = {}
        for name, probe in list(self.probes.items()):
            try:
                values.update(probe())
            except Exception as exc:  # e.g. a GPU that fell off the bus: stop asking it
                get_logger().debug("polyaxon-integrations: stopped sampling %s (%r)", name, exc)
                del self.probes[name]
        return values

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
            self._nvml = None
