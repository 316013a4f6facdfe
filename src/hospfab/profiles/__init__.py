"""Printer, material and process profiles (YAML files, pydantic models, ``inherits:``).

Names are loaded on first use, so ``ProfileStore.view`` can serve cached profiles without importing pydantic.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "MaterialProfile": "hospfab.profiles.models",
    "PrinterProfile": "hospfab.profiles.models",
    "ProcessProfile": "hospfab.profiles.models",
    "ProfileCheck": "hospfab.profiles.store",
    "ProfileEntry": "hospfab.profiles.store",
    "ProfileStore": "hospfab.profiles.store",
    "ProfileView": "hospfab.profiles.store",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hospfab.profiles' has no attribute {name!r}")
