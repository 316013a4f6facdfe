"""Reading and atomically writing catalog files (YAML, JSON) with messages that name the file.

Catalog files are always written world-readable (0644): a catalog is shared read-only with every workstation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hospfab.errors import ConfigError
from hospfab.fileio import atomic_write_bytes, describe_validation_error, read_yaml_mapping

M = TypeVar("M", bound=BaseModel)
CATALOG_FILE_MODE = 0o644


def dump_yaml(model: BaseModel | dict[str, Any]) -> bytes:
    import yaml

    data = model.model_dump(mode="json", exclude_none=True) if isinstance(model, BaseModel) else model
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110).encode()


def write_yaml(path: Path, model: BaseModel | dict[str, Any]) -> None:
    atomic_write_bytes(path, dump_yaml(model), mode=CATALOG_FILE_MODE)


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, text.encode(), mode=CATALOG_FILE_MODE)


def load_model(path: Path, model: type[M]) -> M:
    """Load a YAML file into a pydantic model; errors name the file and the key."""
    data = read_yaml_mapping(path)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err, path, model=model, data=data)) from None


def sha256_file(path: Path) -> str:
    """sha256 of a regular file (a FIFO or device is refused without blocking: InputError)."""
    import hashlib
    import os

    from hospfab.fileio import open_regular

    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
