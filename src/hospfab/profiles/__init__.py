"""Printer, material and process profiles (YAML files, pydantic models, ``inherits:``)."""

from hospfab.profiles.models import MaterialProfile, PrinterProfile, ProcessProfile
from hospfab.profiles.store import ProfileCheck, ProfileEntry, ProfileStore

__all__ = [
    "MaterialProfile",
    "PrinterProfile",
    "ProcessProfile",
    "ProfileCheck",
    "ProfileEntry",
    "ProfileStore",
]
