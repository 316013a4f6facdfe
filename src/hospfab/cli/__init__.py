"""The ``hospfab`` command line: parses arguments, calls the library, renders results.

Each command group lives in its own module with a ``register(app)`` function. Heavy libraries (numpy,
trimesh, httpx) are imported inside the commands that need them, so ``hospfab --version`` stays fast.
"""

from __future__ import annotations

from hospfab.cli.app import app, main

__all__ = ["app", "main"]
