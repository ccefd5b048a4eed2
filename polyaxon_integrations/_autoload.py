"""``report_to="polyaxon"`` for anyone who has the package installed, at no start-up cost.

``polyaxon_integrations.pth`` (installed into site-packages beside the package) puts a
five-line finder on ``sys.meta_path`` when the interpreter starts; it imports nothing, not
even this module, and does one string comparison per import. When transformers imports
``transformers.integrations.integration_utils`` (the module holding its table of
``report_to`` names), the finder steps aside and calls :func:`find_spec` here, which lets
that module load as usual and then registers the adapter into the table.
``POLYAXON_INTEGRATIONS_AUTOLOAD=false`` turns the registration off (read then, so that
start-up reads no configuration at all).

A problem here never breaks transformers: it becomes one warning, and ``report_to="polyaxon"``
still works after ``import polyaxon_integrations.transformers``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["TARGET", "find_spec", "install", "uninstall"]

TARGET = "transformers.integrations.integration_utils"


def find_spec(fullname: str, path: Sequence[str] | None = None, target: Any = None) -> ModuleSpec | None:
    """The spec the other finders give for ``fullname``, its loader wrapped to register us once it has run."""
    for finder in list(sys.meta_path):
        if finder is _finder or type(finder).__name__ == "PolyaxonAutoload" or not hasattr(finder, "find_spec"):
            continue
        spec: ModuleSpec | None = finder.find_spec(fullname, path, target)
        if spec is not None:
            break
    else:
        return None
    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
        spec.loader = _Loader(spec.loader)  # type: ignore[assignment]  # duck-typed, see _Loader
    return spec


class _Loader:
    """The module's own loader, plus a registration once the module has run."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader...: the real loader's
        return getattr(self._loader, name)


def _register(module: ModuleType) -> None:
    try:
        from .core import env

        if env.read_bool(env.AUTOLOAD, True):
            from .transformers import register

            register(module)
    except Exception as exc:  # never the reason transformers cannot be imported
        import warnings

        warnings.warn(
            f"polyaxon-integrations could not register report_to='polyaxon' ({exc!r}); "
            "import polyaxon_integrations.transformers to register it.",
            stacklevel=2,
        )


class _Finder:
    """What the .pth line installs, for code that calls :func:`install` instead."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> ModuleSpec | None:
        if fullname != TARGET:
            return None
        uninstall()
        return find_spec(fullname, path, target)


_finder = _Finder()


def install() -> None:
    """Register when transformers loads its integrations (idempotent); at once if it already has."""
    module = sys.modules.get(TARGET)
    if module is not None:
        _register(module)
    elif _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
