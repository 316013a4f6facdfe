"""Build hook: ship the checkout's ``profiles/`` inside the package as ``hospfab/_shipped/profiles``.

Everything else about the project is in ``pyproject.toml``. In a checkout (editable install) hospfab reads
``profiles/`` directly (``hospfab.settings.checkout_root``); an installed wheel reads the copy made here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("profiles",)  # run-time data folders copied into the package


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for name in SHIPPED:
            source = HERE / name
            if not (source / "printers").is_dir():
                raise SystemExit(f"build: {source} is missing; the wheel would ship without {name}")
            target = Path(self.build_lib) / "hospfab" / "_shipped" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))


setup(cmdclass={"build_py": BuildWithData})
