"""Packaging is in pyproject.toml, but for one thing it cannot say: put ``polyaxon_integrations.pth`` at the
root of site-packages, beside the package, in regular and in editable installs. That one line lets
transformers accept ``report_to="polyaxon"`` for anyone who has the package installed, at no start-up
cost (see ``polyaxon_integrations/_autoload.py``); pip removes it again on uninstall (it is in RECORD).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "polyaxon_integrations.pth"
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "polyaxon_integrations", PTH)


class BuildPyWithPth(build_py):
    """Regular wheels: the .pth joins the build folder's root, which becomes site-packages."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.copy_file(SOURCE, os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


class EditableWheelWithPth(editable_wheel):
    """Editable installs: setuptools zips the folder ``unpacked_wheel`` into the editable wheel.

    ``_run_build_commands`` is setuptools' own step (>= 64) that fills that folder; should it ever be
    renamed, this override is simply not called and editable installs go without the .pth.
    """

    def _run_build_commands(self, dist_name: str, unpacked_wheel: str, *args: Any, **kwargs: Any) -> Any:
        result = super()._run_build_commands(dist_name, unpacked_wheel, *args, **kwargs)
        shutil.copy(SOURCE, os.path.join(unpacked_wheel, PTH))
        return result


setup(cmdclass={"build_py": BuildPyWithPth, "editable_wheel": EditableWheelWithPth})
